# Everything a fresh machine with Python 3.11 needs; each target sets up what it uses.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False

# llama-cpp-python compiles llama.cpp from source, for this machine's CPU: GGML_NATIVE (-march=native) uses
# every instruction set the CPU really has (AVX2; AVX-512 and VNNI where present) and none that it lacks.
# On x86 the AMX instructions are then taken away again: ggml's AMX matrix multiply segfaults at the first
# answer on recent Intel Xeons (ggml-org/llama.cpp#20824), and its AMX code is compiled only when the compiler
# targets AMX. GCC and clang let an explicit -mno-* win over -march, whatever the order.
LLAMA_VERSION := $(shell sed -n 's/.*"llama-cpp-python==\([0-9.]*\)".*/\1/p' pyproject.toml | head -n 1)
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=ON -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF
ifeq ($(shell uname -m),x86_64)
LLAMA_CFLAGS := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
endif
# A native build belongs to one CPU: other flags, another version or another CPU (a .venv copied to another
# machine) rebuild llama.cpp.
LLAMA_BUILD_ID := llama-cpp-python $(LLAMA_VERSION); $(LLAMA_CMAKE_ARGS); $(LLAMA_CFLAGS); cpu $(shell grep -m 1 -E '^(flags|Features)' /proc/cpuinfo | cksum | cut -d ' ' -f 1)

.PHONY: setup llama serve index test browser clean FORCE

setup: $(VENV)/.installed

# torch is installed first and pinned: the CPU build lies on local disk, a bare `torch` pulls CUDA.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0

# Rewritten only when its text changes, so that only a change of build (not every run) rebuilds llama.cpp.
$(VENV)/.llama-build-id: FORCE | $(BIN)/python
	@echo '$(LLAMA_BUILD_ID)' | cmp -s - $@ || echo '$(LLAMA_BUILD_ID)' > $@

# --no-cache-dir: pip's wheel cache keys a built wheel by version alone, so it would hand back a build made
# with other flags. The verbose log shows the compiler's command lines: the check below proves the flags
# reached the compiler.
$(VENV)/.llama-built: $(VENV)/.llama-build-id
	@echo "Compiling llama.cpp for this CPU (a few minutes; log in $(VENV)/llama-build.log)"
	CMAKE_ARGS='$(LLAMA_CMAKE_ARGS)' CFLAGS='$(LLAMA_CFLAGS)' CXXFLAGS='$(LLAMA_CFLAGS)' \
		$(BIN)/pip install -v --no-cache-dir --force-reinstall --no-deps 'llama-cpp-python==$(LLAMA_VERSION)' \
		> $(VENV)/llama-build.log 2>&1 || { tail -n 40 $(VENV)/llama-build.log; exit 1; }
	@test -z '$(LLAMA_CFLAGS)' || grep -q -e '-march=native.*-mno-amx-int8\|-mno-amx-int8.*-march=native' $(VENV)/llama-build.log \
		|| { echo "llama.cpp was not compiled with '$(LLAMA_CFLAGS)': see $(VENV)/llama-build.log"; exit 1; }
	touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.llama-built
	$(BIN)/pip install -q -e '.[test,e5]'
	touch $@

# Compile llama.cpp again, e.g. for a .venv whose llama-cpp-python was installed by hand.
llama:
	rm -f $(VENV)/.llama-built
	$(MAKE) setup

serve: setup
	$(BIN)/rag serve

index: setup
	$(BIN)/rag index

# Debian's Chromium for the browser tests (Playwright's own download does not work offline).
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

test: setup browser
	$(BIN)/python -m pytest -ra

clean:
	rm -rf $(VENV) .rag

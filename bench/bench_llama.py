"""Raw llama.cpp speed of the packaged chat model: prompt reading and generation, tokens per second.

Measures what the build flags of llama-cpp-python change and nothing else: no
retrieval, no grammar, no sampling. A prompt of ``--prompt-tokens`` tokens is
read from an empty cache (as in an answer, n_batch 512), then ``--gen-tokens``
tokens are decoded one at a time after it. Each run starts afresh; medians
over ``--runs``. Prints the compiled CPU features (llama.cpp's system info),
so a table says which build it measured.

    .venv/bin/python bench/bench_llama.py [--runs 5] [--model qwen2.5-coder-1.5b]
    .venv/bin/python bench/bench_llama.py --prompt-tokens 440 --option flash_attn=true --option n_ubatch=128
"""

from __future__ import annotations

import argparse
import statistics
import time

from common import REPO, load_average, markdown_table

TEXT = (REPO / "corpus" / "lyon-boston-accord.txt").read_text(encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="qwen2.5-coder-1.5b", help="packaged model name or GGUF path")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--prompt-tokens", type=int, default=512)
    parser.add_argument("--gen-tokens", type=int, default=64)
    parser.add_argument(
        "--option", action="append", default=[], metavar="NAME=VALUE",
        help="a llama_cpp.Llama argument to compare (flash_attn=true, n_ubatch=128, type_k=8); the model is "
        "then loaded with it instead of as the product loads it",
    )
    args = parser.parse_args()

    import llama_cpp

    from rag.llm import compiled_cpu_features, load_llama
    from rag.settings import Settings

    settings = Settings(llm_model=args.model)
    if args.option:
        from rag.packaged import resolve_gguf

        options = {name: _value(value) for name, value in (option.split("=", 1) for option in args.option)}
        llama = llama_cpp.Llama(
            model_path=str(resolve_gguf(args.model, settings.model_cache_dir)), n_ctx=settings.llm_context_tokens,
            n_batch=512, n_threads=settings.llm_threads, verbose=False, **options,
        )
    else:
        llama = load_llama(settings)
    tokens = llama.tokenize(TEXT.encode("utf-8"))
    while len(tokens) < args.prompt_tokens:
        tokens += tokens
    prompt = tokens[: args.prompt_tokens]
    next_token = llama.tokenize(b" Lyon", add_bos=False)[0]

    prompt_rates, gen_rates = [], []
    for _ in range(args.runs + 1):  # the first run warms caches and is not counted
        llama.reset()
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(llama.ctx), True)
        started = time.perf_counter()
        llama.eval(prompt)
        prompt_seconds = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(args.gen_tokens):
            llama.eval([next_token])
        gen_seconds = time.perf_counter() - started
        prompt_rates.append(len(prompt) / prompt_seconds)
        gen_rates.append(args.gen_tokens / gen_seconds)

    features = compiled_cpu_features()
    compared = f", options {' '.join(args.option)}" if args.option else ""
    print(f"model {args.model}, {settings.llm_threads} threads{compared}, load average {load_average()}")
    print("compiled: " + ", ".join(sorted(name for name, on in features.items() if on)))
    print(markdown_table(
        ["measure", "median tokens/s", "min", "max", "runs"],
        [
            [f"prompt reading ({len(prompt)} tokens)", f"{statistics.median(prompt_rates[1:]):.1f}",
             f"{min(prompt_rates[1:]):.1f}", f"{max(prompt_rates[1:]):.1f}", args.runs],
            [f"generation ({args.gen_tokens} tokens)", f"{statistics.median(gen_rates[1:]):.1f}",
             f"{min(gen_rates[1:]):.1f}", f"{max(gen_rates[1:]):.1f}", args.runs],
        ],
    ))


def _value(text: str):
    """A command-line value as the Python value llama_cpp.Llama expects."""
    return {"true": True, "false": False}.get(text.lower(), int(text) if text.lstrip("-").isdigit() else text)


if __name__ == "__main__":
    main()

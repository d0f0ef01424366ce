"""Answer latency, product against baseline: time to first token and whole-answer time.

Both pipelines run side by side in one process over the same corpus, with the
same embedding and chat model (loaded once, shared). The product
(``Chatbot.stream``) answers every question, then the baseline
(bench/baseline.py) does, as a server running only that pipeline would: each
keeps llama.cpp's cached state for its fixed prompt prefix from one question to
the next. One warm-up question each is not counted. The baseline ignores ``history``.

    .venv/bin/python bench/bench_answers.py --limit 6
    RAG_LLM_MODEL=qwen2.5-coder-0.5b .venv/bin/python bench/bench_answers.py
    RAG_PASSAGE_CACHE=all .venv/bin/python bench/bench_answers.py   # every passage from its stored state
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from common import DEV_QUESTIONS, REPO, load_average, markdown_table, p50_p95

from baseline import BaselineRAG  # noqa: E402
from rag import Chatbot  # noqa: E402
from rag.evaluation import load_questions  # noqa: E402


def timed(pieces) -> tuple[float, float, str]:
    """(seconds to the first non-empty piece, seconds to the end, whole text) of a stream."""
    started = time.perf_counter()
    first, text = None, ""
    for piece in pieces:
        if piece and first is None:
            first = time.perf_counter() - started
        text += piece
    total = time.perf_counter() - started
    return (total if first is None else first), total, text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=REPO / "corpus", help="documents folder (default: ./corpus)")
    parser.add_argument("--questions", type=Path, help="JSONL questions (default: eval/dev.jsonl)")
    parser.add_argument("--limit", type=int, help="ask only the first N questions")
    parser.add_argument("--verbose", action="store_true", help="print every answer")
    args = parser.parse_args()
    questions = load_questions(args.questions or DEV_QUESTIONS)[: args.limit]

    with tempfile.TemporaryDirectory() as data:
        bot = Chatbot(corpus_dir=args.corpus, data_dir=Path(data) / "product")
        bot.index()
        baseline = BaselineRAG(args.corpus, Path(data) / "baseline", bot.settings)
        pipelines = {
            "product": lambda question, history: bot.stream(question, history),
            "baseline": lambda question, history: baseline.stream(question),
        }
        results = {name: ([], []) for name in pipelines}
        loads = [load_average()]
        for name, ask in pipelines.items():
            timed(ask(questions[0].q, []))
            for question in questions:
                first, total, text = timed(ask(question.q, question.history))
                results[name][0].append(first)
                results[name][1].append(total)
                if args.verbose:
                    print(f"{name} {first:.2f}s {total:.2f}s {question.q!r} -> {text!r}", flush=True)
        loads.append(load_average())

    rows = []
    base_first, base_total = (p50_p95(values) for values in results["baseline"])
    for name, (firsts, totals) in results.items():
        first, total = p50_p95(firsts), p50_p95(totals)
        rows.append([name, len(firsts), *(f"{v:.2f}" for v in first), *(f"{v:.2f}" for v in total),
                     f"{first[0] / base_first[0]:.2f}", f"{total[0] / base_total[0]:.2f}"])
    print(f"chat model {bot.settings.llm_model}, {bot.settings.llm_threads} threads, passage cache "
          f"{bot.settings.passage_cache}; load average before/after: "
          f"{loads[0]} / {loads[1]}; peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    print(markdown_table(
        ["pipeline", "questions", "first token p50 (s)", "p95", "whole answer p50 (s)", "p95",
         "first token ÷ baseline", "whole answer ÷ baseline"], rows))


if __name__ == "__main__":
    main()

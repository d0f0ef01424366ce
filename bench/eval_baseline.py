"""The baseline (LangChain's tutorial pipeline) judged by ``rag eval``'s own rules.

Indexes the corpus with the tutorial splitter into a temporary Chroma store,
asks every question through ``BaselineRAG.ask`` and prints the same per-question
lines and summary as ``rag eval``, for a before/after comparison with the product.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from common import DEV_QUESTIONS, REPO, load_average

from baseline import BaselineRAG  # noqa: E402
from rag.evaluation import evaluate, format_result, format_summary, load_questions  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("questions", type=Path, nargs="?", default=DEV_QUESTIONS, help="JSONL question set")
    parser.add_argument("--corpus", type=Path, default=REPO / "corpus", help="documents folder")
    parser.add_argument("--json", type=Path, help="also write the report as JSON to this file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as data:
        baseline = BaselineRAG(args.corpus, Path(data))
        report = evaluate(
            baseline, load_questions(args.questions), on_result=lambda r: print(format_result(r), flush=True),
            languages=baseline.languages,
        )
    print(format_summary(report))
    print(f"load average: {load_average()}")
    if args.json:
        args.json.write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()

"""Choose ``abstain_threshold`` from one evaluation run on a tuning split.

Run ``rag eval SET --json`` with ``RAG_ABSTAIN_THRESHOLD=1.01`` (the model always answers, and each result
records the probability it gave NONE). With a threshold t, a question whose probability is ≥ t is refused and
every other one gets exactly the answer of that run, so one run tells the score of every t:

    RAG_ABSTAIN_THRESHOLD=1.01 rag eval eval/press-tune.jsonl --corpus eval/press --data .rag-press --json > tune.json
    .venv/bin/python bench/calibrate_abstention.py tune.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

THRESHOLDS = [round(0.05 * step, 2) for step in range(2, 20)] + [0.97, 0.99, 1.01]


def scores(results: list[dict], threshold: float) -> tuple[int, int]:
    """(answerable correct, unanswerable refused) if questions with P(NONE) ≥ threshold were refused."""
    answerable = refused = 0
    for result in results:
        abstains = (result["no_answer_probability"] or 0.0) >= threshold
        if result["answerable"]:
            answerable += result["passed"] and not abstains
        else:
            refused += result["passed"] or abstains
    return answerable, refused


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("reports", type=Path, nargs="+", help="rag eval --json reports of runs at threshold 1.01")
    args = parser.parse_args()
    results = [r for path in args.reports for r in json.loads(path.read_text(encoding="utf-8"))["results"]]
    total_answerable = sum(r["answerable"] for r in results)
    total_unanswerable = len(results) - total_answerable
    print("| threshold | answerable correct | unanswerable refused | both |\n| --- | --- | --- | --- |")
    for threshold in THRESHOLDS:
        answerable, refused = scores(results, threshold)
        print(f"| {threshold} | {answerable}/{total_answerable} | {refused}/{total_unanswerable} | {answerable + refused} |")
    for result in sorted(results, key=lambda r: r["no_answer_probability"] or 0.0):
        kind = "answerable" if result["answerable"] else "unanswerable"
        print(f"{result['no_answer_probability'] or 0.0:.3f} {kind:12} {'PASS' if result['passed'] else 'FAIL'} {result['id']}")


if __name__ == "__main__":
    main()

"""Compare two `rag eval --json` runs of one question set: is the difference more than chance?

Prints each share before and after with its 95 % interval, the questions that went from fail to pass and
back, how many answers changed, and the exact two-sided sign test on the questions that changed (McNemar's
test for paired runs). Small sets move by a few answers whenever the prompt's passages move, so a change is
worth keeping on its measured gain only when that test says it is unlikely to be chance. Given several pairs
of runs (one per question set), it also tests them pooled. `--held-out` prints counts only, so that nobody
learns which questions of a held-out set moved.

    .venv/bin/python bench/compare_evals.py before-tune.json after-tune.json
    .venv/bin/python bench/compare_evals.py before-tune.json after-tune.json before-dev.json after-dev.json
    .venv/bin/python bench/compare_evals.py before-check.json after-check.json --held-out
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from common import REPO  # noqa: F401  (puts the repository on the path)

from rag.evaluation import Comparison, compare, format_share, pool  # noqa: E402

SHARES = ["answerable_correct", "unanswerable_refused", "language_match", "citation_hit"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, nargs="+", metavar="BEFORE AFTER", help="rag eval --json outputs: "
                        "the first and the second run of a question set, for one set or more")
    parser.add_argument("--held-out", action="store_true", help="print counts only, no question ids")
    args = parser.parse_args()
    if len(args.runs) % 2:
        parser.error("give the runs in pairs: BEFORE AFTER [BEFORE AFTER ...]")

    comparisons = []
    for before_path, after_path in zip(args.runs[::2], args.runs[1::2]):
        print(f"== {before_path} -> {after_path}")
        before, after = (json.loads(path.read_text(encoding="utf-8")) for path in (before_path, after_path))
        try:
            comparisons.append(compare(before["results"], after["results"]))
        except ValueError as error:
            parser.error(f"{before_path} and {after_path}: {error}")
        for key in SHARES:
            print(f"{key.replace('_', ' ')}: {format_share(*before['summary'][key])} -> "
                  f"{format_share(*after['summary'][key])}")
        for key in ("latency_p50_s", "latency_p95_s"):
            print(f"{key.replace('_', ' ')}: {before['summary'][key]} -> {after['summary'][key]}")
        print_changes(comparisons[-1], args.held_out)
    if len(comparisons) > 1:
        print("== pooled")
        print_changes(pool(comparisons), args.held_out)


def print_changes(comparison: Comparison, held_out: bool) -> None:
    print(f"questions: {comparison.questions}; answers changed: {comparison.changed_answers}")
    if not comparison.gained and not comparison.lost:
        print("no question went from fail to pass or back")
        return
    for label, ids in (("fail -> pass", comparison.gained), ("pass -> fail", comparison.lost)):
        print(f"{label}: {len(ids)}" + ("" if held_out or not ids else f" ({', '.join(ids)})"))
    verdict = "unlikely to be chance" if comparison.p_value < 0.05 else "within chance"
    print(f"sign test on the changed questions: p = {comparison.p_value:.3f} ({verdict})")


if __name__ == "__main__":
    main()

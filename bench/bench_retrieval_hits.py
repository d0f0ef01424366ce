"""Does retrieval find the documents that hold each answer? No chat model is run.

For each answerable question of a set that names its documents (``docs``), the passages the chat model would
get (``Chatbot.retrieve``) are checked: every answer document among them ("all documents"), and the first
passage from one of them ("first"). Run it on a tuning split only; the check split is for reporting.

    .venv/bin/python bench/bench_retrieval_hits.py eval/press-tune.jsonl --corpus eval/press
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import REPO, load_average, load_questions

from rag import Chatbot  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("questions", type=Path)
    parser.add_argument("--corpus", type=Path, default=REPO / "eval" / "press")
    parser.add_argument("--top-k", type=int, default=4)
    parser.add_argument("-v", "--verbose", action="store_true", help="print each miss")
    args = parser.parse_args()

    questions = [q for q in load_questions(args.questions) if q["answerable"] and q.get("docs")]
    with tempfile.TemporaryDirectory() as data:
        bot = Chatbot(corpus_dir=args.corpus, data_dir=Path(data), top_k=args.top_k)
        bot.index(progress=False)
        all_found = first_found = 0
        for question in questions:
            sources = bot.retrieve(question["q"], [tuple(turn) for turn in question.get("history", [])])
            documents = [source.document for source in sources]
            wanted = set(question["docs"])
            all_found += wanted <= set(documents)
            first_found += bool(documents) and documents[0] in wanted
            if args.verbose and not wanted <= set(documents):
                print(f"miss {question['id']}: wanted {sorted(wanted)}, got {documents}")
    total = len(questions)
    print(f"{args.questions.name}, top_k {args.top_k}: all documents {all_found}/{total}, first {first_found}/{total}")
    print(f"load average: {load_average()}")


if __name__ == "__main__":
    main()

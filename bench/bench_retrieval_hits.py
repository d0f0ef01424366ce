"""Does retrieval find what answers each question? No chat model is run.

For each answerable question, the passages the chat model would get (``Chatbot.retrieve``) are checked: the
answer in them (every ``must`` group of the question matched in the passages, as ``rag eval`` judges an
answer, but groups that the answer's documents do not hold: a yes, a no, an English word for a French
document's), every answer document among them ("all documents", for sets that name their ``docs``), and the
first passage from one of them ("first"). ``--rrf-k`` compares constants of the rank fusion. Run it on tuning
sets only; the check split is for reporting.

    .venv/bin/python bench/bench_retrieval_hits.py eval/press-tune.jsonl --corpus eval/press --rrf-k 60 8
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import REPO, load_average

from rag import Chatbot, retrieval  # noqa: E402
from rag.evaluation import holds_evidence, load_questions  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("questions", type=Path)
    parser.add_argument("--corpus", type=Path, default=REPO / "eval" / "press")
    parser.add_argument("--top-k", type=int, default=4)
    parser.add_argument("--rrf-k", type=int, nargs="+", default=[retrieval.RRF_K], help="fusion constants to compare")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each miss")
    args = parser.parse_args()

    questions = [question for question in load_questions(args.questions) if question.answerable]
    with tempfile.TemporaryDirectory() as data:
        bot = Chatbot(corpus_dir=args.corpus, data_dir=Path(data), top_k=args.top_k)
        bot.index(progress=False)
        document_text = {path: bot.retriever.document_text(path) for path in bot.retriever.lexical.by_document}
        for rrf_k in args.rrf_k:
            retrieval.RRF_K = rrf_k
            answer_found = all_found = first_found = named = 0
            for question in questions:
                sources = bot.retrieve(question.q, question.history)
                passages = "\n".join(source.labelled for source in sources)
                # A group that the answer's documents (or, unnamed, all documents) do not hold is the answer's
                # wording ("yes", "no", an English word for a French document's), not a fact to retrieve.
                answer_text = "\n".join(document_text.get(path, "") for path in question.docs or document_text)
                facts = [group for group in question.must if holds_evidence(group, answer_text)]
                found = all(holds_evidence(group, passages) for group in facts)
                answer_found += found
                if args.verbose and not found:
                    print(f"answer not in the passages: {question.id}")
                if wanted := set(question.docs):
                    documents = [source.document for source in sources]
                    named += 1
                    all_found += wanted <= set(documents)
                    first_found += bool(documents) and documents[0] in wanted
            documents = f", all documents {all_found}/{named}, first {first_found}/{named}" if named else ""
            print(f"{args.questions.name}, top_k {args.top_k}, rrf_k {rrf_k}: answer in the passages "
                  f"{answer_found}/{len(questions)}{documents}")
    print(f"load average: {load_average()}")


if __name__ == "__main__":
    main()

"""The ``rag`` command: index the corpus, ask questions, evaluate, serve the web UI."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import traceback
from pathlib import Path

EPILOG = """Settings can also come from RAG_* environment variables or a rag.toml file
(see README). Examples:
  rag index                      index new and changed documents in ./corpus
  rag index --watch              keep indexing as files change
  rag ask "Qui a signé l'accord ?"
  rag eval questions.jsonl --json
  rag serve --port 7860          the chat web UI on http://127.0.0.1:7860
  rag serve --watch              the web UI, re-indexing as files change
"""


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--corpus", type=Path, help="documents folder (default: ./corpus)")
    common.add_argument("--data", type=Path, help="store folder (default: ./.rag)")
    common.add_argument("-v", "--verbose", action="store_true", help="log what happens")

    parser = argparse.ArgumentParser(
        prog="rag",
        description="Bilingual (French/English) question answering over a folder of press documents, offline.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    index = commands.add_parser("index", parents=[common], help="index new, changed and deleted documents")
    index.add_argument("--watch", action="store_true", help="keep running and re-index when files change")

    ask = commands.add_parser("ask", parents=[common], help="answer one question and show its sources")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")

    evaluate = commands.add_parser("eval", parents=[common], help="run a question set and report quality")
    evaluate.add_argument("questions", type=Path, help="JSONL question set (see README)")
    evaluate.add_argument("--json", action="store_true", help="print the results as JSON")

    serve = commands.add_parser("serve", parents=[common], help="start the chat web UI")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    serve.add_argument("--watch", action="store_true", help="also re-index when files change, in this process")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    try:
        return COMMANDS[args.command](args)
    except (ValueError, OSError, RuntimeError) as error:  # a file or folder that cannot be used, say so in a line
        if args.verbose:
            traceback.print_exc()
        print(f"rag: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _chatbot(args):
    from rag import Chatbot

    return Chatbot(corpus_dir=args.corpus, data_dir=args.data)


def run_index(args) -> int:
    bot = _chatbot(args)
    print(bot.index().summary())
    if args.watch:
        from rag.watch import watch_corpus

        watch_corpus(bot, on_report=lambda report: print(report.summary(), flush=True))
    return 0


def run_ask(args) -> int:
    bot = _chatbot(args)
    if args.json:
        from dataclasses import asdict

        print(json.dumps(asdict(bot.ask(args.question)), ensure_ascii=False, indent=2))
        return 0
    answer = None
    for answer in bot.stream_answers(args.question):
        pass
    print(answer.text)
    if not answer.answered and answer.explanation:
        print(answer.explanation)
    if args.verbose:
        print(_why(answer), file=sys.stderr)
    if answer.answered:
        print()
        for number, source in enumerate(answer.sources, start=1):
            excerpt = " ".join(source.text.split())
            print(f"[{number}] {source.document} (relevance {source.score:.2f}): {excerpt[:160]}…")
    return 0


def _why(answer) -> str:
    """What the checks did: the check that refused the answer, the repairs asked, the model calls."""
    steps = [f"refused by check '{answer.check}': {answer.reason}"] if answer.check else []
    steps += [f"repaired ({repair})" for repair in answer.repairs]
    return f"[{answer.model_calls} model call(s); {'; '.join(steps) or 'every check passed'}]"


def run_eval(args) -> int:
    from rag.evaluation import document_languages, evaluate, format_result, format_summary, load_questions

    bot = _chatbot(args)
    questions = load_questions(args.questions)
    progress = sys.stderr if args.json else sys.stdout
    print(f"Index: {bot.index().summary()}", file=progress, flush=True)  # the corpus as it is now, as `rag index`
    started = time.perf_counter()
    bot.warm_up()  # as `rag serve` does before its first user: the answers' times are those of answers alone
    print(f"Models ready in {time.perf_counter() - started:.1f} s", file=progress, flush=True)
    report = evaluate(
        bot, questions, on_result=lambda result: print(format_result(result), file=progress, flush=True),
        languages=document_languages(bot.documents()),
    )
    print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) if args.json else "\n" + format_summary(report))
    return 0


def run_serve(args) -> int:
    from ui.app import serve

    bot = _chatbot(args)
    if args.watch:  # the watcher shares this process's store (an embedded store allows one process)
        import threading

        from rag.watch import watch_corpus

        def print_report(report) -> None:
            print(f"Index: {report.summary()}", flush=True)

        threading.Thread(target=watch_corpus, args=(bot, print_report), daemon=True, name="watcher").start()
    serve(bot, host=args.host, port=args.port)
    return 0


COMMANDS = {"index": run_index, "ask": run_ask, "eval": run_eval, "serve": run_serve}

if __name__ == "__main__":
    sys.exit(main())

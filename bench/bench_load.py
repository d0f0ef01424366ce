"""Several users at once: concurrent chat clients through gradio_client against the served app.

Starts the app on a free 127.0.0.1 port (as `rag serve` does) over a temporary copy of the corpus, then
runs N client threads, each asking its questions through the `/chat` API. Reports errors and latency
percentiles; requests queue in Gradio rather than running at once. Loopback only, bounded in count.

    python bench/bench_load.py --clients 8 --questions 1
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import DEV_QUESTIONS, REPO, free_port, load_average, markdown_table, p50_p95


def ask_all(url: str, questions: list[str]) -> list[tuple[float, str | None]]:
    """(seconds, error or None) for each question, asked one after the other by one client."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    outcomes = []
    for question in questions:
        started = time.perf_counter()
        try:
            reply = client.predict(question, api_name="/chat")
            error = None if reply.get("answer") else "empty answer"
        except Exception as failure:  # noqa: BLE001 - counted and reported
            error = f"{type(failure).__name__}: {failure}"
        outcomes.append((time.perf_counter() - started, error))
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--questions", type=int, default=1, help="questions per client (default 1)")
    args = parser.parse_args()

    from rag import Chatbot
    from rag.evaluation import load_questions
    from ui.app import serve

    workdir = Path(tempfile.mkdtemp(prefix="rag-load-"))
    shutil.copytree(REPO / "corpus", workdir / "corpus")
    bot = Chatbot(corpus_dir=workdir / "corpus", data_dir=workdir / "data")
    app = serve(bot, host="127.0.0.1", port=free_port(), prevent_thread_lock=True, quiet=True)
    dev = [question.q for question in load_questions(DEV_QUESTIONS)]
    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            batches = [[dev[(c + i) % len(dev)] for i in range(args.questions)] for c in range(args.clients)]
            outcomes = [o for result in pool.map(lambda qs: ask_all(app.local_url, qs), batches) for o in result]
        wall = time.perf_counter() - started
    finally:
        app.close()
        shutil.rmtree(workdir, ignore_errors=True)

    errors = [error for _, error in outcomes if error]
    p50, p95 = p50_p95([seconds for seconds, _ in outcomes])
    print(markdown_table(
        ["clients", "requests", "errors", "p50 (s)", "p95 (s)", "wall (s)", "load average"],
        [[args.clients, len(outcomes), len(errors), f"{p50:.1f}", f"{p95:.1f}", f"{wall:.1f}", load_average()]],
    ))
    for error in errors:
        print("error:", error)


if __name__ == "__main__":
    main()

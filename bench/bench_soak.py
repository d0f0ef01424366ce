"""Soak: users asking through the web API while the corpus changes under a watcher, then indexers killed.

1. ``rag serve --watch`` (embedded store, indexing in the serving process) on a copy of
   ``eval/corpus``. ``--clients`` gradio_client users ask ``--questions`` questions in all, while a
   writer adds, edits and deletes documents every few seconds. Counted: errors, and citations of a
   passage that no version of its document held while the question was being answered (deleted or
   outdated). Then the store is compared with the corpus: every passage of every file, nothing else.
2. ``--kills`` rounds of: change the corpus, start ``rag index``, ``kill -9`` it at a random moment.
   A last ``rag index`` must leave the store exactly equal to the corpus.

Loopback only; it stops by itself (every loop is bounded in count and time).

    .venv/bin/python bench/bench_soak.py [--clients 4] [--questions 200] [--kills 10]
"""

from __future__ import annotations

import argparse
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import REPO, free_port, load_average, p50_p95

RAG = [sys.executable, "-m", "rag.cli"]
# Asked beside the distractor set's questions: facts of the documents the soak itself writes.
CHANGING_FACTS = [
    "Combien de places compte le parking relais numéro {n} ?",
    "How many spaces does park-and-ride number {n} have?",
]


def fact(n: int, version: int) -> str:
    return (f"Parking relais {n}\n\nLe parking relais numéro {n} de la Métropole compte {100 + version} places "
            f"et ouvrira au printemps, selon la version {version} de ce communiqué.\n")


def extracted_text(path: Path) -> str:
    from rag.documents import load_file

    return load_file(path, path.name).page_content


class Writer:
    """Adds, edits and deletes small documents; keeps every version of every document with its time span, as
    the text the product extracts from it (an HTML page's passages are not in its markup)."""

    def __init__(self, corpus: Path, rng: random.Random):
        self.corpus, self.rng = corpus, rng
        self.history: dict[str, list[tuple[float, float, str]]] = {}  # document -> (from, until, text)
        for path in corpus.iterdir():
            self.history[path.name] = [(0.0, float("inf"), extracted_text(path))]
        self.stop = threading.Event()
        self.changes = 0

    def _close(self, name: str, at: float) -> None:
        start, _, text = self.history[name][-1]
        self.history[name][-1] = (start, at, text)

    def step(self) -> None:
        live = [name for name in self.history if name.startswith("parking-") and self.history[name][-1][1] == float("inf")]
        action = self.rng.choice(["add", "edit", "delete"] if live else ["add"])
        now = time.time()
        name = f"parking-{self.changes}.txt" if action == "add" else self.rng.choice(live)
        if action == "delete":
            (self.corpus / name).unlink()
            self._close(name, now)
        else:
            text = fact(int(name.split("-")[1].split(".")[0]), self.changes)
            (self.corpus / name).write_text(text, encoding="utf-8")
            if name in self.history:
                self._close(name, now)
            self.history.setdefault(name, []).append((now, float("inf"), extracted_text(self.corpus / name)))
        self.changes += 1

    def run(self, every_s: float) -> None:
        while not self.stop.wait(every_s):
            self.step()

    def held(self, document: str, passage: str, start: float, end: float) -> bool:
        """Whether some version of ``document`` current during [start, end] holds ``passage``."""
        squeeze = " ".join(passage.split())
        return any(
            squeeze in " ".join(text.split())
            for since, until, text in self.history.get(document, [])
            if since <= end and until >= start
        )


def store_matches_corpus(corpus: Path, data: Path) -> tuple[bool, str]:
    """(equal, detail): the stored passages against those of the files on disk now."""
    from rag import Chatbot
    from rag.chunking import split_documents
    from rag.documents import corpus_files, load_file
    from rag.store import all_passages

    bot = Chatbot(corpus_dir=corpus, data_dir=data)
    stored = sorted((p.metadata["source"], p.page_content) for p in all_passages(bot.store))
    documents = [load_file(path, path.relative_to(corpus).as_posix()) for path in corpus_files(corpus)]
    on_disk = sorted({(p.metadata["source"], p.page_content)
                      for p in split_documents(documents, bot.settings.chunk_size, bot.settings.chunk_min)})
    return stored == on_disk, f"{len(stored)} stored, {len(on_disk)} on disk"


def soak(args, work: Path) -> None:
    from gradio_client import Client

    from rag.evaluation import load_questions

    questions = [question.q for question in load_questions(REPO / "eval" / "distractors.jsonl")] + CHANGING_FACTS

    corpus, data = work / "corpus", work / "data"
    shutil.copytree(REPO / "eval" / "corpus", corpus)
    port = free_port()
    log = (work / "serve.log").open("w")
    server = subprocess.Popen([*RAG, "serve", "--watch", "--port", str(port), "--corpus", str(corpus),
                               "--data", str(data)], stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    rng = random.Random(args.seed)
    writer = Writer(corpus, rng)
    results = []
    try:
        url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 300
        while "Running on" not in (work / "serve.log").read_text():
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("rag serve did not start: " + (work / "serve.log").read_text()[-2000:])
            time.sleep(1)
        threading.Thread(target=writer.run, args=(args.change_every_s,), daemon=True).start()

        def ask(number: int) -> dict:
            client = Client(url, verbose=False)
            question = rng.choice(questions).format(n=rng.randrange(max(1, writer.changes)))
            start = time.time()
            try:
                reply = client.predict(question, api_name="/chat")
            except Exception as error:  # noqa: BLE001 - counted, not raised
                return {"error": f"{type(error).__name__}: {error}", "seconds": time.time() - start}
            end = time.time()
            stale = [s["document"] for s in reply["sources"]
                     if not writer.held(s["document"], s["passage"], start, end)]
            return {"error": None, "stale": stale, "seconds": end - start}

        started = time.monotonic()
        with ThreadPoolExecutor(args.clients) as pool:
            results = list(pool.map(ask, range(args.questions), timeout=args.max_minutes * 60))
        wall = time.monotonic() - started
    finally:
        writer.stop.set()
        time.sleep(5)  # the watcher's last run
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
    errors = [r["error"] for r in results if r["error"]]
    stale = sum(len(r.get("stale") or []) for r in results)
    p50, p95 = p50_p95([r["seconds"] for r in results])
    equal, detail = store_matches_corpus(corpus, data)
    print(f"soak: {len(results)} questions by {args.clients} clients in {wall:.0f} s while {writer.changes} "
          f"changes were made; errors {len(errors)}, citations of deleted or outdated passages {stale}; "
          f"answer p50 {p50:.1f} s, p95 {p95:.1f} s; store equals corpus after the watcher: {equal} ({detail})")
    for error in errors[:5]:
        print("  error:", error)


def kills(args, work: Path) -> None:
    corpus, data = work / "kill-corpus", work / "kill-data"
    shutil.copytree(REPO / "eval" / "corpus", corpus)
    rng = random.Random(args.seed + 1)
    subprocess.run([*RAG, "index", "--corpus", str(corpus), "--data", str(data)], check=True, capture_output=True)
    killed = 0
    for round_number in range(args.kills):
        for n in rng.sample(range(60), 20):  # adds, edits and deletes twenty documents
            path = corpus / f"note-{n}.txt"
            if path.exists() and rng.random() < 0.4:
                path.unlink()
            else:
                path.write_text(fact(n, round_number) * rng.randint(10, 60), encoding="utf-8")
        process = subprocess.Popen([*RAG, "index", "--corpus", str(corpus), "--data", str(data)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(1.0, 6.0))  # the process starts in ~3 s, then indexes for a few seconds
        if process.poll() is None:
            process.kill()
            killed += 1
        process.wait()
    subprocess.run([*RAG, "index", "--corpus", str(corpus), "--data", str(data)], check=True, capture_output=True)
    equal, detail = store_matches_corpus(corpus, data)
    print(f"kill -9: {killed} of {args.kills} index runs killed part-way; after one more run the store equals "
          f"the corpus: {equal} ({detail})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--change-every-s", type=float, default=3.0)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--max-minutes", type=float, default=60)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(f"load average before: {load_average()}")
    with tempfile.TemporaryDirectory(prefix="rag-soak-") as folder:
        kills(args, Path(folder))
        soak(args, Path(folder))
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()

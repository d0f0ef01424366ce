"""Cold start and peak memory: process start to first answer, for ``rag ask`` and ``rag serve``.

The corpus is indexed once beforehand, so start-up does not include
indexing. ``rag ask`` is timed from process start to exit (it prints the
whole answer); ``rag serve`` from process start to the first answer from its
``/chat`` API. Peak RSS is the answering process's high-water mark. A third
run of one process times each start-up stage (imports, models, first answer).
Each is timed on a first start (no llama.cpp states stored in the data folder
yet) and on later starts (the states the earlier runs stored are placed).

    .venv/bin/python bench/bench_startup.py --runs 2
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, free_port, load_average, markdown_table, p50_p95

RAG = [sys.executable, "-m", "rag.cli"]
QUESTION = "Qui est le maire de Boston ?"
STAGES = """
import sys, time; started = time.perf_counter()
def stage(name): print(f"{name}\t{time.perf_counter() - started:.2f}", flush=True)
from rag import Chatbot; stage("import rag")
corpus, data, question = sys.argv[1:]
bot = Chatbot(corpus_dir=corpus, data_dir=data)
bot.warm_up(); stage("warm_up(): models loaded, instructions read by the chat model, lexical index built")
bot.ask(question); stage("first answer")
bot.ask(question); stage("second answer, same question")
"""


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cold_ask(corpus: Path, data: Path) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of ``rag ask`` from process start to exit."""
    started = time.perf_counter()
    process = subprocess.Popen([*RAG, "ask", QUESTION, "--corpus", str(corpus), "--data", str(data)],
                               stdout=subprocess.DEVNULL, cwd=REPO)
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise RuntimeError(f"rag ask exited with {os.waitstatus_to_exitcode(status)}")
    return time.perf_counter() - started, usage.ru_maxrss / 1024


def cold_serve(corpus: Path, data: Path, timeout_s: float = 300) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of ``rag serve`` from process start to its first answer."""
    from gradio_client import Client

    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen([*RAG, "serve", "--port", str(port), "--corpus", str(corpus), "--data", str(data)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
    try:
        while True:
            if process.poll() is not None or time.perf_counter() - started > timeout_s:
                raise RuntimeError("rag serve did not answer")
            try:
                Client(f"http://127.0.0.1:{port}/", verbose=False).predict(QUESTION, api_name="/chat")
                return time.perf_counter() - started, peak_rss_mb(process.pid)
            except Exception:  # noqa: BLE001 - not listening yet
                time.sleep(0.5)
    finally:
        process.terminate()
        process.wait(timeout=30)


def stages(corpus: Path, data: Path) -> list[list[str]]:
    output = subprocess.run([sys.executable, "-c", STAGES, str(corpus), str(data), QUESTION],
                            capture_output=True, text=True, check=True, cwd=REPO).stdout
    return [line.split("\t") for line in output.splitlines() if "\t" in line]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=REPO / "corpus", help="documents folder (default: ./corpus)")
    parser.add_argument("--runs", type=int, default=2, help="cold starts of each kind")
    parser.add_argument("--no-ui", action="store_true", help="skip `rag serve`")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as data:
        subprocess.run([*RAG, "index", "--corpus", str(args.corpus), "--data", data], check=True, cwd=REPO,
                       stdout=subprocess.DEVNULL)
        kinds = {"rag ask": cold_ask} | ({} if args.no_ui else {"rag serve, first /chat answer": cold_serve})
        states = Path(data) / "llama-states"
        rows = []
        for name, run in kinds.items():
            for start, runs in (("first start", 1), ("later start", args.runs)):
                if start == "first start":
                    shutil.rmtree(states, ignore_errors=True)
                results = [run(args.corpus, Path(data)) for _ in range(runs)]
                seconds, rss = p50_p95([s for s, _ in results]), max(r for _, r in results)
                rows.append([name, start, runs, f"{seconds[0]:.1f}", f"{max(s for s, _ in results):.1f}", f"{rss:.0f}",
                             load_average()])
        print(markdown_table(
            ["process", "stored states", "runs", "start to answer p50 (s)", "max (s)", "peak RSS (MB)", "load average"], rows
        ))
        for start in ("first start", "later start"):
            if start == "first start":
                shutil.rmtree(states, ignore_errors=True)
            print()
            print(markdown_table([f"stage (one process, {start})", "seconds since start"], stages(args.corpus, Path(data))))
        print(f"\nStored states: {sum(f.stat().st_size for f in states.rglob('*.state')) / 2**20:.1f} MB in "
              f"{len(list(states.rglob('*.state')))} files")

if __name__ == "__main__":
    main()

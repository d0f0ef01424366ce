"""One truth across processes: real ``rag`` processes beside a real ``chroma run`` or an embedded store.

A serving process sees what another process indexed, never returns what it
removed; corpora sharing a server keep apart; an embedded store is one process's.
"""

import os
import queue
import subprocess
import sys
import threading
import time

import pytest

from conftest import ARTICLE
from local_server import free_port, server_process
from rag import Chatbot
from test_backends import chroma_server

pytestmark = pytest.mark.slow

TRAM = "Le tramway Zéphyrine reliera Gerland à Vénissieux en 2031, avec 19 stations.\n"
TRAM_QUESTION = "Combien de stations le tramway Zéphyrine aura-t-il ?"


def rag(*args, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def test_a_serving_process_searches_what_another_indexed_and_never_returns_what_it_removed(corpus, tmp_path):
    port = free_port()
    server_env = {"RAG_CHROMA_HOST": "localhost", "RAG_CHROMA_PORT": str(port)}  # another spelling of the host
    data = tmp_path / "data"
    with chroma_server(tmp_path / "chroma", port, tmp_path / "chroma.log"):
        serving = Chatbot(corpus_dir=corpus, data_dir=data, chroma_host="127.0.0.1", chroma_port=port)
        serving.index()
        assert not any(s.document == "tram.txt" for s in serving.retrieve(TRAM_QUESTION))

        (corpus / "tram.txt").write_text("Tramway\n\n" + TRAM, encoding="utf-8")
        indexed = rag("index", "--corpus", str(corpus), "--data", str(data), env=server_env)
        assert indexed.returncode == 0 and indexed.stdout.startswith("1 added, 0 updated"), indexed.stderr

        started = time.monotonic()
        assert serving.retrieve(TRAM_QUESTION)[0].document == "tram.txt"
        words = serving.retriever.lexical.search(TRAM_QUESTION, "fr", 3)
        assert words and words[0].metadata["source"] == "tram.txt"
        assert time.monotonic() - started < 5

        (corpus / "tram.txt").unlink()
        removed = rag("index", "--corpus", str(corpus), "--data", str(data), env=server_env)
        assert removed.returncode == 0 and "1 deleted" in removed.stdout, removed.stderr
        for _ in range(3):
            assert not any(s.document == "tram.txt" for s in serving.retrieve(TRAM_QUESTION))
            assert not any(d.metadata["source"] == "tram.txt" for d in serving.retriever.lexical.search(TRAM_QUESTION, "fr", 12))


def test_two_corpora_sharing_a_chroma_server_keep_all_their_passages(tmp_path):
    port = free_port()
    corpora = [tmp_path / "press", tmp_path / "transport"]
    for folder in corpora:
        folder.mkdir()
    (corpora[0] / ARTICLE.name).write_text(ARTICLE.read_text(encoding="utf-8"), encoding="utf-8")
    (corpora[1] / "tram.txt").write_text("Tramway\n\n" + TRAM, encoding="utf-8")
    with chroma_server(tmp_path / "chroma", port, tmp_path / "chroma.log"):
        bots = [Chatbot(corpus_dir=folder, data_dir=tmp_path / f"data-{n}", chroma_host=host, chroma_port=port)
                for n, (folder, host) in enumerate(zip(corpora, ["127.0.0.1", "localhost"]))]
        first = [bot.index() for bot in bots]
        again = [bot.index() for bot in bots]

        assert [r.added for r in first] == [1, 1] and [r.passages_deleted for r in again] == [0, 0]
        assert [[d.source for d in bot.documents()] for bot in bots] == [[ARTICLE.name], ["tram.txt"]]
        assert all(s.document == "tram.txt" for s in bots[1].retrieve("Qui a signé l'accord entre Lyon et Boston ?"))


def test_a_second_process_on_an_embedded_store_in_use_is_told_what_to_do(corpus, tmp_path):
    bot = Chatbot(corpus_dir=corpus, data_dir=tmp_path / "data")
    bot.index()

    other = rag("index", "--corpus", str(corpus), "--data", str(tmp_path / "data"))

    assert other.returncode == 2
    lines = other.stderr.strip().splitlines()
    assert len(lines) == 1 and "open in another process" in lines[0], other.stderr
    assert "rag serve --watch" in lines[0] and "Chroma server" in lines[0]


def test_rag_serve_watch_indexes_new_documents_while_serving(corpus, tmp_path):
    port = free_port()
    command = [sys.executable, "-m", "rag.cli", "serve", "--watch", "--port", str(port), "--corpus", str(corpus),
               "--data", str(tmp_path / "data")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    try:
        deadline = time.monotonic() + 240
        while "Running on" not in lines.get(timeout=max(1, deadline - time.monotonic())):
            pass
        (corpus / "tram.md").write_text("# Tramway\n\n" + TRAM, encoding="utf-8")
        while not (line := lines.get(timeout=max(1, deadline - time.monotonic()))).startswith("Index: 1 added"):
            pass
        from gradio_client import Client

        found = Client(f"http://127.0.0.1:{port}", verbose=False).predict(TRAM_QUESTION, api_name="/chat")
        assert "19" in found["answer"] and found["sources"][0]["document"] == "tram.md", found
    finally:
        process.terminate()
        process.wait(timeout=30)

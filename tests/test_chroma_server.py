"""The store on a real Chroma server (``chroma run`` on 127.0.0.1) behaves like the embedded one."""

import json
import shutil

import pytest

from conftest import REPO, repo_file
from local_server import free_port, server_process
from rag import Chatbot

NEW_FACT = "Le premier échange d'étudiants entre Lyon et Boston portera le nom de programme Hirondelle."


@pytest.fixture
def chroma_server(tmp_path):
    """A Chroma server on a free local port; yields the port."""
    port = free_port()
    command = [str(REPO / ".venv" / "bin" / "chroma"), "run", "--path", str(tmp_path / "chroma-server"),
               "--host", "127.0.0.1", "--port", str(port)]
    with server_process(command, f"http://127.0.0.1:{port}/api/v2/heartbeat", tmp_path / "chroma.log", timeout_s=60):
        yield port


def changes(report) -> tuple:
    return report.added, report.updated, report.deleted, report.passages_written, report.passages_deleted


def retrieved(bot: Chatbot) -> list[list[tuple]]:
    """For each dev question, the passages retrieved: document, text and relevance."""
    questions = [json.loads(line)["q"] for line in repo_file("eval/dev.jsonl").read_text().splitlines() if line.strip()]
    return [[(s.document, s.text, s.score) for s in bot.retrieve(question)] for question in questions]


def listed(bot: Chatbot) -> list[tuple]:
    """The documents panel's list, less the times of indexing: each store was written at its own."""
    return [(d.source, d.title, d.language, d.passages, d.indexed_at is not None) for d in bot.documents()]


@pytest.mark.slow
def test_a_chroma_server_retrieves_what_the_embedded_store_does(tmp_path, chroma_server):
    corpus = tmp_path / "corpus"
    shutil.copytree(REPO / "corpus", corpus)
    remote = Chatbot(corpus_dir=corpus, data_dir=tmp_path / "remote", chroma_host="127.0.0.1", chroma_port=chroma_server)
    embedded = Chatbot(corpus_dir=corpus, data_dir=tmp_path / "embedded")

    assert changes(remote.index()) == changes(embedded.index())
    assert retrieved(remote) == retrieved(embedded)

    article = next(corpus.glob("*.txt"))
    article.write_text(article.read_text(encoding="utf-8") + "\n\n" + NEW_FACT + "\n", encoding="utf-8")
    report = remote.index()

    assert (report.added, report.updated) == (0, 1)
    assert changes(report) == changes(embedded.index())
    assert listed(remote) == listed(embedded)
    assert retrieved(remote) == retrieved(embedded)
    assert NEW_FACT in remote.retrieve("Comment s'appelle le programme d'échange d'étudiants ?")[0].text

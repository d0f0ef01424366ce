"""Backends that fail and come back: a real ``chroma run`` and a real ``llama_cpp.server``, stopped and restarted.

Every failure reaches the user as one line naming the component and its URL;
the same chatbot works again once the server is back, without a restart.
"""

import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import chromadb

import pytest

from conftest import REPO
from local_server import free_port, server_process
from rag import Chatbot
from rag.llm import ChatBackendError
from rag.packaged import resolve_gguf
from rag.settings import Settings
from rag.store import StoreBackendError, collection_name
from ui.chat import respond

pytestmark = pytest.mark.slow

QUESTION = "Qui est le maire de Boston ?"
OFFICIAL = "Which official from Lyon attended the signing?"  # answered even by the small model


def chroma_server(path, port, log):
    command = [str(REPO / ".venv" / "bin" / "chroma"), "run", "--path", str(path), "--host", "127.0.0.1",
               "--port", str(port)]
    return server_process(command, f"http://127.0.0.1:{port}/api/v2/heartbeat", log, timeout_s=60)


def chat_server(port, log, api_key="secret"):
    gguf = resolve_gguf("qwen2.5-coder-0.5b", Settings().model_cache_dir)
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", "small",
               "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--n_threads", "2",
               "--api_key", api_key]
    return server_process(command, f"http://127.0.0.1:{port}/docs", log, timeout_s=120)


def rag_ask(corpus, data, env):
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", "ask", QUESTION, "--corpus", str(corpus), "--data", str(data)],
        capture_output=True, text=True, timeout=300, env=env,
    )


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in text, text
    return lines[0]


def test_a_chroma_server_that_stops_is_named_and_the_bot_recovers_when_it_is_back(corpus, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    bot = Chatbot(corpus_dir=corpus, data_dir=tmp_path / "data", chroma_host="127.0.0.1", chroma_port=port)
    with chroma_server(tmp_path / "chroma", port, tmp_path / "chroma-1.log"):
        bot.index()
        assert any("Walsh" in source.text for source in bot.retrieve(QUESTION))

    with pytest.raises(StoreBackendError, match=url):
        bot.retrieve(QUESTION)
    with pytest.raises(StoreBackendError, match=url):
        bot.documents()
    *_, shown = respond(bot, QUESTION, [])
    assert "Chroma server" in shown[-1]["content"] and url in shown[-1]["content"]
    env = {**os.environ, "RAG_CHROMA_HOST": "127.0.0.1", "RAG_CHROMA_PORT": str(port)}
    result = rag_ask(corpus, tmp_path / "data", env)
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert line.startswith("rag: The Chroma server at") and url in line

    with chroma_server(tmp_path / "chroma", port, tmp_path / "chroma-2.log"):
        assert any("Walsh" in source.text for source in bot.retrieve(QUESTION))
        assert bot.index().unchanged == 1


class StubHandler(BaseHTTPRequestHandler):
    """What answers in a Chroma server's place, quiet in the tests' output."""

    def send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextmanager
def stub_server(port, handler: type[StubHandler]):
    """``handler`` serving on ``port``; a request it holds is let go when the server closes."""
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.closing = threading.Event()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield
    finally:
        server.closing.set()
        server.shutdown()
        server.server_close()


class BadGateway(StubHandler):
    """A reverse proxy whose Chroma server is gone: a 502 error page in HTML for every request."""

    def reply(self):
        self.send(502, "text/html", b"<html>\n<head><title>502 Bad Gateway</title></head>\n<body>nginx</body>\n</html>\n")

    do_GET = do_POST = do_PUT = do_DELETE = reply


def test_a_chroma_server_that_lost_the_collection_or_a_proxy_error_page_is_named_in_one_line(corpus, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = {"corpus_dir": corpus, "data_dir": tmp_path / "data", "chroma_host": "127.0.0.1", "chroma_port": port}
    bot = Chatbot(**settings)
    with chroma_server(tmp_path / "chroma", port, tmp_path / "chroma.log"):
        bot.index()
        chromadb.HttpClient(host="127.0.0.1", port=port).delete_collection(collection_name(bot.settings))
        refused = f"The Chroma server at {url} refused the request: .*does not exist"
        with pytest.raises(StoreBackendError, match=refused):
            bot.retrieve(QUESTION)
        # the next request makes the collection again and indexes it whole: no restart needed
        assert any("Walsh" in source.text for source in bot.retrieve(QUESTION))
        assert bot.index().unchanged == 1 and [d.passages > 0 for d in bot.documents()] == [True]

    with stub_server(port, BadGateway):
        for server_behind_a_proxy in [bot, Chatbot(**settings)]:  # asked again, or opened afresh
            with pytest.raises(StoreBackendError, match=f"The Chroma server at {url}") as raised:
                server_behind_a_proxy.retrieve(QUESTION)
            assert "\n" not in str(raised.value) and "502 Bad Gateway" in str(raised.value)


@contextmanager
def silent_server(port):
    """A server that takes connections and never answers (a stuck process, a route that drops replies): the
    system completes the connections on a listening socket that nothing accepts from."""
    with socket.create_server(("127.0.0.1", port), backlog=64):
        yield


class AnswersOnlyItsHeartbeat(StubHandler):
    """A Chroma server that answers its heartbeat and nothing else (stuck behind a lock, say)."""

    def do_GET(self):
        if self.path.endswith("/heartbeat"):
            self.send(200, "application/json", b'{"nanosecond heartbeat": 1}')
        else:
            self.server.closing.wait(120)

    do_POST = do_GET


@pytest.mark.timeout(120)  # without a bound, the request would wait for ever
def test_a_chroma_server_that_never_answers_is_named_once_the_timeout_is_over(corpus, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = {"corpus_dir": corpus, "data_dir": tmp_path / "data", "chroma_host": "127.0.0.1", "chroma_port": port,
                "chroma_timeout_s": 1}
    bot = Chatbot(**settings)
    with chroma_server(tmp_path / "chroma", port, tmp_path / "chroma.log"):
        bot.index()

    late = f"^The Chroma server at {url} did not answer within 1 s \\(RAG_CHROMA_TIMEOUT_S\\).$"
    for unresponsive in (silent_server, lambda port: stub_server(port, AnswersOnlyItsHeartbeat)):
        with unresponsive(port):
            for stuck in [bot, Chatbot(**settings)]:  # asked again, or opened afresh
                started = time.monotonic()
                with pytest.raises(StoreBackendError, match=late):
                    stuck.retrieve(QUESTION)
                assert time.monotonic() - started < 10


def test_a_chat_server_that_refuses_or_stops_is_named_and_the_bot_recovers(corpus, tmp_path):
    port = free_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    settings = {"llm_backend": "openai", "openai_base_url": base_url, "llm_model": "small"}
    bot = Chatbot(corpus_dir=corpus, data_dir=tmp_path / "data", openai_api_key="secret", **settings)
    wrong_key = Chatbot(corpus_dir=corpus, data_dir=tmp_path / "data", openai_api_key="wrong", **settings)
    with chat_server(port, tmp_path / "server-1.log"):
        assert "dognin" in bot.ask(OFFICIAL).text.lower()
        with pytest.raises(ChatBackendError, match=rf"{base_url} answered 401"):
            wrong_key.ask(QUESTION)
        env = {**os.environ, "RAG_LLM_BACKEND": "openai", "RAG_OPENAI_BASE_URL": base_url,
               "RAG_OPENAI_API_KEY": "wrong"}
        result = rag_ask(corpus, tmp_path / "cli-data", env)  # an embedded store is one process's
        assert result.returncode == 2 and base_url in one_line(result.stderr) and "401" in result.stderr

    with pytest.raises(ChatBackendError, match=base_url):
        bot.ask(QUESTION)
    *_, shown = respond(bot, QUESTION, [])
    assert "chat model server" in shown[-1]["content"] and base_url in shown[-1]["content"]

    with chat_server(port, tmp_path / "server-2.log"):
        assert "dognin" in bot.ask(OFFICIAL).text.lower()

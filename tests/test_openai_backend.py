"""The ``openai`` backend against a real OpenAI-compatible server: llama.cpp's, on 127.0.0.1; replies no real
server gives on demand (an error in the middle of a stream, a stream with no chunk) from a scripted one."""

import json
import shutil
import sys
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from langchain_core.messages import HumanMessage

from local_server import free_port, server_process
from rag import Chatbot
from rag.cli import main
from rag.llm import ChatBackendError, make_chat_model
from rag.packaged import resolve_gguf
from rag.settings import Settings

MODEL = "qwen2.5-coder-0.5b"


@pytest.fixture(scope="module")
def model_server(tmp_path_factory):
    """llama.cpp's OpenAI-compatible server with the small packaged model; yields its base URL."""
    gguf = resolve_gguf(MODEL, Settings().model_cache_dir)
    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", MODEL,
               "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--n_threads", "1"]
    base_url = f"http://127.0.0.1:{port}/v1"
    with server_process(command, f"{base_url}/models", tmp_path_factory.mktemp("llama-server") / "server.log"):
        yield base_url


@pytest.fixture(scope="module")
def corpus_and_store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("openai-backend")
    shutil.copytree(Chatbot().settings.corpus_dir.resolve(), folder / "corpus")
    return folder / "corpus", folder / "store"


def server_bot(corpus_and_store, base_url: str) -> Chatbot:
    corpus, store = corpus_and_store
    return Chatbot(corpus_dir=corpus, data_dir=store, llm_backend="openai", openai_base_url=base_url, llm_model=MODEL)


@pytest.mark.slow
def test_answers_and_streams_through_the_server(model_server, corpus_and_store):
    bot = server_bot(corpus_and_store, model_server)

    answer = bot.ask("Which official from Lyon attended the signing?")
    assert answer.answered, answer.text
    assert "dognin" in answer.text.lower()
    assert answer.language == "en" and answer.sources

    pieces = list(bot.stream("What should the partnership bring Lyon in the long run?"))
    assert len(pieces) > 1, pieces


@pytest.mark.slow
def test_a_server_that_is_down_is_named_in_the_error(corpus_and_store):
    down = f"http://127.0.0.1:{free_port()}/v1"
    bot = server_bot(corpus_and_store, down)

    with pytest.raises(ChatBackendError, match=down.replace(".", r"\.")):
        bot.ask("Qui est le maire de Boston ?")


@pytest.mark.slow
def test_rag_ask_reports_a_server_that_is_down_in_one_line(corpus_and_store, monkeypatch, capsys):
    corpus, store = corpus_and_store
    down = f"http://127.0.0.1:{free_port()}/v1"
    monkeypatch.setenv("RAG_LLM_BACKEND", "openai")
    monkeypatch.setenv("RAG_OPENAI_BASE_URL", down)

    code = main(["ask", "Qui est le maire de Boston ?", "--corpus", str(corpus), "--data", str(store)])

    error = capsys.readouterr().err.strip()
    assert code == 2
    assert error.startswith("rag: ") and down in error
    assert "\n" not in error and "Traceback" not in error


def chunk(text: str) -> str:
    return json.dumps({"id": "1", "object": "chat.completion.chunk", "created": 0, "model": MODEL,
                       "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]})


@contextmanager
def scripted_server(events: list[str]):
    """An OpenAI-compatible server streaming ``events`` (the data of server-sent events) to any chat request."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            body = "".join(f"data: {event}\n\n" for event in events).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/v1"
    finally:
        server.shutdown()
        server.server_close()


def scripted_model(base_url: str):
    return make_chat_model(Settings(llm_backend="openai", openai_base_url=base_url, llm_model=MODEL))


def test_an_error_in_the_middle_of_a_streamed_reply_names_the_server():
    events = [chunk("ANSWER: Marty"), json.dumps({"error": {"message": "the model\nran out of memory"}})]
    with scripted_server(events) as base_url:
        with pytest.raises(ChatBackendError, match=f"The chat model server at {base_url} failed: the model ran out"):
            list(scripted_model(base_url).stream([HumanMessage("Qui a signé l'accord ?")]))


def test_a_stream_with_no_chunk_names_the_server():
    with scripted_server(["[DONE]"]) as base_url:
        no_reply = f"The chat model server at {base_url} sent no usable reply: No generation chunks"
        with pytest.raises(ChatBackendError, match=no_reply):
            list(scripted_model(base_url).stream([HumanMessage("Qui a signé l'accord ?")]))

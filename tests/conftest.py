"""Shared fixtures. Everything runs offline, against real models and a real Chroma store."""

import os
import shutil
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["ANONYMIZED_TELEMETRY"] = "False"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import pytest  # noqa: E402
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
ARTICLE = REPO / "corpus" / "lyon-boston-accord.txt"


def article_paragraphs() -> list[str]:
    """The article's long paragraphs: passages for tests that build prompts by hand."""
    return [p.strip() for p in ARTICLE.read_text(encoding="utf-8").split("\n\n") if len(p.strip()) > 200]


def repo_file(relative: str) -> Path:
    """A file of the repository that a test needs; a missing one fails that test alone, naming the file."""
    path = REPO / relative
    if not path.is_file():
        pytest.fail(f"{path} is missing: the repository should hold it", pytrace=False)
    return path


class ScriptedChat(GenericFakeChatModel):
    """A chat model that replies the scripted ``messages`` in order and keeps, in ``sent``, the conversation
    of each call; ``on_call`` runs before each reply (to change the world while the model "thinks")."""

    sent: list = []
    on_call: object = None

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        self.sent.append(messages)
        if self.on_call:
            self.on_call()
        return super()._generate(messages, stop, run_manager, **kwargs)  # its streaming goes through here too


class SmallContextChat(ScriptedChat):
    """A scripted model that tells the room a prompt leaves in its ``context``, as llama.cpp's does; here a
    token is a character of the messages, and a reply takes at most 200."""

    context: int

    def room(self, messages):
        return self.context - sum(len(message.content) for message in messages) - 200


def scripted_bot(corpus, data, *replies, on_call=None):
    """A real chatbot (real store and embeddings) whose chat model replies ``replies`` in order."""
    from langchain_core.messages import AIMessage

    from rag import Chatbot

    bot = Chatbot(corpus_dir=corpus, data_dir=data)
    model = ScriptedChat(messages=iter([AIMessage(reply) for reply in replies]), sent=[], on_call=on_call)
    bot.chat_model = model
    return bot, model


@pytest.fixture(autouse=True)
def _no_user_config(monkeypatch, tmp_path_factory):
    """Tests never read a developer's rag.toml or RAG_* variables."""
    for name in list(os.environ):
        if name.startswith("RAG_"):
            monkeypatch.delenv(name)
    empty_config = tmp_path_factory.getbasetemp() / "empty-config.toml"
    empty_config.touch()
    monkeypatch.setenv("RAG_CONFIG", str(empty_config))


@pytest.fixture
def corpus(tmp_path) -> Path:
    """A fresh corpus folder holding the original article."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(ARTICLE, folder / ARTICLE.name)
    return folder


@pytest.fixture(scope="session")
def article_bot(tmp_path_factory):
    """The default chatbot (default models) over the repository's corpus, indexed once."""
    from rag import Chatbot

    bot = Chatbot(corpus_dir=REPO / "corpus", data_dir=tmp_path_factory.mktemp("article-store"))
    bot.index()
    return bot

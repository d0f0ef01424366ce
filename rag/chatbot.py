"""The public entry point: ``Chatbot`` answers questions about the corpus.

A thin facade: ``Indexer`` keeps the store in line with the folder, ``HybridRetriever`` finds a question's
passages, ``Answerer`` (rag.answering) writes, checks and repairs the answer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from concurrent.futures import Future
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

from rag import grounding
from rag.answering import Answer, Answerer
from rag.documents import check_corpus_dir
from rag.indexing import Indexer, IndexReport
from rag.language import BilingualError, detect_language
from rag.retrieval import HybridRetriever, Source
from rag.settings import Settings
from rag.store import StoreBackendError, get_all, indexed_times, reaching_store, record_generation

log = logging.getLogger(__name__)

CITED_DOCUMENT_REMOVED = {  # by an index run while the answer was written: asking again is enough
    "fr": "Le document cité a été modifié ou supprimé pendant la réponse : posez la question à nouveau.",
    "en": "The cited document was changed or deleted while the answer was written: ask again.",
}
CITED_DOCUMENT_CHANGED = {  # on disk, and not indexed again yet
    "fr": "Le document cité a changé depuis son indexation : indexez les documents, puis posez la question à nouveau.",
    "en": "The cited document has changed since it was indexed: index the documents, then ask again.",
}


@dataclass
class IndexedDocument:
    source: str  # path relative to the corpus folder
    title: str
    language: str
    passages: int
    indexed_at: float | None = None  # when the index last read it (new or changed), in seconds since the epoch


class AnswerCache:
    """Final answers by question, conversation and the exact passages retrieved (ids and texts), least
    recently used dropped first. Decoding is greedy, so the same passages give the same answer; a changed or
    deleted passage changes the key."""

    def __init__(self, size: int):
        self.size = size
        self._answers: OrderedDict[tuple, Answer] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Answer | None:
        with self._lock:
            if key in self._answers:
                self._answers.move_to_end(key)
            return self._answers.get(key)

    def put(self, key: tuple, answer: Answer) -> None:
        with self._lock:
            self._answers[key] = answer
            while len(self._answers) > self.size:
                self._answers.popitem(last=False)


class Chatbot:
    """Bilingual question answering over a folder of documents.

    >>> bot = Chatbot(corpus_dir="corpus", data_dir=".rag")
    >>> bot.ask("Qui a signé l'accord ?").text
    """

    def __init__(self, corpus_dir: str | Path | None = None, data_dir: str | Path | None = None, **overrides):
        if corpus_dir is not None:
            overrides["corpus_dir"] = Path(corpus_dir)
        if data_dir is not None:
            overrides["data_dir"] = Path(data_dir)
        self.settings = Settings(**overrides)
        self._index_checked = False
        self._answers = AnswerCache(self.settings.answer_cache_size)
        self._generation: tuple | None = None  # of the index records, when the word index was built
        self._chat_model_loading: Future | None = None
        self._chat_model_lock = threading.Lock()
        self._components_lock = threading.Lock()

    # Components are built on first use and kept for the life of the bot.
    @cached_property
    def embeddings(self):
        from rag.embeddings import make_embeddings

        return make_embeddings(self.settings)

    @cached_property
    def store(self):
        from rag.store import check_corpus_of_data_dir, open_vector_store

        check_corpus_dir(self.settings.corpus_dir)  # before the data folder is made: a mistyped path creates none
        check_corpus_of_data_dir(self.settings)
        return open_vector_store(self.settings, self.embeddings)

    @cached_property
    def indexer(self) -> Indexer:
        from rag.store import open_record_manager

        return Indexer(self.settings, self.store, open_record_manager(self.settings, self.store))

    @cached_property
    def retriever(self) -> HybridRetriever:
        return HybridRetriever(self.store, self.settings.candidates)

    @cached_property
    def chat_model(self):
        from rag.llm import make_chat_model

        return make_chat_model(self.settings)

    @cached_property
    def answerer(self) -> Answerer:
        from rag.embeddings import word_translations

        settings = self.settings
        return Answerer(
            self.chat_model, settings.max_model_calls, settings.worked_examples, settings.abstain_threshold,
            document_text=self._document_text, embed_words=word_translations(settings, self.embeddings),
        )

    @contextmanager
    def _reaching_store(self):
        """Failures of a Chroma server as one ``StoreBackendError`` (``reaching_store``); the collection, once
        the server says it no longer has it, is forgotten, so that the next request opens it again (made anew
        and indexed whole by the next index run, question or documents list) instead of every request failing
        until a restart."""
        from chromadb.errors import NotFoundError

        store = self.__dict__.get("store")
        try:
            with reaching_store(self.settings):
                yield
        except StoreBackendError as error:
            lost = isinstance(error.__cause__, NotFoundError) and store is not None
            if lost and store.collection_id in str(error):  # not another collection's, a tenant's or a database's
                self._forget_collection(store)
            raise

    def _forget_collection(self, store) -> None:
        """Drop what was built on ``store``'s collection, unless another request did so and opened it again."""
        with self._components_lock:
            if self.__dict__.get("store") is not store:
                return
            log.warning("The collection was deleted on the Chroma server: it will be made and indexed again")
            for component in ("store", "indexer", "retriever"):
                self.__dict__.pop(component, None)
            self._index_checked, self._generation = False, None

    def warm_up(self) -> None:
        """Load the models and fill the caches now, so that the first question is answered as fast as the next."""
        chat_model_ready = self.load_chat_model()
        detect_language("Qui a signé l'accord ?")  # loads the detector's language models
        self._retrieve("accord", "fr")  # loads the embedding model, builds the lexical index
        chat_model_ready.result()

    def _document_text(self, source: str) -> str:
        """A document's whole text, for the answer's checks: from the retriever of the moment (it is made again
        with the collection), which may read the store."""
        with self._reaching_store():
            return self.retriever.document_text(source)

    def load_chat_model(self) -> Future:
        """Start loading the chat model and having it read the fixed instructions, once, in a thread, so that
        everything else gets ready meanwhile; the future's ``result()`` waits for it and raises its error.
        A failed load is tried again at the next call."""
        with self._chat_model_lock:
            loading = self._chat_model_loading
            if loading is None or (loading.done() and loading.exception() is not None):
                loading = self._chat_model_loading = Future()

                def load() -> None:
                    try:
                        self.answerer.read_instructions()
                        loading.set_result(None)
                    except BaseException as error:  # raised again where the model is needed
                        loading.set_exception(error)

                # not a ThreadPoolExecutor: its threads are joined at exit, so a process failing meanwhile would
                # not end until the load did
                threading.Thread(target=load, name="chat-model-loading", daemon=True).start()
            return loading

    # Indexing
    def index(self, progress: bool | None = None) -> IndexReport:
        """Bring the store in line with the corpus folder; only changed files are embedded."""
        with self._reaching_store():
            report = self.indexer.run(progress=progress)
            self._index_checked = True
            if report.passages_written or report.passages_deleted:
                self._refresh_word_index()
        return report

    def _refresh_word_index(self) -> None:
        """Rebuild the BM25 index from the store, noting the records' generation it reflects."""
        self._generation = record_generation(self.indexer.record_manager)
        self.retriever.refresh()

    def _follow_other_processes(self) -> None:
        """Another process (``rag index``, a watcher, another worker) may have changed the store through a
        Chroma server: the word index is rebuilt before the next search, so it finds new passages and never
        returns removed ones. Reading the records' generation is one SQLite query."""
        if record_generation(self.indexer.record_manager) != self._generation:
            self._refresh_word_index()

    def documents(self) -> list[IndexedDocument]:
        """The indexed documents, with their passage counts and when they were indexed, sorted by path."""
        by_source: dict[str, IndexedDocument] = {}
        with self._reaching_store():
            self._ensure_indexed()
            stored = get_all(self.store, ["metadatas"])
        indexed_at = indexed_times(self.indexer.record_manager)
        for metadata in stored["metadatas"]:
            metadata = metadata or {}
            source = metadata.get("source", "")
            entry = by_source.setdefault(source, IndexedDocument(
                source, metadata.get("title", source), metadata.get("language", ""), 0, indexed_at.get(source)
            ))
            entry.passages += 1
        return sorted(by_source.values(), key=lambda d: d.source)

    def _ensure_indexed(self) -> None:
        if not self._index_checked:
            check_corpus_dir(self.settings.corpus_dir)
            if self._holds_passages():
                self._index_checked = True
            else:
                self.index()

    def _holds_passages(self) -> bool:
        return bool(self.store.get(limit=1, include=[])["ids"])

    # Questions
    def retrieve(self, question: str, history: list[tuple[str, str]] | None = None) -> list[Source]:
        """The passages that would be given to the chat model for ``question``."""
        question = self._check_question(question)
        return self._retrieve(self._search_query(question, history or []), detect_language(question))

    def _retrieve(self, query: str, language: str) -> list[Source]:
        with self._reaching_store():
            self._ensure_indexed()
            self._follow_other_processes()
            return self.retriever.retrieve(query, language, self.settings.top_k)

    def _check_documents_indexed(self) -> None:
        """A question over an empty store is told so, not answered "the documents don't say"."""
        with self._reaching_store():
            if not self._holds_passages():
                raise BilingualError(
                    f"No documents are indexed: add .txt, .md, .html, .pdf or .docx files to "
                    f"{self.settings.corpus_dir} and index them.",
                    f"Aucun document n'est indexé : ajoutez des fichiers .txt, .md, .html, .pdf ou .docx dans "
                    f"{self.settings.corpus_dir}, puis indexez-les.",
                )

    def ask(self, question: str, history: list[tuple[str, str]] | None = None) -> Answer:
        """Answer ``question`` (French or English) from the corpus."""
        answer = None
        for answer in self.stream_answers(question, history):
            pass
        return answer

    def stream(self, question: str, history: list[tuple[str, str]] | None = None) -> Iterator[str]:
        """Yield the answer's text as it is generated.

        If the final checks reject or replace what was streamed (an ungrounded
        answer refused, a restated answer), the final text follows on a new
        line; ``ask`` gives only the checked answer.
        """
        shown = ""
        for answer in self.stream_answers(question, history):
            if answer.text.startswith(shown):
                if answer.text != shown:
                    yield answer.text[len(shown) :]
            else:
                yield "\n" + answer.text
            shown = answer.text

    def stream_answers(self, question: str, history: list[tuple[str, str]] | None = None) -> Iterator[Answer]:
        """Yield the answer as it grows; the last one is final, with its sources."""
        started = time.perf_counter()
        question = self._check_question(question)
        history = self._capped_history(history)
        chat_model_ready = self.load_chat_model()
        language = detect_language(question)
        sources = self._retrieve(self._search_query(question, history), language)
        if not sources:
            self._check_documents_indexed()
        key = (question, tuple(history), tuple((source.id, source.text) for source in sources))
        if (cached := self._answers.get(key)) is not None:
            answer = replace(cached, sources=list(cached.sources), seconds=time.perf_counter() - started)
            yield self._without_removed_passages(answer) if answer.answered else answer
            return
        chat_model_ready.result()
        for answer in self.answerer.stream(question, language, sources, history, started=started):
            if answer.sources and answer.answered:
                answer = self._without_removed_passages(answer)
            yield answer
        if answer.check != "store":
            self._answers.put(key, answer)

    def _without_removed_passages(self, answer: Answer) -> Answer:
        """The final answer less the passages no longer current: removed from the store while it was written
        (by an index run here or in another process), or from a file changed on disk since it was indexed;
        withdrawn if the passage it cites is one of them."""
        ids = [source.id for source in answer.sources if source.id]
        if not ids:
            return answer
        with self._reaching_store():
            stored = set(self.store.get(ids=ids, include=[])["ids"])
        changed = self.indexer.changed_since_indexed({source.document for source in answer.sources})
        kept = [s for s in answer.sources if (not s.id or s.id in stored) and s.document not in changed]
        if kept and kept[0] is answer.sources[0]:
            return replace(answer, sources=kept)
        removed = bool(answer.sources[0].id) and answer.sources[0].id not in stored
        return replace(
            answer, text=grounding.REFUSALS[answer.language], answered=False, sources=kept, check="store",
            reason="the cited passage was removed from the index while the answer was written" if removed
            else "the cited passage's document changed on disk after it was indexed",
            explanation=(CITED_DOCUMENT_REMOVED if removed else CITED_DOCUMENT_CHANGED)[answer.language],
        )

    def _check_question(self, question: str) -> str:
        if not isinstance(question, str):
            raise ValueError(f"The question must be text, not {type(question).__name__}.")
        if not question.strip():
            raise BilingualError(
                "The question is empty: type a question about the documents.",
                "La question est vide : posez une question sur les documents.",
            )
        question = question.strip()
        if len(question) > (limit := self.settings.max_question_chars):
            raise BilingualError(
                f"The question is {len(question)} characters long; the limit is {limit}.",
                f"La question fait {len(question)} caractères ; la limite est de {limit}.",
            )
        return question

    def _capped_history(self, history) -> list[tuple[str, str]]:
        """The last ``history_turns`` (question, answer) turns, each side cut to ``max_question_chars``:
        a long conversation costs no more to answer than a short one. The answerer then fits them to the chat
        model's context."""
        turns = list(history or [])
        if not all(isinstance(turn, (list, tuple)) and len(turn) == 2 and all(isinstance(t, str) for t in turn) for turn in turns):
            raise ValueError("The conversation history must be a list of (question, answer) pairs of text.")
        limit = self.settings.max_question_chars
        return [(question[:limit], answer[:limit]) for question, answer in turns[-self.settings.history_turns :]]

    @staticmethod
    def _search_query(question: str, history: list[tuple[str, str]]) -> str:
        """A follow-up question is searched together with the previous turn it depends on."""
        if not history:
            return question
        previous_question, previous_answer = history[-1]
        return f"{previous_question} {previous_answer} {question}"

"""The public entry point: ``Chatbot`` answers questions about the corpus."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from rag import grounding, prompts
from rag.indexing import Indexer, IndexReport
from rag.language import detect_language
from rag.retrieval import HybridRetriever, Source
from rag.settings import Settings
from rag.store import get_all

log = logging.getLogger(__name__)

# Characters of answer held back before streaming starts, to check its language first.
LANGUAGE_CHECK_CHARS = 16
# Shorter answers (a bare name) are rewritten as a sentence, whose language can be told.
MIN_ANSWER_WORDS = 4


@dataclass
class Answer:
    """An answer with the passages it comes from."""

    text: str
    language: str  # the question's language, "fr" or "en"
    answered: bool  # False when the documents do not hold the answer
    sources: list[Source] = field(default_factory=list)
    quote: str | None = None  # the sentence of the first source that holds the answer
    seconds: float = 0.0


@dataclass
class IndexedDocument:
    source: str  # path relative to the corpus folder
    title: str
    language: str
    passages: int


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

    # Components are built on first use and kept for the life of the bot.
    @cached_property
    def embeddings(self):
        from rag.embeddings import make_embeddings

        return make_embeddings(self.settings)

    @cached_property
    def store(self):
        from rag.store import open_vector_store

        return open_vector_store(self.settings, self.embeddings)

    @cached_property
    def indexer(self) -> Indexer:
        from rag.store import open_record_manager

        return Indexer(self.settings, self.store, open_record_manager(self.settings))

    @cached_property
    def retriever(self) -> HybridRetriever:
        return HybridRetriever(self.store, self.settings.candidates)

    @cached_property
    def chat_model(self):
        from rag.llm import make_chat_model

        return make_chat_model(self.settings)

    # Indexing
    def index(self, progress: bool | None = None) -> IndexReport:
        """Bring the store in line with the corpus folder; only changed files are embedded."""
        report = self.indexer.run(progress=progress)
        self._index_checked = True
        if report.passages_written or report.passages_deleted:
            self.retriever.refresh()
        return report

    def documents(self) -> list[IndexedDocument]:
        """The indexed documents, with their passage counts, sorted by path."""
        by_source: dict[str, IndexedDocument] = {}
        stored = get_all(self.store, ["metadatas"])
        for metadata in stored["metadatas"]:
            metadata = metadata or {}
            source = metadata.get("source", "")
            entry = by_source.setdefault(
                source, IndexedDocument(source, metadata.get("title", source), metadata.get("language", ""), 0)
            )
            entry.passages += 1
        return sorted(by_source.values(), key=lambda d: d.source)

    def _ensure_indexed(self) -> None:
        if not self._index_checked:
            if not self.settings.corpus_dir.is_dir():
                raise FileNotFoundError(f"Corpus folder not found: {self.settings.corpus_dir}")
            if self.store.get(limit=1, include=[])["ids"]:
                self._index_checked = True
            else:
                self.index()

    # Questions
    def retrieve(self, question: str, history: list[tuple[str, str]] | None = None) -> list[Source]:
        """The passages that would be given to the chat model for ``question``."""
        question = self._check_question(question)
        self._ensure_indexed()
        return self.retriever.retrieve(self._search_query(question, history or []), detect_language(question), self.settings.top_k)

    def ask(self, question: str, history: list[tuple[str, str]] | None = None) -> Answer:
        """Answer ``question`` (French or English) from the corpus."""
        answer = None
        for answer in self.stream_answers(question, history):
            pass
        return answer

    def stream(self, question: str, history: list[tuple[str, str]] | None = None) -> Iterator[str]:
        """Yield the answer's text as it is generated.

        If the final check rejects what was streamed (an ungrounded answer), the
        refusal follows on a new line; ``ask`` gives only the checked answer.
        """
        shown = ""
        for answer in self.stream_answers(question, history):
            if answer.text.startswith(shown):
                yield answer.text[len(shown) :]
            else:
                yield "\n" + answer.text
            shown = answer.text

    def stream_answers(self, question: str, history: list[tuple[str, str]] | None = None) -> Iterator[Answer]:
        """Yield the answer as it grows; the last one is final, with its sources."""
        started = time.perf_counter()
        question = self._check_question(question)
        history = list(history or [])
        language = detect_language(question)
        self._ensure_indexed()
        sources = self.retriever.retrieve(self._search_query(question, history), language, self.settings.top_k)
        refusal = Answer(grounding.REFUSALS[language], language, answered=False, sources=sources)
        if not sources:
            refusal.seconds = time.perf_counter() - started
            yield refusal
            return

        evidence = "\n".join([question, *(s.text for s in sources), *(q + " " + a for q, a in history)])
        messages = prompts.answer_messages([s.text for s in sources], question, language, history)
        reply = yield from self._stream_reply(messages, sources, language, evidence)
        final = self._checked_answer(question, reply, sources, language, evidence) if reply else None
        if final is None:
            final = refusal
        elif len(grounding.words(final.text)) < MIN_ANSWER_WORDS or detect_language(final.text) != language:
            final.text = self._rewrite(messages, reply, final.text, language, evidence)
        final.seconds = time.perf_counter() - started
        yield final

    def _stream_reply(self, messages, sources: list[Source], language: str, evidence: str):
        """Run the model, yielding the answer as it streams; return the whole reply.

        Streaming starts once the first words are in the question's language.
        A "NONE" answer or a number found in no passage stops generation at
        once (returns None).
        """
        reply = ""
        for chunk in self.chat_model.stream(messages, **self._reply_constraints(sources)):
            reply += chunk.content
            quote, text = grounding.split_reply(reply)
            if text is None:
                continue
            settled = grounding.without_number_in_progress(text)
            if grounding.is_none(text[:4]) or grounding.unsupported_numbers(settled, evidence):
                return None
            if quote is None and len(settled) >= LANGUAGE_CHECK_CHARS and detect_language(settled) == language:
                yield Answer(settled, language, answered=True)
        return reply

    def _reply_constraints(self, sources: list[Source]) -> dict:
        """With llama.cpp, a grammar makes the quote one of the passages' sentences, word for word."""
        if getattr(self.chat_model, "supports_grammar", False):
            return {"grammar": grounding.reply_grammar([s.text for s in sources])}
        return {}

    @staticmethod
    def _checked_answer(question: str, reply: str, sources: list[Source], language: str, evidence: str) -> Answer | None:
        """The model's reply as an answer citing its best passage, or None if it is not grounded."""
        quote, text = grounding.split_reply(reply)
        if grounding.is_none(text) or grounding.says_not_in_passages(text):
            return None
        if numbers := grounding.unsupported_numbers(text, evidence):
            log.info("Refused: numbers %s are in no passage: %r", numbers, text)
            return None
        passages = [s.text for s in sources]
        if grounding.is_none(quote) or grounding.find_quote(quote, passages) is None:
            log.info("Refused: quote not found in the passages: %r", quote)
            return None
        best = grounding.supporting_passage(text, quote, passages)
        cited_document = "\n".join(s.text for s in sources if s.document == sources[best].document)
        if missing := grounding.names_missing_from(question, cited_document, "\n".join(passages)):
            log.info("Refused: the cited document never mentions %s", missing)
            return None
        if grounding.find_quote(quote, [passages[best]]) is None:
            quote = grounding.best_sentence(text, passages[best])
        cited = [sources[best], *sources[:best], *sources[best + 1 :]]
        return Answer(text, language, answered=True, sources=cited, quote=quote)

    def _rewrite(self, messages, reply: str, text: str, language: str, evidence: str) -> str:
        """A bare or wrong-language answer as a sentence in ``language``; kept as is if the rewrite invents."""
        rewritten = self.chat_model.invoke(prompts.rewrite_messages(messages, reply, language)).content
        rewritten = (grounding.split_reply(rewritten)[1] or rewritten).strip().splitlines()
        if not rewritten or grounding.unsupported_numbers(rewritten[0], evidence + "\n" + text):
            return text
        return rewritten[0]

    def _check_question(self, question: str) -> str:
        if not isinstance(question, str) or not question.strip():
            raise ValueError("The question is empty: type a question about the documents.")
        question = question.strip()
        if len(question) > self.settings.max_question_chars:
            raise ValueError(
                f"The question is {len(question)} characters long; the limit is {self.settings.max_question_chars}."
            )
        return question

    @staticmethod
    def _search_query(question: str, history: list[tuple[str, str]]) -> str:
        """A follow-up question is searched together with the previous turn it depends on."""
        if not history:
            return question
        previous_question, previous_answer = history[-1]
        return f"{previous_question} {previous_answer} {question}"

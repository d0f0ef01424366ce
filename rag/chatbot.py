"""The public entry point: ``Chatbot`` answers questions about the corpus."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from rag import grounding, prompts
from rag.indexing import Indexer, IndexReport
from rag.language import detect_language, foreign_words
from rag.retrieval import HybridRetriever, Source
from rag.settings import Settings
from rag.store import get_all, reaching_store, record_generation

log = logging.getLogger(__name__)

# Characters of answer held back before streaming starts, to check its language first.
LANGUAGE_CHECK_CHARS = 16
# Shorter answers (a bare name) are rewritten as a sentence, whose language can be told.
MIN_ANSWER_WORDS = 4
# An answer with this many words from the prompt's worked examples (and not from the passages) copied an example.
MAX_BORROWED_WORDS = 3
# Share of an answer's content words allowed to be in no passage, when all are in the same language.
MAX_UNSUPPORTED_SHARE = 0.5
# A translation of one word longer than this is an explanation, not a translation.
MAX_TRANSLATION_WORDS = 3
# Words left untranslated that are translated one by one; more than this and the sentence stays as it is.
MAX_TRANSLATED_WORDS = 2


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
        self._instructions_read = False
        self._generation: tuple | None = None  # of the index records, when the word index was built

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

    def warm_up(self) -> None:
        """Load the models and fill the caches now, so that the first question is answered as fast as the next.

        The chat model loads (and reads the fixed instructions) in a thread while
        the store, the lexical index and the language detector get ready.
        """
        chat_model_ready = threading.Thread(target=self._read_instructions, daemon=True)
        chat_model_ready.start()
        detect_language("Qui a signé l'accord ?")  # loads the detector's language models
        self._retrieve("accord", "fr")  # loads the embedding model, builds the lexical index
        chat_model_ready.join()

    # Indexing
    def index(self, progress: bool | None = None) -> IndexReport:
        """Bring the store in line with the corpus folder; only changed files are embedded."""
        with reaching_store(self.settings):
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
        """The indexed documents, with their passage counts, sorted by path."""
        by_source: dict[str, IndexedDocument] = {}
        with reaching_store(self.settings):
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
        return self._retrieve(self._search_query(question, history or []), detect_language(question))

    def _retrieve(self, query: str, language: str) -> list[Source]:
        with reaching_store(self.settings):
            self._ensure_indexed()
            self._follow_other_processes()
            return self.retriever.retrieve(query, language, self.settings.top_k)

    def ask(self, question: str, history: list[tuple[str, str]] | None = None) -> Answer:
        """Answer ``question`` (French or English) from the corpus."""
        answer = None
        for answer in self.stream_answers(question, history):
            pass
        return answer

    def stream(self, question: str, history: list[tuple[str, str]] | None = None) -> Iterator[str]:
        """Yield the answer's text as it is generated.

        If the final checks reject or replace what was streamed (an ungrounded
        answer refused, a restated or translated answer), the final text follows
        on a new line; ``ask`` gives only the checked answer.
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
        sources = self._retrieve(self._search_query(question, history), language)
        refusal = Answer(grounding.REFUSALS[language], language, answered=False, sources=sources)
        if not sources:
            refusal.seconds = time.perf_counter() - started
            yield refusal
            return

        # The model reads each passage under its title; the titles count as evidence, never as quotes.
        evidence = "\n".join([question, *(s.labelled for s in sources), *(q + " " + a for q, a in history)])
        messages = prompts.answer_messages([s.labelled for s in sources], question, language, history)
        reply = yield from self._stream_reply(messages, sources, language, evidence)
        final = self._checked_answer(question, reply, sources, language, evidence) if reply else None
        if final is not None and self._misses_the_question(question, final.text, sources):
            # One more try without the worked examples, which can pull a small model into copying.
            messages = prompts.answer_messages([s.labelled for s in sources], question, language, history, examples=False)
            reply = self.chat_model.invoke(messages, **self._answer_options(sources)).content
            final = self._checked_answer(question, reply, sources, language, evidence)
            if final is not None and self._misses_the_question(question, final.text, sources):
                final = None
        if final is None:
            final = refusal
        else:
            bare = len(grounding.words(final.text)) < MIN_ANSWER_WORDS
            if bare or detect_language(final.text) != language:
                final.text = self._rewrite(messages, reply, final, question, evidence, bare)
            untranslated = self._untranslated(final.text, language, question, sources)
            if 0 < len(untranslated) <= MAX_TRANSLATED_WORDS:
                final.text = self._translate_words(messages, reply, final.text, untranslated, language)
        final.seconds = time.perf_counter() - started
        yield final

    def _stream_reply(self, messages, sources: list[Source], language: str, evidence: str):
        """Run the model, yielding the answer as it streams; return the whole reply.

        Streaming starts once the first words are in the question's language.
        A "NONE" answer or a number found in no passage stops generation at
        once (returns None).
        """
        reply = ""
        for chunk in self.chat_model.stream(messages, **self._answer_options(sources)):
            reply += chunk.content
            quote, text = grounding.split_reply(reply)
            if text is None:
                continue
            settled = grounding.settled_answer(text)
            if grounding.is_none(text[:4]) or grounding.unsupported_numbers(settled, evidence):
                return None
            if quote is None and len(settled) >= LANGUAGE_CHECK_CHARS and detect_language(settled) == language:
                yield Answer(settled, language, answered=True)
        return reply

    def _answer_options(self, sources: list[Source]) -> dict:
        """With llama.cpp: a grammar makes the quote open one of the passages' sentences, word for word, and
        each question is read from the fixed instructions on, whatever was asked before."""
        if getattr(self.chat_model, "supports_grammar", False):
            self._read_instructions()
            return {"grammar": grounding.reply_grammar([s.text for s in sources]), "from_fixed_prefix": True}
        return {}

    def _read_instructions(self) -> None:
        """Have the chat model read the fixed instructions and examples once (kept in its cache)."""
        if not self._instructions_read:
            self.chat_model.warm_up(prompts.fixed_prefix())
            self._instructions_read = True

    @staticmethod
    def _ungrounded(text: str | None, language: str, evidence: str, sources: list[Source]) -> str | None:
        """Why answer ``text`` cannot be given (a refusal, invented content), or None if nothing is wrong."""
        if grounding.is_none(text) or grounding.says_not_in_passages(text):
            return "no answer in the passages"
        if numbers := grounding.unsupported_numbers(text, evidence):
            return f"numbers {numbers} are in no passage"
        if len(borrowed := grounding.borrowed_words(text, prompts.EXAMPLES_TEXT, evidence)) >= MAX_BORROWED_WORDS:
            return f"words {borrowed} come from the worked examples"
        unsupported = grounding.unsupported_words(text, evidence)
        same_language = all(source.language == language for source in sources)
        if same_language and len(unsupported) > MAX_UNSUPPORTED_SHARE * len(grounding.content_words(text)):
            return f"words {unsupported} are in no passage"
        return None

    def _checked_answer(self, question: str, reply: str, sources: list[Source], language: str, evidence: str) -> Answer | None:
        """The model's reply as an answer citing its best passage, or None if it is not grounded."""
        quote, text = grounding.split_reply(reply)
        if problem := self._ungrounded(text, language, evidence, sources):
            log.info("Refused: %s: %r", problem, text)
            return None
        passages = [s.text for s in sources]
        if grounding.is_none(quote) or grounding.find_quote(quote, passages) is None:
            log.info("Refused: quote not found in the passages: %r", quote)
            return None
        titled = [s.labelled for s in sources]
        best = grounding.supporting_passage(text, quote, titled)
        cited_document = "\n".join(s.labelled for s in sources if s.document == sources[best].document)
        if missing := grounding.names_missing_from(question, cited_document, "\n".join(titled)):
            log.info("Refused: the cited document never mentions %s", missing)
            return None
        if grounding.find_quote(quote, [passages[best]]) is None:
            quote = grounding.best_sentence(text, passages[best])
        else:
            quote = grounding.sentence_containing(quote, passages[best]) or quote
        cited = [sources[best], *sources[:best], *sources[best + 1 :]]
        return Answer(text, language, answered=True, sources=cited, quote=quote)

    @staticmethod
    def _misses_the_question(question: str, text: str, sources: list[Source]) -> bool:
        """An answer that copies out a passage, or gives no number to "how many?" (no date to "what date?")."""
        if grounding.copies_passage(text, [s.text for s in sources]):
            log.info("Answer copies a passage: %r", text[:80])
            return True
        if expected := grounding.missing_answer_type(question, text):
            log.info("Answer gives no %s: %r", expected[2:], text)
            return True
        return False

    @staticmethod
    def _untranslated(text: str, language: str, question: str, sources: list[Source]) -> list[str]:
        """Words of ``text`` copied untranslated from passages in the other language (and not from the question)."""
        other_language_passages = "\n".join(s.labelled for s in sources if s.language and s.language != language)
        return sorted(set(foreign_words(text, language, other_language_passages)) - set(question.lower().split()))

    def _follow_up(self, messages, reply: str, request: str) -> str:
        """The first line of the model's answer to ``request``, asked after its ``reply``."""
        answer = self.chat_model.invoke(prompts.follow_up_messages(messages, reply, request)).content
        lines = (grounding.split_reply(answer)[1] or answer).strip().splitlines()
        return lines[0].strip() if lines else ""

    def _rewrite(self, messages, reply: str, answer: Answer, question: str, evidence: str, bare: bool) -> str:
        """A bare or wrong-language answer as a sentence in the question's language.

        Kept as is if the rewrite invents a number, is in the wrong language, or
        leaves more than a word or two untranslated.
        """
        language = answer.language
        rewritten = self._follow_up(messages, reply, prompts.restate_request(language, bare))
        if (
            not rewritten
            or grounding.unsupported_numbers(rewritten, evidence + "\n" + answer.text)
            or detect_language(rewritten) != language
            or len(self._untranslated(rewritten, language, question, answer.sources)) > MAX_TRANSLATED_WORDS
        ):
            log.info("Rewrite not kept: %r", rewritten)
            return answer.text
        return rewritten

    def _translate_words(self, messages, reply: str, text: str, untranslated: list[str], language: str) -> str:
        """``text`` with each word of ``untranslated`` replaced by its translation into ``language``."""
        for word in untranslated:
            translation = self._follow_up(messages, reply, prompts.translate_word_request(word, language)).strip(" .\"'")
            if translation and len(translation.split()) <= MAX_TRANSLATION_WORDS and translation.lower() != word:
                text = re.sub(rf"\b{re.escape(word)}\b", lambda _: translation, text)  # model output: data, not a template
        return text

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

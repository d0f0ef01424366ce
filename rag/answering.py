"""Answering one question from its passages: generate, check, repair.

1. **generate** — the chat model replies ``ANSWER: …`` then ``QUOTE: …`` (on llama.cpp a grammar keeps
   the quote to the opening of one of the passages' sentences); the answer streams as it comes.
2. **check** — the declared ``CHECKS`` run in order; each returns what is wrong with the draft, or None.
3. **repair** — a failed check that has a repair asks the model once more (a follow-up turn of the same
   conversation, so llama.cpp reads only the request) and every check runs again; a check without one
   refuses the answer, with its reason.

The prompt is first fitted to the chat model's context (where the model counts tokens: llama.cpp): the
conversation's oldest turns are dropped, then its last one shortened; a question that does not fit alone
raises ``QuestionTooLong`` (a ``ValueError``, in English and French) before any model call, and a repair that would not fit is not made.

A question costs at most ``max_model_calls`` calls of the chat model. Every ``Answer`` says which check
refused it (``check``, ``reason``, and ``explanation`` for the user) and what was repaired (``repairs``).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import numpy as np
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage

from rag import grounding, prompts
from rag.language import BilingualError, detect_language, foreign_words, is_word_of, is_yes_no_question
from rag.retrieval import Source, tokenize

log = logging.getLogger(__name__)

# Characters of answer held back before streaming starts, to check its language first.
LANGUAGE_CHECK_CHARS = 16
# Tokens of the chat model's context kept free, beyond the answer's, for a repair (its reply again and the
# request, ~250 tokens as a rule); a repair that does not fit all the same is not made.
REPAIR_TOKENS = 300


class QuestionTooLong(BilingualError):
    """The question alone, with its passages, leaves the chat model no room to answer."""


@dataclass
class Answer:
    """An answer with the passages it comes from, and why it was refused or repaired."""

    text: str
    language: str  # the question's language, "fr" or "en"
    answered: bool  # False when the documents do not hold the answer
    sources: list[Source] = field(default_factory=list)
    quote: str | None = None  # the sentence of the first source that holds the answer
    seconds: float = 0.0
    check: str | None = None  # the check that refused the answer
    reason: str | None = None  # what that check found, for logs and evaluation
    explanation: str | None = None  # one line for the user, in the question's language
    repairs: list[str] = field(default_factory=list)  # "<check>: <reason>" for each repair asked
    model_calls: int = 0  # replies generated (reading the probability of NONE generates none)
    no_answer_probability: float | None = None  # the model's probability of NONE as its answer, where known


@dataclass
class Draft:
    """A reply under examination, with everything the checks look at."""

    question: str
    language: str
    sources: list[Source]
    evidence: str  # question, titled passages and conversation: where an answer's facts may come from
    reply: str  # the model's whole reply
    text: str | None  # its answer part
    quote: str | None  # its quote part
    examples: str = ""  # the worked examples the model was shown
    messages: list[BaseMessage] = field(default_factory=list)  # the conversation the reply answers
    history: list[tuple[str, str]] = field(default_factory=list)
    documents: dict[str, str] = field(default_factory=dict)  # the whole text of each source's document, by path
    embed: Callable[[list[str]], list[list[float]]] | None = None  # the multilingual embedding, for words

    @property
    def passages(self) -> list[str]:
        return [source.text for source in self.sources]

    def document(self, path: str) -> str:
        """The whole text of the document at ``path``, or its passages at hand when it was not read whole."""
        return self.documents.get(path) or "\n".join(s.labelled for s in self.sources if s.document == path)

    @property
    def supporting(self) -> int:
        """The passage holding most of the answer's words (the quoted one on a tie)."""
        return grounding.supporting_passage(self.text or "", self.quote, [s.labelled for s in self.sources])


# Thresholds of the checks below.
MAX_UNSUPPORTED_SHARE = 0.5  # of an answer's content words in no passage, when all are in its language
MIN_ANSWER_WORDS = 4  # a shorter answer (a bare name) has no language one can tell: it is restated
MAX_BORROWED_WORDS = 3  # words of the worked examples (and of no passage) that show an example was copied
MAX_UNTRANSLATED_WORDS = 0  # words copied from passages in the other language, left untranslated
MIN_ITEMS_NAMED = 0.5  # share of a quoted list's items an answer names
# Cosine of a word and its translation in the multilingual embedding, measured with the default one (USE:
# Mayor/maire 0.74, City/ville 0.87, Committee/comité 0.96; two cities' names 0.37 to 0.51, but Montréal/Québec
# 0.73, hence names are left out); embeddings.TELLS_TRANSLATIONS lists the models it holds for.
MIN_TRANSLATION_SIMILARITY = 0.7


def model_found_no_answer(draft: Draft) -> str | None:
    """NONE (the reply format's word for "no answer"), even inside a sentence, or words saying the same."""
    if grounding.is_none(draft.text) or re.search(r"\bNONE\b", draft.text) or grounding.says_not_in_passages(draft.text):
        return "the model found no answer in the passages"
    return None


def cut_off(draft: Draft) -> str | None:
    """An answer with no QUOTE line after it: the reply ran on (often copying out a passage) and was stopped, or
    the model left the format. The question is asked afresh, without the worked examples: a small model that
    ran away once in a conversation tends to do it again there."""
    if draft.quote is not None:
        return None
    if grounding.copies_passage(draft.text, draft.passages):
        return "it copies out a passage and runs on instead of answering the question"
    return "the reply stopped before its QUOTE line"


def quote_in_no_passage(draft: Draft) -> str | None:
    if grounding.is_none(draft.quote) or grounding.find_quote(draft.quote, draft.passages) is None:
        return f"the quote {draft.quote!r} is in no passage"
    return None


def invented_numbers(draft: Draft) -> str | None:
    if numbers := grounding.unsupported_numbers(draft.text, draft.evidence):
        return f"the numbers {', '.join(numbers)} are in no passage"
    return None


def invented_words(draft: Draft) -> str | None:
    """Most of the answer's words are in no passage (only judged when the passages share its language)."""
    if any(source.language != draft.language for source in draft.sources):
        return None
    unsupported = grounding.unsupported_words(draft.text, draft.evidence)
    if len(unsupported) > MAX_UNSUPPORTED_SHARE * len(grounding.content_words(draft.text)):
        return f"the words {', '.join(unsupported)} are in no passage"
    return None


def about_another_document(draft: Draft) -> str | None:
    """The question names something the passages know but the documents the answer comes from never mention.

    Those documents hold the passage that best supports each clause of the answer: a question about two
    documents is answered from both. Each is read whole: a name may be in a passage that was not retrieved,
    or translated, in a document of the other language ("Deputy Mayor" is "adjointe au maire").
    """
    titled = [s.labelled for s in draft.sources]
    supporting = {draft.sources[grounding.supporting_passage(clause, None, titled)].document for clause in grounding.clauses(draft.text)}
    supporting.add(draft.sources[draft.supporting].document)
    cited = "\n".join(map(draft.document, supporting))
    missing = set(grounding.names_missing_from(draft.question, cited, "\n".join(titled)))
    for document in supporting:
        missing -= translated_in(draft, document, missing, draft.question)
    if missing:
        return f"{', '.join(sorted(supporting))} never mention {', '.join(sorted(missing))}"
    return None


def facts_of_several_documents(draft: Draft) -> str | None:
    """A clause whose names and numbers no single document holds together: facts moved between documents.
    A document of the other language holds the answer's words it holds translated."""
    names = grounding.names_in(draft.text)
    documents = []
    for document in dict.fromkeys(source.document for source in draft.sources):
        text = draft.document(document)
        translated = translated_in(draft, document, names - set(grounding.words(text)), draft.text)
        documents.append("\n".join([text, *translated]))
    if mixed := grounding.facts_from_several_documents(draft.text, documents, draft.question):
        return f"no document holds together the facts of {' / '.join(repr(clause) for clause in mixed)}"
    return None


def translated_in(draft: Draft, document: str, names: set[str], written_in: str) -> set[str]:
    """Those of ``names`` (normalised words of ``written_in``, in the draft's language) that ``document``, when it
    is in the other language, holds translated: each is a word of the draft's language (names of places and
    people are not: "Boston", "Montréal" stay as they are) and a word of the document is that close to it in the
    multilingual embedding space. Needs the embedding; without it, nothing is taken as translated."""
    languages = {source.language for source in draft.sources if source.document == document}
    if not names or draft.embed is None or draft.language in languages:
        return set()
    written = {grounding.normalise(word): word for word in re.findall(r"\w+", written_in)}
    asked = [word for word in (written.get(name, name) for name in sorted(names)) if is_word_of(word, draft.language)]
    candidates = sorted(set(re.findall(r"[^\W\d_]{3,}", draft.document(document)))) if asked else []
    if not candidates:
        return set()
    vectors = np.array(draft.embed([*asked, *candidates]))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    closest = (vectors[: len(asked)] @ vectors[len(asked) :].T).max(axis=1)
    return {grounding.normalise(word) for word, similarity in zip(asked, closest) if similarity >= MIN_TRANSLATION_SIMILARITY}


def uses_the_examples(draft: Draft) -> str | None:
    """Words of the prompt's worked examples that no passage holds: the model copied an example."""
    if len(borrowed := grounding.borrowed_words(draft.text, draft.examples, draft.evidence)) >= MAX_BORROWED_WORDS:
        return f"the words {', '.join(borrowed)} come from the worked examples, not from the passages"
    return None


def copies_a_passage(draft: Draft) -> str | None:
    if grounding.copies_passage(draft.text, draft.passages):
        return "it copies out a passage instead of answering the question"
    return None


def lacks_asked_type(draft: Draft) -> str | None:
    if expected := grounding.missing_answer_type(draft.question, draft.text):
        return f"the question asks for {expected} and the answer gives none"
    return None


def unfinished_list(draft: Draft) -> str | None:
    """An answer that announces items ("les conditions suivantes :") and stops before naming them."""
    if draft.text.rstrip().endswith(":"):
        return "it announces a list but names none of its items"
    return None


def yes_no_without_fact(draft: Draft) -> str | None:
    """A yes or no that only repeats the question ("Yes, the mission took place"): it brings no word or number
    of the passages that the question lacks (any new word, when the passages are in another language)."""
    if not is_yes_no_question(draft.question, draft.language):
        return None
    passages = "\n".join(draft.passages)
    words = set(grounding.unsupported_words(draft.text, draft.question))
    if all(source.language == draft.language for source in draft.sources):
        words -= set(grounding.unsupported_words(draft.text, passages))
    numbers = set(grounding.unsupported_numbers(draft.text, draft.question))
    numbers -= set(grounding.unsupported_numbers(draft.text, passages))
    if not words and not numbers:
        sentence = quoted_sentence(draft)
        pointer = f": «{sentence}»" if sentence else ""
        return f"it only repeats the question; give the fact of the passages that shows it{pointer}"
    return None


def quoted_sentence(draft: Draft) -> str | None:
    """The whole sentence of the passages that the reply quotes the opening of, if any."""
    if grounding.is_none(draft.quote):
        return None
    found = (grounding.sentence_containing(draft.quote, passage) for passage in draft.passages)
    return next((sentence for sentence in found if sentence), None)


QUOTE_MARKS = {"fr": (" : « ", " »"), "en": (": “", "”")}


def with_quoted_fact(draft: Draft) -> str:
    """A yes or no followed by the sentence it quotes, word for word: the fact that shows it, where the model
    would not write it. Only a sentence of the passage the answer comes from, in the question's language, and
    about what the question asks (a word of it beyond its names): a small model often quotes another."""
    supporting = draft.passages[draft.supporting]
    sentence = None if grounding.is_none(draft.quote) else grounding.sentence_containing(draft.quote, supporting)
    if sentence is None or detect_language(sentence) != draft.language or not about_the_question(sentence, draft.question):
        return draft.text
    opening, closing = QUOTE_MARKS[draft.language]
    return f"{draft.text.rstrip(' .')}{opening}{sentence}{closing}"


def about_the_question(sentence: str, question: str) -> bool:
    """Whether ``sentence`` shares a search word of ``question`` (by stem) other than its names."""
    names = {grounding.stem(name) for name in grounding.names_in(question)}
    asked = {grounding.stem(word) for word in tokenize(question)} - names
    return bool(asked & {grounding.stem(word) for word in tokenize(sentence)})


def list_left_out(draft: Draft) -> str | None:
    """The quoted sentence announces a list ("… en cinq lignes :") and the answer names few of its items.

    A count question is answered by the count.
    """
    if grounding.COUNT_QUESTION.search(draft.question):
        return None
    items = next((items for passage in draft.passages if (items := grounding.announced_items(draft.quote, passage))), [])
    named = [item for item in items if grounding.shares_a_fact(item, draft.text)]
    if items and len(named) < MIN_ITEMS_NAMED * len(items):
        return f"the sentence it quotes announces {len(items)} items and it names {len(named)}; name every one"
    return None


def too_short(draft: Draft) -> str | None:
    if len(grounding.words(draft.text)) < MIN_ANSWER_WORDS:
        return "the answer is not a sentence"
    return None


def wrong_language(draft: Draft) -> str | None:
    """Not written in the question's language, or with words left untranslated from the passages."""
    if detect_language(draft.text) != draft.language:
        return f"the answer is not in {prompts.LANGUAGE_NAMES[draft.language]}"
    other = "\n".join(s.labelled for s in draft.sources if s.language and s.language != draft.language)
    copied = set(foreign_words(draft.text, draft.language, other)) - set(draft.question.lower().split())
    if len(copied) > MAX_UNTRANSLATED_WORDS:
        return f"the words {', '.join(sorted(copied))} are not translated into {prompts.LANGUAGE_NAMES[draft.language]}"
    return None


@dataclass(frozen=True)
class Check:
    """One thing a draft answer must not do.

    ``repair``: "answer again" (the model answers anew, told what was wrong), "without examples" (the
    question is asked afresh with no worked examples to copy) or "restate" (the model rewrites its answer
    as a sentence in the question's language); None refuses the answer at once.
    ``keep_unrepaired``: a draft still failing after its repair (or with no calls left) is given anyway,
    as ``kept_as`` rewrites it where set.
    ``explanation``: the line a user reads under a refusal, per language.
    """

    name: str
    test: Callable[[Draft], str | None]
    explanation: dict[str, str]
    repair: str | None = None
    keep_unrepaired: bool = False
    kept_as: Callable[[Draft], str] | None = None


NOT_FOUND = {"fr": "Aucun passage ne contient la réponse.", "en": "No passage holds the answer."}

CHECKS = [
    Check("no-answer", model_found_no_answer, NOT_FOUND),
    Check("numbers", invented_numbers, {
        "fr": "Un nombre de la réponse ne figure dans aucun passage.", "en": "A number in the answer is in no passage."},
        repair="answer again"),
    Check("cut", cut_off, NOT_FOUND, repair="without examples"),
    Check("quote", quote_in_no_passage, {
        "fr": "La phrase citée ne figure dans aucun passage.", "en": "The quoted sentence is in no passage."}),
    Check("mixed", facts_of_several_documents, {
        "fr": "La réponse mêle des faits de documents différents.",
        "en": "The answer mixes facts from different documents."}, repair="answer again"),
    Check("examples", uses_the_examples, NOT_FOUND, repair="without examples"),
    Check("words", invented_words, {
        "fr": "La réponse parle de choses qu'aucun passage ne mentionne.",
        "en": "The answer speaks of things no passage mentions."}),
    Check("document", about_another_document, {
        "fr": "Le document qui répond ne parle pas de ce que nomme la question.",
        "en": "The document that answers does not mention what the question names."}),
    Check("copy", copies_a_passage, NOT_FOUND, repair="answer again", keep_unrepaired=True),
    Check("type", lacks_asked_type, {
        "fr": "Les passages ne donnent pas ce que demande la question (un nombre, une date, un lieu, une personne).",
        "en": "The passages do not give what the question asks for (a number, a date, a place, a person)."}, repair="answer again"),
    Check("list", unfinished_list, {
        "fr": "La réponse annonce une liste sans en donner les éléments.",
        "en": "The answer announces a list without giving its items."}, repair="answer again"),
    Check("items", list_left_out, {
        "fr": "La réponse omet des éléments de la liste citée.", "en": "The answer leaves out items of the quoted list."},
        repair="answer again", keep_unrepaired=True),
    Check("yes-no", yes_no_without_fact, {
        "fr": "La réponse dit oui ou non sans le fait qui le montre.",
        "en": "The answer says yes or no without the fact that shows it."}, repair="answer again", keep_unrepaired=True,
        kept_as=with_quoted_fact),
    Check("short", too_short, NOT_FOUND, repair="restate", keep_unrepaired=True),
    Check("language", wrong_language, NOT_FOUND, repair="restate", keep_unrepaired=True),
]


def first_failure(draft: Draft, checks: list[Check] = CHECKS) -> tuple[Check, str] | None:
    """The first check ``draft`` fails, with its reason; None when it passes them all."""
    if draft.text is None:
        return checks[0], "the reply has no answer"
    for check in checks:
        if reason := check.test(draft):
            return check, reason
    return None


def shortenings(history: list[tuple[str, str]]) -> Iterator[list[tuple[str, str]]]:
    """``history``, then ever shorter: its oldest turns dropped one by one, then its last turn's question and
    answer cut by half again and again (their starts hold what a follow-up refers to), then nothing."""
    yield from (history[first:] for first in range(len(history) - 1))
    question, answer = history[-1] if history else ("", "")
    while question or answer:
        yield [(question, answer)]
        question, answer = question[: len(question) // 2], answer[: len(answer) // 2]
    yield []


class Answerer:
    """Answers a question from given passages with a chat model, checking and repairing its reply."""

    def __init__(
        self, chat_model: BaseChatModel, max_model_calls: int = 3, worked_examples: bool = True,
        abstain_threshold: float = 0.5, document_text: Callable[[str], str] | None = None,
        embed_words: Callable[[list[str]], list[list[float]]] | None = None,
    ):
        """``document_text`` gives a document's whole text by its path (the checks that speak of a document
        read it whole); without it, a document is only its passages at hand. ``embed_words`` (the multilingual
        embedding) lets them find a word of the question translated in a document; without it, they do not."""
        self.chat_model = chat_model
        self.document_text = document_text
        self.embed_words = embed_words
        self.max_model_calls = max_model_calls
        self.worked_examples = worked_examples
        self.abstain_threshold = abstain_threshold

    def read_instructions(self) -> None:
        """Have the chat model read the fixed instructions and examples (kept in its cache; ``Chatbot`` calls
        this once); any other LangChain chat model has nothing to read ahead."""
        if warm_up := getattr(self.chat_model, "warm_up", None):
            warm_up(prompts.fixed_prefix(self.worked_examples))

    def stream(
        self, question: str, language: str, sources: list[Source], history: list[tuple[str, str]],
        started: float | None = None,
    ) -> Iterator[Answer]:
        """Yield the answer as it grows; the last one is final, with its sources and the seconds since
        ``started`` (a ``time.perf_counter()`` reading; by default, now)."""
        started = time.perf_counter() if started is None else started
        if not sources:
            final = self._refusal(language, sources, CHECKS[0], "no passage was found", calls=0)
        else:
            final = yield from self._answer(question, language, sources, history)
        final.seconds = time.perf_counter() - started
        yield final

    def _answer(self, question, language, sources, history):
        """Generate (streaming), then check and repair until every check passes or one refuses."""
        history, messages = self._fitted(question, language, [s.labelled for s in sources], history)
        evidence = "\n".join([question, *(s.labelled for s in sources), *(q + " " + a for q, a in history)])
        # Whether to answer at all is decided on the model's probability of NONE, not on its greedy choice.
        probability = self._no_answer_probability(messages, [s.labelled for s in sources])
        if probability is not None and probability >= self.abstain_threshold:
            reason = f"the model gives no answer a probability of {probability:.2f}"
            return self._refusal(language, sources, CHECKS[0], reason, calls=0, probability=probability)
        yes_no = prompts.YES_NO[language] if is_yes_no_question(question, language) else None
        options = self._reply_options(sources, none_answer=probability is None, yes_no=yes_no)
        reply = yield from self._stream_reply(messages, options, language, evidence)
        quote, text = grounding.split_reply(reply)
        examples = prompts.EXAMPLES_TEXT if self.worked_examples else ""
        paths = {s.document for s in sources} if self.document_text else set()
        documents = {path: self.document_text(path) for path in paths}
        draft = Draft(
            question, language, sources, evidence, reply, text, quote, examples, messages, history, documents, self.embed_words
        )
        final = self._checked(draft, self._reply_options(sources, yes_no=yes_no))
        final.no_answer_probability = probability
        return final

    def _fitted(self, question, language, passages: list[str], history) -> tuple[list, list[BaseMessage]]:
        """The longest shortening of ``history`` whose prompt leaves the model room for its answer and a
        repair, with that prompt; a question that leaves none even alone is refused before any model work."""
        for shorter in shortenings(history):
            messages = prompts.answer_messages(passages, question, language, shorter, examples=self.worked_examples)
            if self._fits(messages, spare=REPAIR_TOKENS):
                return shorter, messages
        room = self.chat_model.room
        without_question = room(prompts.answer_messages(passages, "", language, [], examples=self.worked_examples))
        if without_question <= REPAIR_TOKENS:  # no question could fit: the settings, not the user, must change
            raise BilingualError(
                "The passages leave the chat model no room to answer: lower top_k or chunk_size, or raise "
                "llm_context_tokens.",
                "Les passages ne laissent au modèle aucune place pour répondre : baissez top_k ou chunk_size, "
                "ou augmentez llm_context_tokens.",
            )
        needed, fit = without_question - room(messages), without_question - REPAIR_TOKENS
        raise QuestionTooLong(
            f"The question is too long for the model: {needed} tokens where {fit} fit; shorten it.",
            f"La question est trop longue pour le modèle : {needed} jetons, pour {fit} possibles ; raccourcissez-la.",
        )

    def _fits(self, messages, spare: int = 0) -> bool:
        """Whether ``messages``, the longest reply and ``spare`` tokens fit in the model's context; always, with
        a model that cannot count them (see ``OpenAIServerChat``)."""
        room = getattr(self.chat_model, "room", None)
        return room is None or room(messages) >= spare

    def _leaves_room_for(self, draft: Draft, request: str | None) -> bool:
        """Whether the model has room for ``request`` after its reply (a repair asked afresh is shorter than
        the first prompt: it has)."""
        return request is None or self._fits(prompts.follow_up_messages(draft.messages, draft.reply, request))

    def _checked(self, draft: Draft, options: dict) -> Answer:
        """The draft as an answer once every check passes, repaired where a check can be (a new answer is
        generated with ``options``), or a refusal."""
        calls, repaired, repairs = 1, set(), []
        kept: Draft | None = None  # the first draft that failed only a check whose failure is tolerated
        while failure := first_failure(draft):
            check, reason = failure
            log.info("Check %s: %s: %r", check.name, reason, draft.text)
            if check.keep_unrepaired and kept is None:
                kept = replace(draft, text=check.kept_as(draft)) if check.kept_as else draft
            request = self._repair_request(check, reason, draft.language)
            if (
                check.repair is None or check.name in repaired or calls >= self.max_model_calls
                or not self._leaves_room_for(draft, request)
            ):
                if kept is not None:
                    return self._accepted(kept, repairs, calls)
                return self._refusal(draft.language, draft.sources, check, reason, calls, repairs)
            repaired.add(check.name)
            repairs.append(f"{check.name}: {reason}")
            draft = self._repaired(draft, check, request, options)
            log.info("Repaired (%s): %r", check.name, draft.text)
            calls += 1
        return self._accepted(draft, repairs, calls)

    def _no_answer_probability(self, messages, passages: list[str]) -> float | None:
        """P(NONE) as the first word of the answer, from a model that tells its probabilities (llama.cpp)."""
        if not hasattr(self.chat_model, "first_word_probability"):
            return None
        self.read_instructions()
        return self.chat_model.first_word_probability(messages, "ANSWER:", "NONE", passages=passages)

    def _stream_reply(self, messages, options: dict, language: str, evidence: str):
        """Run the model, yielding the answer as it streams; return the whole reply.

        Streaming starts once the first words are in the question's language. A
        "NONE" answer, a number found in no passage or an answer line running on stops generation at once.
        """
        reply = ""
        for chunk in self.chat_model.stream(messages, **options):
            reply += chunk.content
            quote, text = grounding.split_reply(reply)
            if text is None:
                continue
            settled = grounding.settled_answer(text)
            if grounding.is_none(text[:4]) or grounding.unsupported_numbers(settled, evidence):
                return reply  # the checks will refuse it
            if quote is None and grounding.runs_away(text):
                return reply  # the checks will ask again
            if quote is None and len(settled) >= LANGUAGE_CHECK_CHARS and detect_language(settled) == language:
                yield Answer(settled, language, answered=True)
        return reply

    def _reply_options(self, sources: list[Source], none_answer: bool = True, yes_no=None) -> dict:
        """With llama.cpp: a grammar makes the quote open one of the passages' sentences, word for word, and
        a yes/no question's answer start with yes or no; the passages are named so that their stored states
        can be used. Once the probability of NONE was read, the first reply may not be NONE (``none_answer``)."""
        if not getattr(self.chat_model, "supports_grammar", False):
            return {}
        self.read_instructions()
        return {
            "grammar": grounding.reply_grammar([s.text for s in sources], none_answer, yes_no),
            "passages": [s.labelled for s in sources],
        }

    @staticmethod
    def _repair_request(check: Check, reason: str, language: str) -> str | None:
        """What the model is asked after its reply, to repair it; None where the question is asked afresh (the
        model is then sent no request it could repeat)."""
        if check.repair == "restate":
            return prompts.restate_request(language, check.name == "short", reason)
        if check.repair == "answer again":
            return prompts.answer_again_request(reason, language)
        return None

    def _repaired(self, draft: Draft, check: Check, request: str | None, options: dict) -> Draft:
        """The draft after one more model call, as ``check.repair`` says."""
        if check.repair == "restate":
            restated = self._follow_up(draft.messages, draft.reply, request, options)
            if not restated or self._repeats(restated, request, draft):
                return draft
            return replace(draft, text=restated)
        if request is None:
            messages = prompts.answer_messages(
                [s.labelled for s in draft.sources], draft.question, draft.language, draft.history, examples=False
            )
            draft = replace(draft, messages=messages, examples="")
        else:
            messages = prompts.follow_up_messages(draft.messages, draft.reply, request)
        reply = self.chat_model.invoke(messages, **options).content
        quote, text = grounding.split_reply(reply)
        if text and request and self._repeats(text, request, draft):
            return draft
        return replace(draft, reply=reply, text=text, quote=quote)

    @staticmethod
    def _repeats(text: str, request: str, draft: Draft) -> bool:
        """A repair that answers with the words of its own request is no repair: the draft stays as it was."""
        if grounding.repeats_request(text, request, f"{draft.evidence}\n{draft.text}"):
            log.info("Repair dropped, it repeats the request: %r", text)
            return True
        return False

    def _follow_up(self, messages, reply: str, request: str, options: dict) -> str:
        """The first line (and the list items after it) of the model's answer to ``request``, asked after its ``reply`` (free text: only the
        passages of ``options`` are kept)."""
        passages = {"passages": options["passages"]} if "passages" in options else {}
        answer = self.chat_model.invoke(prompts.follow_up_messages(messages, reply, request), **passages).content
        return grounding.first_answer(grounding.split_reply(answer)[1] or answer)

    @staticmethod
    def _accepted(draft: Draft, repairs: list[str], calls: int) -> Answer:
        """The draft as an answer citing the passage that holds it, quoting that passage's sentence."""
        best = draft.supporting
        passage = draft.passages[best]
        if grounding.find_quote(draft.quote, [passage]) is None:
            quote = grounding.best_sentence(draft.text, passage)
        else:
            quote = grounding.sentence_containing(draft.quote, passage) or draft.quote
        cited = [draft.sources[best], *draft.sources[:best], *draft.sources[best + 1 :]]
        return Answer(draft.text, draft.language, True, cited, quote, repairs=repairs, model_calls=calls)

    @staticmethod
    def _refusal(language, sources, check: Check, reason: str, calls: int, repairs=(), probability=None) -> Answer:
        return Answer(
            grounding.REFUSALS[language], language, False, sources,
            check=check.name, reason=reason, explanation=check.explanation[language],
            repairs=list(repairs), model_calls=calls, no_answer_probability=probability,
        )

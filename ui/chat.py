"""The chat: the bot's answers as chat messages, and the ``/chat`` endpoint for programs.

Everything that comes from documents or from the model is escaped before it
is shown, so a document holding HTML or Markdown displays as plain text.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterator

from rag import Answer, Chatbot
from rag.language import BilingualError, detect_language
from rag.llm import ChatBackendError
from rag.store import StoreBackendError

log = logging.getLogger(__name__)

NOT_FOUND_MARK = "🔎"
ERROR_MARK = "⚠️"
LANGUAGE_SAMPLE_CHARS = 1000  # of a question, enough to tell its language
MARKDOWN_SPECIALS = r"\\`*_\[\]#|~"
LABELS = {
    "fr": {"sources": "Sources", "relevance": "pertinence"},
    "en": {"sources": "Sources", "relevance": "relevance"},
}
FAILURES = {
    "fr": "Aucune réponse n'a pu être produite : {error} Réessayez dans un instant.",
    "en": "No answer could be produced: {error} Try again in a moment.",
}
# Under an answer the user stopped; escaped answer text never holds a bare "*", so it cannot end like this.
STOPPED_MARKS = {"fr": "\n\n*— réponse interrompue*", "en": "\n\n*— answer stopped*"}


def escape(text: str) -> str:
    """Markdown that displays ``text`` as it is: no HTML, no formatting."""
    return re.sub(f"([{MARKDOWN_SPECIALS}])", r"\\\1", html.escape(text, quote=False))


def unescape(markdown: str) -> str:
    """The text ``escape`` was given."""
    return html.unescape(re.sub(f"\\\\([{MARKDOWN_SPECIALS}])", r"\1", markdown))


def answer_messages(answer: Answer, final: bool = True) -> list[dict]:
    """The answer as chat messages; a final, grounded answer is followed by its collapsed sources."""
    if not answer.answered:  # the refusal in italics, then one line saying what was missing
        why = f"\n\n{escape(answer.explanation)}" if answer.explanation else ""
        return [{"role": "assistant", "content": f"{NOT_FOUND_MARK} *{escape(answer.text)}*{why}"}]
    messages = [{"role": "assistant", "content": escape(answer.text)}]
    if final and answer.sources:
        messages.append(sources_message(answer))
    return messages


def sources_message(answer: Answer) -> dict:
    """A collapsible block listing each passage with its document and relevance; the cited sentence in bold."""
    labels = LABELS.get(answer.language, LABELS["en"])
    entries = []
    for number, source in enumerate(answer.sources, start=1):
        heading = f"**{number}. {escape(source.document)}**"
        if source.title and source.title not in source.document:
            heading += f" — {escape(source.title)}"
        heading += f" · {labels['relevance']} {source.score:.2f}"
        passage = highlighted(source.text, answer.quote if number == 1 else None)
        entries.append(heading + "\n\n" + "\n".join(f"> {line}" for line in passage.splitlines()))
    title = f"{labels['sources']} ({len(answer.sources)})"
    return {"role": "assistant", "content": "\n\n".join(entries), "metadata": {"title": title, "status": "done"}}


def highlighted(passage: str, quote: str | None) -> str:
    """The escaped passage, with ``quote`` in bold when it is one line of it."""
    start = passage.find(quote) if quote and "\n" not in quote else -1
    if start < 0:
        return escape(passage)
    end = start + len(quote)
    return f"{escape(passage[:start])}**{escape(quote)}**{escape(passage[end:])}"


def error_message(text: str) -> list[dict]:
    return [{"role": "assistant", "content": f"{ERROR_MARK} {escape(text)}"}]


def message_text(message: dict) -> str:
    """The text of a chat message, whether its content is a string or a list of parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def history_pairs(messages: list[dict]) -> list[tuple[str, str]]:
    """(question, answer) pairs of the conversation so far, leaving out errors, sources blocks and the mark
    of a stopped answer: the model sees only what it wrote."""
    pairs, question = [], None
    for message in messages:
        text = message_text(message)
        if message.get("role") == "user":
            question = text
        elif question is not None and not (message.get("metadata") or {}).get("title"):
            if not text.startswith(ERROR_MARK):
                refusal = text.split("\n\n", 1)[0]  # without the line saying what was missing
                if refusal.startswith(f"{NOT_FOUND_MARK} *") and refusal.endswith("*"):
                    text = refusal[len(NOT_FOUND_MARK) + 2 : -1]
                for mark in STOPPED_MARKS.values():
                    text = text.removesuffix(mark)
                pairs.append((question, unescape(text)))
            question = None
    return pairs


def marked_as_stopped(messages: list[dict]) -> list[dict]:
    """The chat with its last answer marked as stopped, in the question's language, when the user stopped it
    part-way, so that no one copies half an answer believing it whole. A finished answer (its sources come
    last), a refusal, an error or an answer already marked is left as it is."""
    if not messages or not is_partial_answer(messages[-1]):
        return messages
    question = next((message_text(m) for m in reversed(messages) if m.get("role") == "user"), None)
    mark = STOPPED_MARKS[question_language(question) or "en"]
    return [*messages[:-1], {**messages[-1], "content": message_text(messages[-1]) + mark}]


def is_partial_answer(message: dict) -> bool:
    """Whether ``message`` is answer text cut short: a finished answer ends with its sources, a refusal or an
    error, each marked as such."""
    text = message_text(message)
    return (
        message.get("role") == "assistant"
        and not (message.get("metadata") or {}).get("title")
        and bool(text.strip())
        and not text.startswith((ERROR_MARK, NOT_FOUND_MARK))
        and not text.endswith(tuple(STOPPED_MARKS.values()))
    )


def keep_stopped_mark(history: list[dict]) -> None:
    """Mark, in place, the conversation's last answer if it was cut short and is not marked yet: the chat redraws
    the conversation from its own copy of it, which it may have kept before the Stop button's mark came."""
    if history:  # marked_as_stopped leaves any other last message as it is
        history[-1].update(marked_as_stopped(history)[-1])


def respond(bot: Chatbot, message: str, history: list[dict]) -> Iterator[list[dict]]:
    """Stream the bot's answer to ``message`` as chat messages; problems become a message, never a trace."""
    keep_stopped_mark(history)
    answer = None
    try:
        for answer in bot.stream_answers(message, history_pairs(history)):
            yield answer_messages(answer, final=False)
    except BilingualError as error:  # what the user can act on: the question's length, no documents indexed
        yield error_message(error.in_language(question_language(message)))
        return
    except Exception as error:  # noqa: BLE001 - the model, its server or the store failed; the chat stays usable
        log.exception("Answer failed")
        yield error_message(failure_text(error, message))
        return
    if answer is not None:
        yield answer_messages(answer)


def question_language(question) -> str | None:
    """The question's language; None for one that has no text. Its opening tells, however long it is."""
    return detect_language(question[:LANGUAGE_SAMPLE_CHARS]) if isinstance(question, str) and question.strip() else None


def failure_text(error: Exception, question: str) -> str:
    """What went wrong, in the question's language, in one short line."""
    return FAILURES[question_language(question) or "en"].format(error=failure_reason(error))


def failure_reason(error: Exception) -> str:
    """An unexpected error in one short line: a backend's own message names it (the chat model or the Chroma
    server) and its URL; any other error is named by its type."""
    reason = str(error) if isinstance(error, (ChatBackendError, StoreBackendError)) else f"{type(error).__name__}: {error}."
    return " ".join(reason.split())[:300]


def answer_as_dict(answer: Answer) -> dict:
    """The ``/chat`` endpoint's reply: plain text and the sources, for programs."""
    return {
        "answer": answer.text,
        "answered": answer.answered,
        "language": answer.language,
        "explanation": answer.explanation,
        "sources": [
            {"document": s.document, "title": s.title, "passage": s.text, "relevance": round(s.score, 4)}
            for s in (answer.sources if answer.answered else [])
        ],
    }

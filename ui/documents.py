"""The documents panel: what is indexed, and adding, deleting and re-indexing documents."""

from __future__ import annotations

import hmac
import ipaddress
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import gradio as gr

from rag import Chatbot
from rag.chatbot import IndexedDocument
from rag.corpus import delete_document, save_document
from rag.documents import SUPPORTED_SUFFIXES, ParserProcess, parse_document, read_file, skip_reason
from rag.indexing import counted
from rag.language import Bilingual, in_language
from ui.chat import escape, failure_reason
from ui.texts import column_headers, label, reader_language, say

log = logging.getLogger(__name__)


# Headers a reverse proxy adds: a request carrying one comes from beyond the proxy, whatever its peer address.
FORWARDING_HEADERS = {"forwarded", "x-forwarded-for", "x-forwarded-host", "x-real-ip"}


def utc_time(seconds: float | None) -> str:
    """A time since the epoch in UTC, to the minute, saying so: the server's zone may not be the reader's."""
    return "" if seconds is None else datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def is_local(host: str) -> bool:
    """Whether ``host`` (an address or name) is this computer's loopback."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class AccessRefused(Bilingual, PermissionError):
    """This request may not change the corpus."""


@dataclass(frozen=True)
class Requester:
    """Who sent a request, as far as the server can tell."""

    # The peer's address; behind a proxy on this computer, uvicorn has already put there the address the proxy
    # saw (the last one of X-Forwarded-For it did not add itself). Never a header's first entry: the client
    # writes that one, and could lock out anyone's address, or name a new one at each password it tries.
    address: str
    local: bool  # really from this computer: a loopback peer and no proxy in between

    @classmethod
    def of(cls, request: gr.Request | None) -> "Requester":
        if request is None or request.client is None:
            return cls("unknown", local=False)
        proxied = bool(FORWARDING_HEADERS & {name.lower() for name in request.headers})
        return cls(request.client.host, local=not proxied and is_local(request.client.host))


class PasswordGuard:
    """The admin password, checked in constant time; wrong tries are slowed, and a client that keeps
    trying is locked out for a while."""

    DELAY_S = 1.0  # after each wrong password
    MAX_FAILURES = 5  # wrong passwords within WINDOW_S before a lock-out
    WINDOW_S = LOCKOUT_S = 300.0

    def __init__(self, password: str):
        self._password = password.encode()
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def check(self, given: str | None, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._failures.get(client, []) if now - t < self.WINDOW_S]
            self._failures[client] = recent
            if len(recent) >= self.MAX_FAILURES:
                wait_min = max(1, round((self.LOCKOUT_S - (now - recent[-1])) / 60))
                raise AccessRefused(
                    f"Too many wrong passwords: try again in {wait_min} min.",
                    f"Trop de mots de passe erronés : réessayez dans {wait_min} min.",
                )
        if hmac.compare_digest((given or "").encode(), self._password):
            return
        time.sleep(self.DELAY_S)
        with self._lock:
            self._failures.setdefault(client, []).append(now)
        raise AccessRefused("Wrong admin password.", "Mot de passe administrateur incorrect.")


class Library:
    """The corpus as the panel sees it; every change is authorised for the request that asks for it."""

    def __init__(self, bot: Chatbot):
        self.bot = bot
        self.guard = PasswordGuard(bot.settings.admin_password) if bot.settings.admin_password else None

    @property
    def corpus_dir(self) -> Path:
        return self.bot.settings.corpus_dir

    def access_rule(self) -> str:
        """The key of the text saying who may change documents (``ui.texts``)."""
        return "access_password" if self.guard else "access_local"

    def check_access(self, password: str | None, requester: Requester) -> None:
        """Raise PermissionError unless ``requester`` may change the corpus."""
        if self.guard:
            self.guard.check(password, requester.address)
        elif not requester.local:
            raise AccessRefused(
                "Changing documents is allowed from this computer only; this server has no admin password.",
                "Les documents ne peuvent être modifiés que depuis cet ordinateur : ce serveur n'a pas de mot de "
                "passe administrateur.",
            )

    def reindex(self, password: str | None, requester: Requester, language: str = "en") -> str:
        self.check_access(password, requester)
        return say("reindexed", language, summary=escape(self.bot.index().summary(language)))

    def _reindexed(self, language: str) -> str:
        """The index run that follows an upload or a deletion: its outcome, a failure included, since the corpus
        has changed whatever happens to the index (the report must not say that nothing was added)."""
        try:
            return say("index_updated", language, summary=escape(self.bot.index().summary(language)))
        except Exception as error:  # noqa: BLE001 - told beside what was done
            log.exception("Index run after a change of the corpus failed")
            reason = in_language(error, language) if isinstance(error, Bilingual) else failure_reason(error)
            return say("index_failed", language, reason=escape(reason))

    def summary(self, documents: list[IndexedDocument] | None = None) -> str:
        """One line on what the corpus holds (``documents``: the store's list, when already read)."""
        documents = self.bot.documents() if documents is None else documents
        passages = sum(d.passages for d in documents)
        languages = ", ".join(sorted({d.language for d in documents if d.language})) or "—"
        return f"{counted(len(documents), 'document')} · {counted(passages, 'passage')} · {escape(languages)}"

    def rows(self, documents: list[IndexedDocument] | None = None) -> list[list]:
        """The documents table; "Last indexed" is when the index last read each document (new or changed)."""
        return [
            [d.source, d.title, d.language, d.passages, utc_time(d.indexed_at)]
            for d in (self.bot.documents() if documents is None else documents)
        ]

    def upload(
        self, files: list[str] | None, password: str | None, replace: bool, requester: Requester, language: str = "en"
    ) -> tuple[str, list[str]]:
        """Save each uploaded file into the corpus, then index: one line per file, and the files not added (left
        in the upload box, to try again with *Replace* ticked). A file the index would skip is not saved: in
        the corpus it would be listed nowhere, so no one could delete it."""
        self.check_access(password, requester)
        if not files:
            return say("choose_files", language), []
        settings = self.bot.settings
        lines, not_added = [], []
        parser = ParserProcess(settings.max_parse_s, int(settings.max_text_mb * 1e6))
        try:
            for upload in map(Path, files):
                line, added = self._add(upload, replace, parser, language)
                lines.append(line)
                if not added:
                    not_added.append(str(upload))
        finally:
            parser.close()
        if len(not_added) < len(files):
            lines.append(self._reindexed(language))
        return "\n".join(lines), not_added

    def _add(self, upload: Path, replace: bool, parser: ParserProcess, language: str) -> tuple[str, bool]:
        """One uploaded file into the corpus if the index can read it: the line saying what happened, and
        whether it was added."""
        settings = self.bot.settings
        try:
            parse_document(read_file(upload, settings.max_file_mb), upload.suffix, upload.name, parser.extract)
        except Exception as error:  # noqa: BLE001 - the index would skip it, for this reason
            return say("unreadable", language, name=escape(upload.name), reason=escape(skip_reason(error, language))), False
        try:
            path = save_document(self.corpus_dir, upload, upload.name, replace, settings.max_file_mb)
        except FileExistsError as error:
            return say("exists", language, error=escape(in_language(error, language))), False
        except (ValueError, OSError) as error:
            return f"- {escape(in_language(error, language))}", False
        return say("added", language, name=escape(path.name)), True

    def delete(self, source: str | None, password: str | None, requester: Requester, language: str = "en") -> str:
        self.check_access(password, requester)
        if not source:
            return say("choose_document", language)
        delete_document(self.corpus_dir, source)
        return f"{say('deleted', language, name=escape(source))} {self._reindexed(language)}"


def documents_tab(app: gr.Blocks, library: Library, summary: gr.Markdown) -> None:
    """Lay out the panel inside the current Blocks; it and the corpus ``summary`` refresh after each change.
    Its labels are in the browser's language, its messages and table headers in the request's."""
    with gr.Row(equal_height=True):
        report = gr.Markdown(elem_id="documents-report")
        reindex_button = gr.Button(label("reindex_button"), size="md", scale=0, min_width=200)
    table = gr.Dataframe(
        headers=column_headers("en"),
        datatype=["str", "str", "str", "number", "str"],
        interactive=False,
        max_height=320,
        elem_id="documents",
    )
    gr.Markdown(label(library.access_rule()), elem_id="documents-access")
    with gr.Column():
        password = gr.Textbox(label=label("password"), type="password", visible=bool(library.guard), max_lines=1)
        with gr.Row():
            with gr.Column(variant="panel"):
                files = gr.File(
                    label=label("upload"),
                    file_count="multiple",
                    file_types=sorted(SUPPORTED_SUFFIXES),
                    type="filepath",
                    height=160,
                    elem_id="upload",
                )
                replace = gr.Checkbox(label=label("replace"), value=False)
                upload_button = gr.Button(label("add_button"), variant="primary")
            with gr.Column(variant="panel"):
                chosen = gr.Dropdown(label=label("delete_choice"), choices=[], elem_id="delete-choice")
                delete_button = gr.Button(label("delete_button"), variant="stop")
                # A deletion cannot be undone: the first click only asks, about the document chosen then.
                with gr.Column(visible=False, elem_id="delete-confirmation") as confirmation:
                    question = gr.Markdown()
                    with gr.Row():
                        confirm_button = gr.Button(label("confirm_button"), variant="stop")
                        cancel_button = gr.Button(label("cancel_button"))
    # The document the question names, kept on the server: the only one "Yes, delete it" can delete.
    confirmed = gr.State(None)

    def refreshed(message: str, language: str, chosen_source: str | None = None):
        documents = library.bot.documents()  # read once: the store's whole list of passages
        sources = [d.source for d in documents]
        chosen_now = chosen_source if chosen_source in sources else None  # kept after a refusal, to try again
        dropdown = gr.Dropdown(choices=sources, value=chosen_now)
        rows = gr.Dataframe(value=library.rows(documents), headers=column_headers(language))
        return message, rows, dropdown, library.summary(documents)

    def run(not_done: str, language: str, action, *args, chosen_source: str | None = None):
        """Run a panel action; whatever happens, show its outcome and the refreshed list. A refusal or a failure
        starts with the ``not_done`` message, so that it says which action it answers."""
        not_done = say(not_done, language)
        try:
            message = action(*args, language)
        except (PermissionError, ValueError, FileNotFoundError) as error:
            message = say("refused", language, not_done=not_done, reason=escape(in_language(error, language)))
        except Exception as error:  # noqa: BLE001 - shown in the panel, not as a trace
            log.exception("Documents panel action failed")
            message = say("failed", language, not_done=not_done, reason=escape(failure_reason(error)))
        return refreshed(message, language, chosen_source)

    # Each change is authorised on the server, for the request that asks for it (gr.Request is injected).
    def load(request: gr.Request):
        return refreshed("", reader_language(request))

    def reindex(given_password, request: gr.Request):
        return run("not_reindexed", reader_language(request), library.reindex, given_password, Requester.of(request))

    def upload(chosen_files, given_password, replace_existing, request: gr.Request):
        not_added = chosen_files  # all of them, unless the upload runs

        def add(*args) -> str:
            nonlocal not_added
            message, not_added = library.upload(*args)
            return message

        outcome = run("nothing_added", reader_language(request), add, chosen_files, given_password, replace_existing,
                      Requester.of(request))
        return *outcome, not_added

    def withdrawn():
        """No question shown, and no document confirmed."""
        return gr.Column(visible=False), None

    def ask_to_delete(source, request: gr.Request):
        """Delete nothing yet: ask about the chosen document, and remember which one it was."""
        language = reader_language(request)
        if not source:
            return say("choose_document", language), "", *withdrawn()
        return gr.skip(), say("confirm_delete", language, name=escape(source)), gr.Column(visible=True), source

    def delete(confirmed_source, given_password, request: gr.Request):
        """Delete the document the question named, never the dropdown's choice of the moment; then the question
        is gone, whatever the outcome, so that each deletion is confirmed anew."""
        outcome = run("nothing_deleted", reader_language(request), library.delete, confirmed_source, given_password,
                      Requester.of(request), chosen_source=confirmed_source)
        return *outcome, *withdrawn()

    outputs = [report, table, chosen, summary]
    private = {"outputs": outputs, "api_visibility": "private"}
    app.load(load, **private)
    reindex_button.click(reindex, inputs=[password], **private)
    upload_button.click(upload, inputs=[files, password, replace], outputs=[*outputs, files], api_visibility="private")
    delete_button.click(
        ask_to_delete, inputs=[chosen], outputs=[report, question, confirmation, confirmed], api_visibility="private"
    )
    confirm_button.click(
        delete, inputs=[confirmed, password], outputs=[*outputs, confirmation, confirmed], api_visibility="private"
    )
    # Cancelling, or choosing another document, withdraws the question: it stands only for the document shown.
    for withdrawing in (cancel_button.click, chosen.change):
        withdrawing(withdrawn, outputs=[confirmation, confirmed], api_visibility="private")

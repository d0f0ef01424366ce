"""The documents panel: what is indexed, and adding, deleting and re-indexing documents."""

from __future__ import annotations

import hmac
import ipaddress
import logging
from datetime import datetime
from pathlib import Path

import gradio as gr

from rag import Chatbot, IndexReport
from rag.corpus import delete_document, save_document
from rag.documents import SUPPORTED_SUFFIXES
from ui.chat import escape

log = logging.getLogger(__name__)

COLUMNS = ["Document", "Title", "Language", "Passages", "Last indexed"]


def is_local(host: str) -> bool:
    """Whether a server bound to ``host`` is reachable from this computer only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Library:
    """The corpus as the panel sees it; uploads and deletions are checked against the admin password."""

    def __init__(self, bot: Chatbot, host: str):
        self.bot = bot
        self.password = bot.settings.admin_password or None
        self.editable = self.password is not None or is_local(host)
        self.indexed_at: dict[str, str] = {}

    @property
    def corpus_dir(self) -> Path:
        return self.bot.settings.corpus_dir

    def access_note(self) -> str:
        if not self.editable:
            return (
                "Adding and deleting documents is off: this server is reachable from the network and has no "
                "admin password. Set `RAG_ADMIN_PASSWORD` to turn it on."
            )
        if self.password:
            return "Adding and deleting documents needs the admin password."
        return "Adding and deleting documents is open to this computer only (the server listens on localhost)."

    def check_access(self, password: str | None) -> None:
        if not self.editable:
            raise PermissionError("Adding and deleting documents is turned off on this server.")
        if self.password and not hmac.compare_digest((password or "").encode(), self.password.encode()):
            raise PermissionError("Wrong admin password.")

    def index(self) -> IndexReport:
        """Bring the index in line with the corpus folder, noting when each document was last indexed."""
        report = self.bot.index()
        now = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        self.indexed_at = {document.source: now for document in self.bot.documents()}
        return report

    def reindex(self) -> str:
        return f"Index updated: {escape(self.index().summary())}."

    def summary(self) -> str:
        """One line on what the corpus holds."""
        documents = self.bot.documents()
        passages = sum(d.passages for d in documents)
        languages = ", ".join(sorted({d.language for d in documents if d.language})) or "—"
        plural = "s" if len(documents) != 1 else ""
        return f"{len(documents)} document{plural} · {passages} passages · {escape(languages)}"

    def rows(self) -> list[list]:
        return [
            [d.source, d.title, d.language, d.passages, self.indexed_at.get(d.source, "")]
            for d in self.bot.documents()
        ]

    def sources(self) -> list[str]:
        return [d.source for d in self.bot.documents()]

    def upload(self, files: list[str] | None, password: str | None, replace: bool) -> str:
        """Save each uploaded file into the corpus, then index; one line per file."""
        self.check_access(password)
        if not files:
            return "Choose one or more files first."
        lines, saved = [], 0
        for upload in map(Path, files):
            try:
                path = save_document(self.corpus_dir, upload, upload.name, replace, self.bot.settings.max_file_mb)
            except FileExistsError as error:
                lines.append(f"- {escape(str(error))} Tick *Replace documents of the same name* to replace it.")
            except (ValueError, OSError) as error:
                lines.append(f"- {escape(str(error))}")
            else:
                saved += 1
                lines.append(f"- Added **{escape(path.name)}**.")
        if saved:
            lines.append(self.reindex())
        return "\n".join(lines)

    def delete(self, source: str | None, password: str | None) -> str:
        self.check_access(password)
        if not source:
            return "Choose a document to delete first."
        delete_document(self.corpus_dir, source)
        return f"Deleted **{escape(source)}**. {self.reindex()}"


def documents_tab(app: gr.Blocks, library: Library, summary: gr.Markdown) -> None:
    """Lay out the panel inside the current Blocks; it and the corpus ``summary`` refresh after each change."""
    with gr.Row(equal_height=True):
        report = gr.Markdown(elem_id="documents-report")
        reindex_button = gr.Button("Re-index the corpus", size="md", scale=0, min_width=200)
    table = gr.Dataframe(
        headers=COLUMNS,
        datatype=["str", "str", "str", "number", "str"],
        interactive=False,
        max_height=320,
        elem_id="documents",
    )
    gr.Markdown(library.access_note(), elem_id="documents-access")
    with gr.Column(visible=library.editable):
        password = gr.Textbox(label="Admin password", type="password", visible=bool(library.password), max_lines=1)
        with gr.Row():
            with gr.Column(variant="panel"):
                files = gr.File(
                    label="Add documents (" + " ".join(sorted(SUPPORTED_SUFFIXES)) + ")",
                    file_count="multiple",
                    file_types=sorted(SUPPORTED_SUFFIXES),
                    type="filepath",
                    height=160,
                    elem_id="upload",
                )
                replace = gr.Checkbox(label="Replace documents of the same name", value=False)
                upload_button = gr.Button("Add to the corpus", variant="primary")
            with gr.Column(variant="panel"):
                chosen = gr.Dropdown(label="Document to delete", choices=[], elem_id="delete-choice")
                delete_button = gr.Button("Delete the document", variant="stop")

    def refreshed(message: str):
        return message, library.rows(), gr.Dropdown(choices=library.sources(), value=None), library.summary()

    def run(action, *args):
        """Run a panel action; whatever happens, show its outcome and the refreshed list."""
        try:
            message = action(*args)
        except (PermissionError, ValueError, FileNotFoundError) as error:
            message = f"**Not done:** {escape(str(error))}"
        except Exception as error:  # noqa: BLE001 - shown in the panel, not as a trace
            log.exception("Documents panel action failed")
            message = f"**Failed:** {escape(f'{type(error).__name__}: {error}')}"
        return refreshed(message)

    outputs = [report, table, chosen, summary]
    private = {"outputs": outputs, "api_visibility": "private"}
    app.load(lambda: refreshed(""), **private)
    reindex_button.click(lambda: run(library.reindex), **private)
    upload_button.click(lambda *args: run(library.upload, *args), inputs=[files, password, replace], **private)
    delete_button.click(lambda *args: run(library.delete, *args), inputs=[chosen, password], **private)

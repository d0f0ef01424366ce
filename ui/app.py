"""The web app: a chat over the corpus and a documents panel, served by Gradio, offline."""

from __future__ import annotations

import logging

import gradio as gr

from rag import Chatbot
from rag.language import BilingualError
from ui.chat import answer_as_dict, failure_text, marked_as_stopped, question_language, respond
from ui.documents import Library, documents_tab
from ui.texts import I18N, label

log = logging.getLogger(__name__)

TITLE = "Press documents · Documents de presse"
UPLOAD_CACHE_S = 3600
EXAMPLES = [
    "Qui était présent lors de la signature de l'accord entre Lyon et Boston ?",
    "Who attended the signing of the agreement between Lyon and Boston?",
    "Quels sont les domaines d'action du partenariat ?",
    "What is a Cambridge Innovation Center?",
]
# System fonts: nothing to download, and crisp on every platform.
THEME = gr.themes.Default(
    font=["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "sans-serif"],
    font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
)
CSS = """
#header h1 { margin-bottom: 0.2rem; }
#corpus-summary { color: var(--body-text-color-subdued); }
"""


CHAT_MODEL_QUEUE = "chat-model"


def build_app(library: Library) -> gr.Blocks:
    """The Gradio app: a chat with the library's bot, and its documents panel. Its labels are drawn in the
    browser's language once launched with ``i18n=ui.texts.I18N``, as ``serve`` does (else they show as keys)."""
    bot = library.bot

    def answer(message: str, history: list[dict]):
        yield from respond(bot, message, history)

    def chat(message: str, history: list[list[str]] | None = None) -> dict:
        """Answer a question (French or English) from the documents.

        ``history`` holds earlier [question, answer] pairs for a follow-up question.
        Returns {"answer", "answered", "language", "sources": [{"document", "title", "passage", "relevance"}]}.
        """
        try:
            return answer_as_dict(bot.ask(message, [tuple(pair) for pair in history or []]))
        except BilingualError as error:
            raise gr.Error(error.in_language(question_language(message)), print_exception=False) from None
        except ValueError as error:  # the call itself is wrong: a question that is not text, a bad history
            raise gr.Error(str(error), print_exception=False) from None
        except Exception as error:  # noqa: BLE001 - the caller gets the reason, not a trace
            log.exception("Answer failed")
            raise gr.Error(failure_text(error, message), print_exception=False) from None

    # Files uploaded to Gradio's cache (before any event sees them) are deleted after an hour.
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(UPLOAD_CACHE_S, UPLOAD_CACHE_S)) as app:
        with gr.Column(elem_id="header"):
            gr.Markdown(label("header"))
            summary = gr.Markdown(library.summary(), elem_id="corpus-summary")
        with gr.Tab(label("tab_chat")):
            chat_box = gr.ChatInterface(
                answer,
                chatbot=gr.Chatbot(
                    elem_id="chat",
                    show_label=False,
                    height="60vh",
                    latex_delimiters=[],
                    buttons=["copy", "copy_all"],
                    placeholder="Posez une question · Ask a question",
                ),
                textbox=gr.Textbox(
                    placeholder=label("question"),
                    show_label=False,
                    submit_btn=True,
                    stop_btn=True,
                    autofocus=True,
                    elem_id="question",
                ),
                examples=EXAMPLES,
                flagging_mode="never",
                analytics_enabled=False,
                fill_height=False,
                api_visibility="private",
            )
            # The Stop button ends the answer (the chat's own listener); this one marks it, at once rather than
            # in the queue, so the mark is there before the chat keeps its copy of the stopped conversation, and
            # in that copy too (the next question starts from it). Not ChatInterface's `chatbot_value`: writing it
            # would redraw the chat from it later, in the queue, over a question asked meanwhile.
            chat_box.textbox.stop(
                mark_stopped,
                [chat_box.chatbot],
                [chat_box.chatbot, chat_box.chatbot_state],
                api_visibility="private",
                queue=False,
                show_progress="hidden",
            )
        with gr.Tab(label("tab_documents")):
            documents_tab(app, library, summary)
        gr.api(chat, api_name="chat")
    _one_queue_for_the_chat_model(app, {answer, chat}, library.bot.settings.ui_concurrency)
    return app


def mark_stopped(messages: list[dict]) -> tuple[list[dict], list[dict]]:
    """The chat with its stopped answer marked, for the chat box and for the chat's copy of the conversation,
    which the next question starts from: the mark stays when the next answer comes."""
    marked = marked_as_stopped(messages)
    return marked, marked


def _one_queue_for_the_chat_model(app: gr.Blocks, functions: set, limit: int) -> None:
    """Every event that runs the chat model (the chat box, its retry and examples, the ``/chat`` API) waits
    for the same ``limit`` slots, so that no more answers run at once than the model can generate; each
    listener would otherwise get slots of its own. ChatInterface takes no ``concurrency_id``, so it is set
    on its events here (they wrap ``answer``)."""
    for event in app.fns.values():
        if event.fn in functions or getattr(event.fn, "__wrapped__", None) in functions:
            event.concurrency_id, event.concurrency_limit = CHAT_MODEL_QUEUE, limit


def serve(bot: Chatbot, host: str = "127.0.0.1", port: int = 7860, **launch_options) -> gr.Blocks:
    """Index the corpus, then serve the app on ``host``:``port``; blocks unless ``prevent_thread_lock=True``.

    Changing documents needs the admin password when one is set; without one, only requests that
    really come from this computer (loopback, no proxy's forwarding headers) may change them.
    """
    library = Library(bot)
    print(f"Index: {bot.index().summary()}", flush=True)
    bot.warm_up()
    app = build_app(library)
    app.queue(default_concurrency_limit=bot.settings.ui_concurrency, max_size=bot.settings.ui_queue_size)
    app.launch(
        server_name=host,
        server_port=port,
        theme=THEME,
        css=CSS,
        ssr_mode=False,
        footer_links=["api"],
        i18n=I18N,
        max_file_size=int(bot.settings.max_file_mb * 1e6),
        **launch_options,
    )
    return app

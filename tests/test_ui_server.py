"""The web app, served for real: questions through the ``/chat`` API, the documents panel's rules,
and what the chat shows for bad input, failures and hostile documents."""

import shutil
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest
from local_server import free_port

from rag import Answer, Chatbot, Source
from rag.chatbot import IndexedDocument
from rag.store import StoreBackendError
from ui.app import build_app, mark_stopped, serve
from ui.chat import answer_messages, escape, history_pairs, marked_as_stopped, message_text, respond, unescape
from ui.documents import Library, PasswordGuard, Requester
from ui.texts import reader_language, say

REPO = Path(__file__).resolve().parent.parent
ADMIN_PASSWORD = "correct horse battery staple"
HOSTILE = '<script>window.pwned = 1</script> <img src=x onerror="window.pwned = 1"> **bold** [link](javascript:alert(1))'


def make_bot(folder: Path, **overrides) -> Chatbot:
    """A chatbot over a fresh copy of the repository's corpus, with its own store, ignoring any user config."""
    corpus = folder / "corpus"
    shutil.copytree(REPO / "corpus", corpus)
    (folder / "empty-config.toml").touch()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAG_CONFIG", str(folder / "empty-config.toml"))
        return Chatbot(corpus_dir=corpus, data_dir=folder / "store", **overrides)


@contextmanager
def running_server(bot: Chatbot):
    """The app served on a free local port, as ``rag serve`` does; yields its URL."""
    app = serve(bot, host="127.0.0.1", port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        yield app.local_url
    finally:
        app.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    bot = make_bot(tmp_path_factory.mktemp("ui-server"), admin_password=ADMIN_PASSWORD)
    with running_server(bot) as url:
        yield bot, url


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client

    return Client(server[1], verbose=False)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("Qui était présent lors de la signature de l'accord entre Lyon et Boston ?", "fr"),
        ("Who attended the signing of the agreement between Lyon and Boston?", "en"),
    ],
)
def test_chat_endpoint_answers_with_the_people_present_and_the_passage(client, question, language):
    started = time.perf_counter()
    reply = client.predict(question, api_name="/chat")
    print(f"{language}: {time.perf_counter() - started:.1f} s: {reply['answer']}")

    assert reply["answered"], reply
    assert reply["language"] == language
    assert "Dognin-Sauze" in reply["answer"] and "Walsh" in reply["answer"]
    assert reply["sources"], "an answer comes with its sources"
    assert {s["document"] for s in reply["sources"]} == {"lyon-boston-accord.txt"}
    assert any("Marty Walsh" in s["passage"] for s in reply["sources"])
    assert all(-1 <= s["relevance"] <= 1 for s in reply["sources"])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "reason"),
    [("   ", "La question est vide : posez une question sur les documents. · The question is empty"),
     ("Qui a signé l'accord ? " * 2_000, "la limite est de 2000"),  # in the question's language
     ("Who signed the accord? " * 2_000, "the limit is 2000")],
)
def test_chat_endpoint_explains_bad_questions(client, question, reason):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=reason):
        client.predict(question, api_name="/chat")


@pytest.mark.slow
def test_chat_endpoint_is_the_only_public_endpoint(client):
    assert list(client.view_api(print_info=False, return_format="dict")["named_endpoints"]) == ["/chat"]


@pytest.mark.slow
def test_chat_shows_a_friendly_message_for_bad_input(server):
    bot, _ = server
    for question, reason in [("", "The question is empty"), ("Who signed it? " * 10_000, "the limit is 2000")]:
        *_, shown = respond(bot, question, [])
        assert len(shown) == 1
        assert shown[0]["content"].startswith("⚠️") and reason in shown[0]["content"]
        assert "Traceback" not in shown[0]["content"]


@pytest.mark.slow
def test_chat_says_when_the_chat_model_is_down(tmp_path):
    bot = make_bot(tmp_path, llm_backend="openai", openai_base_url=f"http://127.0.0.1:{free_port()}/v1")

    *_, shown = respond(bot, "Who attended the signing of the agreement?", [])

    text = shown[-1]["content"]
    assert text.startswith("⚠️ No answer could be produced")
    assert "chat model" in text and "Connection" in text
    assert "Traceback" not in text


LOOPBACK = Requester("127.0.0.1", local=True)
PROXIED = Requester("203.0.113.7", local=False)  # through a reverse proxy on this computer


@pytest.mark.slow
def test_upload_delete_and_reindex_need_the_admin_password_even_from_this_computer(server, tmp_path):
    bot, _ = server
    library = Library(bot)
    library.guard.DELAY_S = 0.0
    upload = tmp_path / "note.txt"
    upload.write_text("Une note de presse sur le tramway de Lyon.", encoding="utf-8")

    for number, password in enumerate((None, "", "wrong")):
        client = Requester(f"198.51.100.{number}", local=True)
        with pytest.raises(PermissionError, match="Wrong admin password"):
            library.upload([str(upload)], password, False, client)
        with pytest.raises(PermissionError, match="Wrong admin password"):
            library.delete("lyon-boston-accord.txt", password, client)
        with pytest.raises(PermissionError, match="Wrong admin password"):
            library.reindex(password, client)
    assert sorted(p.name for p in bot.settings.corpus_dir.iterdir()) == ["lyon-boston-accord.txt"]

    report, not_added = library.upload([str(upload)], ADMIN_PASSWORD, False, PROXIED)
    assert "Added **note.txt**" in report and "1 added" in report and not_added == []
    assert "note.txt" in [row[0] for row in library.rows()]

    again, not_added = library.upload([str(upload)], ADMIN_PASSWORD, False, PROXIED)
    assert "already in the corpus" in again and "Replace" in again and not_added == [str(upload)]
    (upload.parent / "cut.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\n")
    (upload.parent / "empty.txt").write_bytes(b"")
    unread, not_added = library.upload([str(upload.parent / "cut.pdf"), str(upload.parent / "empty.txt")],
                                       ADMIN_PASSWORD, False, PROXIED)
    assert "**cut.pdf** cannot be read (" in unread and "**empty.txt** cannot be read (no text in file)" in unread
    assert len(not_added) == 2 and sorted(p.name for p in bot.settings.corpus_dir.iterdir()) == [
        "lyon-boston-accord.txt", "note.txt"]  # only files the index reads: every one listed, and deletable

    assert "Deleted" in library.delete("note.txt", ADMIN_PASSWORD, PROXIED)
    assert "note.txt" not in [row[0] for row in library.rows()]
    assert "Corpus re-indexed" in library.reindex(ADMIN_PASSWORD, PROXIED)


def test_wrong_passwords_are_slowed_then_locked_out_per_client():
    guard = PasswordGuard(ADMIN_PASSWORD)
    started = time.monotonic()
    with pytest.raises(PermissionError, match="Wrong admin password"):
        guard.check("guess", "203.0.113.7")
    assert time.monotonic() - started >= guard.DELAY_S

    guard.DELAY_S = 0.0
    for attempt in range(guard.MAX_FAILURES - 1):
        with pytest.raises(PermissionError, match="Wrong admin password"):
            guard.check(f"guess {attempt}", "203.0.113.7")
    with pytest.raises(PermissionError, match="Too many wrong passwords"):
        guard.check(ADMIN_PASSWORD, "203.0.113.7")  # even the right one, for a while
    guard.check(ADMIN_PASSWORD, "198.51.100.4")  # another client is not locked out


def test_without_a_password_only_requests_really_from_this_computer_change_documents(tmp_path):
    open_bot = make_bot(tmp_path / "open")
    library = Library(open_bot)
    assert "RAG_ADMIN_PASSWORD" in say(library.access_rule(), "en") and "RAG_ADMIN_PASSWORD" in say(library.access_rule(), "fr")
    library.check_access(None, LOOPBACK)
    for requester in (PROXIED, Requester("192.168.1.20", local=False)):
        with pytest.raises(PermissionError, match="this computer only"):
            library.upload([str(REPO / "corpus" / "lyon-boston-accord.txt")], None, True, requester)
        with pytest.raises(PermissionError, match="this computer only"):
            library.delete("lyon-boston-accord.txt", None, requester)
        with pytest.raises(PermissionError, match="this computer only"):
            library.reindex(None, requester)


@pytest.mark.parametrize(
    ("peer", "headers", "local"),
    [
        ("127.0.0.1", {}, True),
        ("::1", {"user-agent": "curl"}, True),
        ("127.0.0.1", {"X-Forwarded-For": "203.0.113.7"}, False),
        ("127.0.0.1", {"Forwarded": "for=203.0.113.7"}, False),
        ("127.0.0.1", {"X-Real-IP": "203.0.113.7"}, False),
        ("192.168.1.20", {}, False),
    ],
)
def test_a_request_is_local_only_from_loopback_without_a_proxy(peer, headers, local):
    request = SimpleNamespace(client=SimpleNamespace(host=peer), headers=headers)
    assert Requester.of(request).local is local


def test_a_client_cannot_choose_the_address_its_wrong_passwords_count_against():
    """Its own X-Forwarded-For would let it lock out the admin's address, or try passwords without end."""
    for forged in ("127.0.0.1", "198.51.100.2", "198.51.100.3"):
        request = SimpleNamespace(client=SimpleNamespace(host="192.0.2.5"), headers={"X-Forwarded-For": forged})
        assert Requester.of(request) == Requester("192.0.2.5", local=False)


def test_the_corpus_summary_counts_one_passage_in_the_singular():
    bot = SimpleNamespace(settings=SimpleNamespace(admin_password=""), documents=list)
    assert Library(bot).summary() == "0 documents · 0 passages · —"
    bot.documents = lambda: [IndexedDocument("note.txt", "Note", "fr", 1)]
    assert Library(bot).summary() == "1 document · 1 passage · fr"
    bot.documents = lambda: [IndexedDocument("note.txt", "Note", "fr", 1), IndexedDocument("a.txt", "A", "en", 6)]
    assert Library(bot).summary() == "2 documents · 7 passages · en, fr"


def test_each_document_shows_when_its_own_passages_were_indexed():
    written = datetime(2026, 3, 2, 9, 41, 30, tzinfo=timezone.utc).timestamp()
    bot = SimpleNamespace(settings=SimpleNamespace(admin_password=""), documents=lambda: [
        IndexedDocument("a.txt", "A", "en", 6, indexed_at=written), IndexedDocument("b.txt", "B", "fr", 2)
    ])
    assert Library(bot).rows() == [["a.txt", "A", "en", 6, "2026-03-02 09:41 UTC"], ["b.txt", "B", "fr", 2, ""]]


NOTE = "press_note.txt"  # "_" is Markdown: the question must escape it
FROM_THIS_COMPUTER = SimpleNamespace(client=SimpleNamespace(host="127.0.0.1"), headers={})


@pytest.fixture
def panel(tmp_path):
    """The documents panel's events, by handler name, in the app over a corpus of two indexed documents
    (one of them ``NOTE``) that needs the admin password: (events, library)."""
    bot = make_bot(tmp_path, admin_password=ADMIN_PASSWORD)
    (bot.settings.corpus_dir / NOTE).write_text(
        "Note de presse\n\nLa médiathèque de Gerland ouvrira ses portes au public le 3 mars.\n", encoding="utf-8"
    )
    library = Library(bot)
    library.guard.DELAY_S = 0.0
    bot.index()
    events = {}
    for event in build_app(library).fns.values():
        events.setdefault(event.fn.__name__ if event.fn else None, []).append(event)
    return events, library


def test_the_first_click_on_delete_only_asks_about_the_chosen_document(panel):
    events, library = panel
    (ask,) = events["ask_to_delete"]
    on_disk = sorted(library.corpus_dir.iterdir())

    report, question, confirmation, confirmed = ask.fn(NOTE, FROM_THIS_COMPUTER)
    assert question == r"Delete **press\_note.txt**? This removes the file from the corpus folder."
    assert confirmation.visible and confirmed == NOTE
    assert report == gr.skip()  # the last change's outcome stays shown
    assert sorted(library.corpus_dir.iterdir()) == on_disk and NOTE in [row[0] for row in library.rows()]

    report, _, confirmation, confirmed = ask.fn(None, FROM_THIS_COMPUTER)
    assert report == "Choose a document to delete first."
    assert not confirmation.visible and confirmed is None


def test_cancel_or_another_choice_withdraws_the_question_and_changes_nothing_else(panel):
    events, _ = panel
    withdrawing = events["withdrawn"]
    confirmation, confirmed = withdrawing[0].fn()
    assert not confirmation.visible and confirmed is None
    assert sorted(event_name for event in withdrawing for _, event_name in event.targets) == ["change", "click"]
    for event in withdrawing:  # the question and the confirmed name only: never the corpus or the report
        assert [type(block) for block in event.outputs] == [gr.Column, gr.State] and not event.inputs


def test_yes_deletes_the_confirmed_document_never_the_dropdowns_choice_and_only_with_the_password(panel):
    events, library = panel
    (yes,) = events["delete"]
    assert not any(isinstance(block, gr.Dropdown) for block in yes.inputs)  # the name comes from the server
    note = library.corpus_dir / NOTE

    report, _, chosen, _, confirmation, confirmed = yes.fn(NOTE, "wrong", FROM_THIS_COMPUTER)
    assert report == "**Nothing deleted:** Wrong admin password."
    assert note.is_file() and chosen.value == NOTE  # kept, to try again
    assert not confirmation.visible and confirmed is None  # each try is confirmed anew

    report, table, chosen, summary, confirmation, confirmed = yes.fn(NOTE, ADMIN_PASSWORD, FROM_THIS_COMPUTER)
    assert report.startswith(r"Deleted **press\_note.txt**. Index updated:")
    assert not note.exists() and (library.corpus_dir / "lyon-boston-accord.txt").is_file()
    assert [row[0] for row in table.value["data"]] == ["lyon-boston-accord.txt"] and summary.startswith("1 document ·")
    assert chosen.value is None and not confirmation.visible and confirmed is None

    report, *_ = yes.fn(None, ADMIN_PASSWORD, FROM_THIS_COMPUTER)  # nothing confirmed, nothing deleted
    assert report == "Choose a document to delete first."
    assert [p.name for p in library.corpus_dir.iterdir()] == ["lyon-boston-accord.txt"]


FROM_A_FRENCH_BROWSER = SimpleNamespace(client=SimpleNamespace(host="127.0.0.1"),
                                        headers={"accept-language": "fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7"})


@pytest.mark.parametrize(
    ("header", "language"),
    [("fr-FR,fr;q=0.9,en-US;q=0.8", "fr"), ("fr", "fr"), ("FR-ca", "fr"), ("en-US,en;q=0.9,fr;q=0.8", "en"),
     ("de-DE,de;q=0.9,fr;q=0.8", "en"), ("", "en"), ("*", "en"), ("french", "en")],
)
def test_the_panel_writes_in_the_browsers_first_language_as_its_labels_are_drawn(header, language):
    assert reader_language(SimpleNamespace(headers={"accept-language": header})) == language


def test_the_documents_panel_speaks_french_to_a_french_browser(panel, tmp_path):
    events, library = panel
    (load,) = [event for event in events["load"] if "Dataframe" in str(event.outputs)]
    (ask,), (yes,) = events["ask_to_delete"], events["delete"]

    _, table, _, _ = load.fn(FROM_A_FRENCH_BROWSER)
    assert table.value["headers"] == ["Document", "Titre", "Langue", "Passages", "Dernière indexation"]
    assert load.fn(FROM_THIS_COMPUTER)[1].value["headers"][-1] == "Last indexed"
    assert ask.fn(NOTE, FROM_A_FRENCH_BROWSER)[1] == (
        r"Supprimer **press\_note.txt** ? Le fichier sera retiré du dossier du corpus.")
    assert yes.fn(NOTE, "wrong", FROM_A_FRENCH_BROWSER)[0] == (
        "**Rien n'a été supprimé :** Mot de passe administrateur incorrect.")
    report = yes.fn(NOTE, ADMIN_PASSWORD, FROM_A_FRENCH_BROWSER)[0]
    assert report.startswith(r"**press\_note.txt** supprimé. Index mis à jour — documents ajoutés : 0, ")
    assert "supprimés : 1" in report and not (library.corpus_dir / NOTE).exists()

    existing, empty, unsupported = tmp_path / "lyon-boston-accord.txt", tmp_path / "vide.txt", tmp_path / "x.exe"
    existing.write_text("Une autre version.", encoding="utf-8")
    empty.write_bytes(b"")
    unsupported.write_bytes(b"MZ")
    report, not_added = library.upload([str(existing), str(empty), str(unsupported)], ADMIN_PASSWORD, False,
                                       LOOPBACK, "fr")
    assert report.splitlines() == [
        "- lyon-boston-accord.txt est déjà dans le corpus. Cochez *Remplacer les documents du même nom* pour le "
        "remplacer.",
        r"- **vide.txt** ne peut pas être lu (aucun texte dans le fichier) : non ajouté.",
        "- « x.exe » : type de fichier non pris en charge ; acceptés : .docx, .htm, .html, .md, .pdf, .txt.",
    ]
    assert len(not_added) == 3


def test_a_change_whose_index_run_fails_says_what_was_done_and_that_the_index_was_not_updated(panel, tmp_path):
    events, library = panel
    down = StoreBackendError("The Chroma server at http://127.0.0.1:8000 cannot be reached (Connection refused).")
    library.bot.index = lambda progress=None: (_ for _ in ()).throw(down)
    upload = tmp_path / "tram.txt"
    upload.write_text("Le tramway T10 sera inauguré en mars.", encoding="utf-8")

    report, not_added = library.upload([str(upload)], ADMIN_PASSWORD, False, LOOPBACK)
    assert report.splitlines() == [
        "- Added **tram.txt**.",
        "The index was not updated (The Chroma server at http://127.0.0.1:8000 cannot be reached (Connection "
        "refused).): re-index the corpus once that is mended.",
    ]
    assert not_added == [] and (library.corpus_dir / "tram.txt").is_file()  # not offered again as not added
    report = library.delete(NOTE, ADMIN_PASSWORD, LOOPBACK, "fr")
    assert report.startswith(r"**press\_note.txt** supprimé. L'index n'a pas été mis à jour (The Chroma server")
    assert not (library.corpus_dir / NOTE).exists()
    (reindex,) = events["reindex"]
    assert reindex.fn(ADMIN_PASSWORD, FROM_A_FRENCH_BROWSER)[0] == (
        "**Corpus non réindexé, l'opération a échoué :** The Chroma server at http://127.0.0.1:8000 cannot be "
        "reached (Connection refused).")  # the backend's own line, not a type name


def test_document_text_is_shown_as_text():
    source = Source(document="<b>doc</b>.txt", text=f"Avant. {HOSTILE} Après.", score=0.5, title="<i>t</i>")
    answer = Answer(f"Voici : {HOSTILE}", "fr", answered=True, sources=[source], quote="Avant.")

    text, sources = answer_messages(answer)

    assert "<" not in text["content"] and "<" not in sources["content"]  # no HTML tag can open
    assert r"\*\*bold\*\*" in text["content"] and r"\[link\]" in text["content"]  # nor Markdown
    assert unescape(text["content"]) == answer.text
    assert sources["metadata"] == {"title": "Sources (1)", "status": "done"}
    assert "**Avant.**" in sources["content"] and "pertinence 0.50" in sources["content"]


def test_a_refusal_looks_different_has_no_sources_and_says_what_was_missing():
    refusal = Answer("Les documents ne le disent pas.", "fr", answered=False, sources=[])
    (message,) = answer_messages(refusal)
    assert message["content"] == "🔎 *Les documents ne le disent pas.*"

    refusal.explanation = "Un nombre de la réponse ne figure dans <aucun> passage."
    (message,) = answer_messages(refusal)
    assert message["content"] == "🔎 *Les documents ne le disent pas.*\n\nUn nombre de la réponse ne figure dans &lt;aucun&gt; passage."


def test_follow_up_questions_get_the_conversation_without_sources_or_errors():
    chat = [
        {"role": "user", "content": [{"type": "text", "text": "Qui a signé ?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": escape("Marty Walsh & *Karine*")}]},
        {"role": "assistant", "content": "1. passage", "metadata": {"title": "Sources (1)", "status": "done"}},
        {"role": "user", "content": ""},
        {"role": "assistant", "content": "⚠️ The question is empty"},
        {"role": "user", "content": "Et la date ?"},
        {"role": "assistant", "content": "🔎 *Les documents ne le disent pas.*\n\nAucun passage ne contient la réponse."},
    ]
    assert history_pairs(chat) == [
        ("Qui a signé ?", "Marty Walsh & *Karine*"),
        ("Et la date ?", "Les documents ne le disent pas."),
    ]


def as_sent(*messages: tuple[str, str]) -> list[dict]:
    """The chat as the browser sends it to an event: each content a list of text parts."""
    return [{"role": role, "metadata": None, "content": [{"text": text, "type": "text"}], "options": None}
            for role, text in messages]


def test_a_stopped_answer_is_marked_in_the_questions_language_and_the_model_never_sees_the_mark():
    partial = escape("La signature a eu lieu à *Boston* en présence de")
    french = marked_as_stopped(as_sent(("user", "Qui était présent ?"), ("assistant", partial)))
    assert french[-1]["content"] == partial + "\n\n*— réponse interrompue*"
    english = marked_as_stopped(as_sent(("user", "Who attended?"), ("assistant", escape("Marty Walsh and"))))
    assert english[-1]["content"] == "Marty Walsh and\n\n*— answer stopped*"
    assert marked_as_stopped(french) == french  # stopping twice marks once

    assert history_pairs(french + as_sent(("user", "Et ensuite ?"))) == [
        ("Qui était présent ?", "La signature a eu lieu à *Boston* en présence de")
    ]


def test_a_stopped_answer_keeps_its_mark_when_the_chat_redraws_from_a_copy_kept_before_the_mark(corpus, tmp_path):
    """The chat's copy of the conversation may be kept before the Stop button's mark reaches it; the next
    answer is drawn after that copy, so its stopped answer is marked there too."""
    from conftest import scripted_bot

    bot, model = scripted_bot(corpus, tmp_path / "data", "ANSWER: Marty Walsh, maire de Boston.\nQUOTE: C’est donc lors")
    kept = as_sent(("user", "Qui était présent ?"), ("assistant", "Karine Dognin"))
    *_, answer = respond(bot, "Et le maire de Boston ?", kept)
    assert message_text(kept[-1]).endswith("*— réponse interrompue*")
    assert "interrompue" not in model.sent[0][-1].content  # the model reads the answer as it wrote it

    finished = as_sent(("user", "Qui était présent ?"), ("assistant", "🔎 *Les documents ne le disent pas.*"))
    *_, answer = respond(bot, "Et le maire de Boston ?", finished)
    assert message_text(finished[-1]) == "🔎 *Les documents ne le disent pas.*"


def test_only_an_answer_cut_short_is_marked_as_stopped():
    finished = as_sent(("user", "Who attended?"), ("assistant", "Marty Walsh."), ("assistant", "1. passage"))
    finished[-1]["metadata"] = {"title": "Sources (1)", "status": "done"}
    for chat in (
        finished,
        as_sent(("user", "Who won the World Cup?"), ("assistant", "🔎 *The documents don't say.*")),
        as_sent(("user", ""), ("assistant", "⚠️ The question is empty")),
        as_sent(("user", "Who attended?")),  # stopped before the first word
        [],
    ):
        assert marked_as_stopped(chat) == chat


def test_the_stop_button_marks_the_answer_privately_in_the_chat_and_its_copies(tmp_path):
    bot = Chatbot(corpus_dir=tmp_path, data_dir=tmp_path / "data")
    app = build_app(Library(bot))
    (marking,) = [event for event in app.fns.values() if event.fn is mark_stopped]
    assert [(app.blocks[block].elem_id, name) for block, name in marking.targets] == [("question", "stop")]
    assert marking.api_visibility == "private"
    chatbot, copy = marking.outputs
    assert chatbot.elem_id == "chat" and isinstance(copy, gr.State)
    submits = [event for event in app.fns.values() if getattr(event.fn, "__name__", "") == "_submit_fn"]
    assert submits and all(copy in event.inputs for event in submits)  # the copy the next question starts from
    stopped = as_sent(("user", "Who attended?"), ("assistant", "Marty Walsh and"))
    assert all(chat[-1]["content"].endswith("*— answer stopped*") for chat in marking.fn(stopped))


def test_every_event_that_runs_the_chat_model_waits_in_one_queue(tmp_path):
    from ui.app import CHAT_MODEL_QUEUE, build_app

    bot = Chatbot(corpus_dir=tmp_path, data_dir=tmp_path / "data", ui_concurrency=2)
    app = build_app(Library(bot))
    queued = {event.api_name: event.concurrency_limit for event in app.fns.values()
              if event.concurrency_id == CHAT_MODEL_QUEUE}
    assert "chat" in queued and sum(name.startswith("_submit_fn") for name in queued) >= 2, queued
    assert set(queued.values()) == {2}
    assert all(event.concurrency_id != CHAT_MODEL_QUEUE for event in app.fns.values()
               if event.api_name in {"upload", "delete", "reindex"})

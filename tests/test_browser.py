"""The web app in a real headless Chromium: chat, sources, documents panel, and hostile documents."""

import shutil
import time

import pytest
from playwright.sync_api import expect

from test_ui_server import ADMIN_PASSWORD, REPO, make_bot, running_server

CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = REPO / "test-artifacts"
ANSWER_TIMEOUT_S = 600  # a busy machine; pytest-timeout stops a hung test at 900 s
# A press release whose title and text try to run script in the reader's browser.
HOSTILE_DOCUMENT = """Communiqué <script>window.pwned = "script"</script> du festival

Le festival des Lumières invite cette année la chanteuse Zelda Marchetti <img src=x onerror="window.pwned = 'img'">, qui donnera un concert gratuit place Bellecour.
"""
NEW_DOCUMENT = """Inauguration du tramway T10

La ligne de tramway T10, qui relie Gerland à Vénissieux, a été inaugurée par Camille Vernet, présidente du syndicat des transports lyonnais.
"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed: apt-get install -y chromium"),
]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The app served with the hostile document in its corpus: (its bot, its URL)."""
    bot = make_bot(tmp_path_factory.mktemp("browser"), admin_password=ADMIN_PASSWORD)
    (bot.settings.corpus_dir / "festival.txt").write_text(HOSTILE_DOCUMENT, encoding="utf-8")
    with running_server(bot) as url:
        yield bot, url


@pytest.fixture(scope="module")
def app_url(served):
    return served[1]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, app_url):
    """A fresh page on the app, recording every address it requests."""
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.requested = []
    page.on("request", lambda request: page.requested.append(request.url))
    page.goto(app_url, wait_until="load")
    page.locator("#question textarea").wait_for()
    yield page
    page.close()


def ask(page, question: str):
    """Ask in the chat; return the successive texts of the answer as it streamed, the last one final."""
    bot_messages = page.locator('#chat [data-testid="bot"]')
    before = bot_messages.count()
    page.locator("#question textarea").fill(question)
    page.locator("#question textarea").press("Enter")
    seen, deadline = [], time.monotonic() + ANSWER_TIMEOUT_S
    while time.monotonic() < deadline:
        if bot_messages.count() > before:
            text = bot_messages.nth(before).inner_text()
            if text and (not seen or seen[-1] != text):
                seen.append(text)
        if seen and page.locator("#question textarea").is_enabled():
            return seen  # the textbox comes back when the answer is complete
        page.wait_for_timeout(100)
    raise AssertionError(f"no complete answer after {ANSWER_TIMEOUT_S} s; seen: {seen}")


def sources_block(page):
    return page.locator("#chat").get_by_text("Sources (").last


def open_sources(page):
    """Click the last answer's sources block open; return its passages.

    Gradio redraws the chat once more just after an answer, which can fold a block
    opened in that instant: a second click then opens it for good.
    """
    passages = page.locator("#chat blockquote")
    for _ in range(3):
        if not passages.last.is_visible():
            sources_block(page).click()
        page.wait_for_timeout(1000)
        if passages.last.is_visible():
            return passages
    raise AssertionError("the sources block does not open")


def test_page_speaks_the_browsers_language_has_examples_in_both_and_loads_nothing_from_outside(page, app_url):
    expect(page.locator("#header h1")).to_have_text("Ask the press documents")  # an English browser
    assert "Ask in English or French" in page.locator("#header").inner_text()
    assert page.get_by_text("Who attended the signing").is_visible()
    assert page.get_by_text("Qui était présent lors de la signature").is_visible()
    expect(page.locator("#corpus-summary")).to_contain_text("2 documents · 7 passages")
    outside = [url for url in page.requested if not url.startswith((app_url, "data:", "blob:"))]
    assert outside == []


def test_answer_streams_in_then_shows_its_sources(page):
    seen = ask(page, "Qui était présent lors de la signature de l'accord entre Lyon et Boston ?")

    final = seen[-1]
    assert "Dognin-Sauze" in final and "Walsh" in final
    assert len(seen) > 2, f"the answer appeared at once, not streamed: {seen}"
    assert sources_block(page).is_visible()
    assert not page.locator("#chat blockquote").first.is_visible()  # folded under the answer
    passages = open_sources(page)
    expect(passages.filter(has_text="Marty Walsh").first).to_be_visible()
    assert page.locator("#chat").get_by_text("lyon-boston-accord.txt").first.is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "chat-answer.png", full_page=True)


def test_a_refusal_says_under_it_what_was_missing(page):
    from rag.answering import CHECKS

    final = ask(page, "Who won the 2018 football World Cup?")[-1]
    _, refusal, explanation = final.partition("The documents don't say: I can't find this information in the corpus.")
    assert refusal and explanation.strip() in {check.explanation["en"] for check in CHECKS}, final
    assert not page.locator("#chat").get_by_text("Sources (").count()


def recorded_answers(bot, monkeypatch) -> list[dict]:
    """The answers the server writes from now on, each {"question", "history", "stopped"}: "stopped" is
    True when its stream was closed before its end, False when it ran to the end."""
    runs, stream_answers = [], bot.stream_answers

    def recording(question, history=None):
        run = {"question": question, "history": history, "stopped": None}
        runs.append(run)
        try:
            yield from stream_answers(question, history)
        except GeneratorExit:
            run["stopped"] = True
            raise
        run["stopped"] = False

    monkeypatch.setattr(bot, "stream_answers", recording)
    return runs


def test_a_stopped_answer_says_so_and_the_next_question_gets_a_whole_answer(page, served, monkeypatch):
    runs = recorded_answers(served[0], monkeypatch)
    question = "Quels sont les domaines d'action du partenariat ?"  # asked nowhere else here: not cached
    page.locator("#question textarea").fill(question)
    page.locator("#question textarea").press("Enter")
    page.wait_for_function(
        "() => document.querySelector('#chat [data-testid=\"bot\"]')?.innerText.trim()",
        timeout=ANSWER_TIMEOUT_S * 1000,
    )
    page.locator('#question [data-testid="stop-button"]').click()

    stopped = page.locator('#chat [data-testid="bot"]').first
    expect(stopped.locator("em")).to_have_text("— réponse interrompue")
    expect(page.locator("#question textarea")).to_be_enabled(timeout=60_000)  # once the server ended the answer
    assert not page.locator("#chat").get_by_text("Sources (").count()
    assert runs[0]["stopped"], "the server kept writing the stopped answer"

    final = ask(page, "Who attended the signing of the agreement between Lyon and Boston?")[-1]
    assert "— answer stopped" not in final
    assert sources_block(page).is_visible()
    open_sources(page)
    assert page.locator("#chat").get_by_text("lyon-boston-accord.txt").first.is_visible()
    expect(stopped.locator("em")).to_have_text("— réponse interrompue")  # the stopped answer keeps its mark
    [(asked, partial)] = runs[1]["history"]
    assert asked == question and partial and "interrompue" not in partial  # the model gets its own words only
    assert runs[1]["stopped"] is False


def test_bad_input_gets_a_friendly_message(page):
    for question, reason in [
        ("   ", "La question est vide : posez une question sur les documents. · The question is empty"),
        ("Pourquoi ? " * 10_000, "la limite est de 2000"),  # in the question's language
        ("Why? " * 10_000, "the limit is 2000"),
    ]:
        shown = ask(page, question)[-1]
        assert reason in shown
        assert "Traceback" not in page.content()


def test_document_uploaded_in_the_panel_can_be_asked_about(page, tmp_path):
    upload = tmp_path / "Tramway T10 (inauguration).txt"
    upload.write_text(NEW_DOCUMENT, encoding="utf-8")
    page.get_by_role("tab", name="Documents").click()
    assert "lyon-boston-accord.txt" in page.locator("#documents").inner_text()

    page.locator("#upload input[type=file]").set_input_files(upload)
    page.get_by_role("button", name="Add to the corpus").click()
    expect(page.locator("#documents-report")).to_contain_text("Nothing added: Wrong admin password", timeout=60_000)
    assert "Tramway" not in page.locator("#documents").inner_text()

    page.get_by_label("Admin password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Add to the corpus").click()
    expect(page.locator("#documents")).to_contain_text("Tramway-T10-inauguration.txt", timeout=60_000)
    expect(page.locator("#documents-report")).to_contain_text("1 added")
    expect(page.locator("#upload")).not_to_contain_text("Tramway")  # added: not sent again by the next click
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "documents-panel.png", full_page=True)

    page.get_by_role("tab", name="Chat").click()
    answer = ask(page, "Qui a inauguré la ligne de tramway T10 ?")[-1]
    assert "Vernet" in answer
    open_sources(page)
    assert page.locator("#chat").get_by_text("Tramway-T10-inauguration.txt").first.is_visible()


def test_through_a_proxy_every_change_needs_the_password_and_works_with_it(browser, app_url, tmp_path):
    upload = tmp_path / "proxy-note.txt"
    upload.write_text("Note de service\n\nLa salle du conseil sera fermée lundi pour travaux.\n", encoding="utf-8")
    proxied = documents_panel(browser, app_url, extra_http_headers={"X-Forwarded-For": "203.0.113.9"})
    report = proxied.locator("#documents-report")

    proxied.get_by_label("Admin password").fill("not the password")
    proxied.locator("#upload input[type=file]").set_input_files(upload)
    proxied.get_by_role("button", name="Add to the corpus").click()
    expect(report).to_contain_text("Nothing added: Wrong admin password", timeout=60_000)
    proxied.get_by_role("button", name="Re-index the corpus").click()
    expect(report).to_contain_text("Not re-indexed: Wrong admin password", timeout=60_000)
    assert "proxy-note.txt" not in proxied.locator("#documents").inner_text()

    proxied.get_by_label("Admin password").fill(ADMIN_PASSWORD)
    proxied.get_by_role("button", name="Add to the corpus").click()
    expect(proxied.locator("#documents")).to_contain_text("proxy-note.txt", timeout=60_000)
    proxied.get_by_role("button", name="Re-index the corpus").click()
    expect(report).to_contain_text("Corpus re-indexed", timeout=60_000)
    choose(proxied, "proxy-note.txt")
    proxied.get_by_role("button", name="Delete the document").click()
    expect(proxied.locator("#delete-confirmation")).to_contain_text("Delete proxy-note.txt?", timeout=60_000)
    proxied.get_by_role("button", name="Yes, delete it").click()
    expect(report).to_contain_text("Deleted proxy-note.txt", timeout=60_000)
    expect(proxied.locator("#documents")).not_to_contain_text("proxy-note.txt", timeout=60_000)
    proxied.close()


def test_a_french_browser_gets_the_documents_panel_in_french(browser, app_url):
    french = browser.new_page(viewport={"width": 1280, "height": 1000}, locale="fr-FR")
    french.goto(app_url, wait_until="load")
    expect(french.get_by_role("tab", name="Questions")).to_be_visible(timeout=60_000)
    expect(french.locator("#header h1")).to_have_text("Interrogez les documents de presse")
    expect(french.locator("#question textarea")).to_have_attribute("placeholder", "Votre question…")
    french.get_by_role("tab", name="Documents").click()
    table, report = french.locator("#documents"), french.locator("#documents-report")
    expect(table).to_contain_text("Dernière indexation", timeout=60_000)
    expect(table).to_contain_text("lyon-boston-accord.txt")
    expect(french.locator("#documents-access")).to_have_text(
        "Le mot de passe administrateur est nécessaire pour ajouter, supprimer ou réindexer des documents.")

    french.get_by_label("Mot de passe administrateur").fill(ADMIN_PASSWORD)
    french.get_by_role("button", name="Ajouter au corpus").click()
    expect(report).to_have_text("Choisissez d'abord un ou plusieurs fichiers.", timeout=60_000)
    choose(french, "lyon-boston-accord.txt")
    french.get_by_role("button", name="Supprimer le document").click()
    confirmation = french.locator("#delete-confirmation")
    expect(confirmation).to_contain_text(
        "Supprimer lyon-boston-accord.txt ? Le fichier sera retiré du dossier du corpus.", timeout=60_000)
    french.get_by_role("button", name="Annuler").click()
    expect(confirmation).to_be_hidden(timeout=60_000)
    french.get_by_role("button", name="Réindexer le corpus").click()
    expect(report).to_contain_text("Corpus réindexé — documents ajoutés : 0", timeout=60_000)
    ARTIFACTS.mkdir(exist_ok=True)
    french.screenshot(path=ARTIFACTS / "documents-panel-fr.png", full_page=True)
    french.close()


def test_a_hostile_document_is_shown_as_text_and_runs_nothing(page):
    answer = ask(page, "Quelle chanteuse le festival des Lumières invite-t-il ?")[-1]
    passages = open_sources(page)

    assert "Marchetti" in answer
    assert passages.filter(has_text='<img src=x onerror="window.pwned').first.is_visible()
    assert page.locator("#chat").locator("img[src=x], script").count() == 0
    page.get_by_role("tab", name="Documents").click()
    assert "Communiqué <script>window.pwned" in page.locator("#documents").inner_text()
    assert page.evaluate("window.pwned") is None


@pytest.fixture(scope="module")
def open_app(tmp_path_factory):
    """The app with no admin password, listening on 127.0.0.1 as behind a reverse proxy; yields (URL, bot)."""
    bot = make_bot(tmp_path_factory.mktemp("open-browser"))
    with running_server(bot) as url:
        yield url, bot


def documents_panel(browser, url, **context):
    page = browser.new_page(viewport={"width": 1280, "height": 1000}, **context)
    page.goto(url, wait_until="load")
    page.get_by_role("tab", name="Documents").click()
    expect(page.locator("#documents")).to_contain_text("lyon-boston-accord.txt", timeout=60_000)
    return page


def choose(page, source: str):
    """Pick ``source`` in the dropdown of the document to delete."""
    page.locator("#delete-choice input").click()
    page.get_by_role("option", name=source).click()


def test_without_a_password_a_visitor_through_a_proxy_changes_nothing(browser, open_app, tmp_path):
    url, bot = open_app
    upload = tmp_path / "tram.txt"
    upload.write_text(NEW_DOCUMENT, encoding="utf-8")
    refused = "Changing documents is allowed from this computer only"

    proxied = documents_panel(browser, url, extra_http_headers={"X-Forwarded-For": "203.0.113.7"})
    report = proxied.locator("#documents-report")
    proxied.locator("#upload input[type=file]").set_input_files(upload)
    proxied.get_by_role("button", name="Add to the corpus").click()
    expect(report).to_contain_text(f"Nothing added: {refused}", timeout=60_000)
    proxied.get_by_role("button", name="Re-index the corpus").click()
    expect(report).to_contain_text(f"Not re-indexed: {refused}", timeout=60_000)
    choose(proxied, "lyon-boston-accord.txt")
    proxied.get_by_role("button", name="Delete the document").click()
    proxied.get_by_role("button", name="Yes, delete it").click()
    expect(report).to_contain_text(f"Nothing deleted: {refused}", timeout=60_000)
    expect(proxied.locator("#delete-choice input")).to_have_value("lyon-boston-accord.txt")  # kept, to try again
    assert sorted(p.name for p in bot.settings.corpus_dir.iterdir()) == ["lyon-boston-accord.txt"]
    proxied.close()

    direct = documents_panel(browser, url)  # from this computer, no proxy in between
    direct.locator("#upload input[type=file]").set_input_files(upload)
    direct.get_by_role("button", name="Add to the corpus").click()
    expect(direct.locator("#documents")).to_contain_text("tram.txt", timeout=60_000)
    direct.close()


def test_deleting_a_document_takes_a_confirmation_and_cancel_keeps_it(browser, open_app):
    url, bot = open_app
    note = bot.settings.corpus_dir / "mediatheque.txt"
    note.write_text("Note de presse\n\nLa médiathèque de Gerland ouvrira le 3 mars.\n", encoding="utf-8")
    direct = documents_panel(browser, url)  # from this computer: no password needed
    direct.get_by_role("button", name="Re-index the corpus").click()
    expect(direct.locator("#documents")).to_contain_text("mediatheque.txt", timeout=60_000)
    confirmation = direct.locator("#delete-confirmation")
    expect(confirmation).to_be_hidden()

    choose(direct, "mediatheque.txt")
    direct.get_by_role("button", name="Delete the document").click()
    expect(confirmation).to_contain_text(
        "Delete mediatheque.txt? This removes the file from the corpus folder.", timeout=60_000
    )
    expect(confirmation.locator("strong")).to_have_text("mediatheque.txt")
    assert note.is_file() and "mediatheque.txt" in direct.locator("#documents").inner_text()  # the first click asks

    direct.get_by_role("button", name="Cancel").click()
    expect(confirmation).to_be_hidden(timeout=60_000)
    assert note.is_file() and "mediatheque.txt" in direct.locator("#documents").inner_text()

    direct.get_by_role("button", name="Delete the document").click()
    expect(confirmation).to_be_visible(timeout=60_000)
    choose(direct, "lyon-boston-accord.txt")  # another choice withdraws the question
    expect(confirmation).to_be_hidden(timeout=60_000)

    choose(direct, "mediatheque.txt")
    direct.get_by_role("button", name="Delete the document").click()
    direct.get_by_role("button", name="Yes, delete it").click()
    expect(direct.locator("#documents-report")).to_contain_text("Deleted mediatheque.txt", timeout=60_000)
    expect(direct.locator("#documents")).not_to_contain_text("mediatheque.txt", timeout=60_000)
    expect(confirmation).to_be_hidden()
    assert not note.exists() and (bot.settings.corpus_dir / "lyon-boston-accord.txt").is_file()
    direct.close()

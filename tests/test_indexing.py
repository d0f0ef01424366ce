"""Incremental indexing against a real Chroma store and the real embedding model.

The store is checked against the corpus on disk: every file's current
passages present exactly once, none of a deleted or older version.
"""

import base64
import logging
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings

from rag import Chatbot, indexing, watch
from rag.chunking import max_passage_chars, split_documents
from rag.documents import ParserProcess, UnreadableDocument, corpus_files, load_file
from rag.embeddings import make_embeddings
from rag.settings import Settings
from rag.store import StoreBackendError, all_passages
from rag.watch import watch_corpus

ACCORD_QUESTION = "Qui a signé l'accord entre Lyon et Boston ?"


class CountingEmbeddings(Embeddings):
    """The real embedding model, counting the passages it embeds."""

    def __init__(self, model: Embeddings):
        self.model = model
        self.passages = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.passages += len(texts)
        return self.model.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.model.embed_query(text)


@pytest.fixture(scope="module")
def embeddings():
    return CountingEmbeddings(make_embeddings(Settings()))


def make_bot(corpus, data_dir, embeddings) -> Chatbot:
    """A chatbot over ``corpus`` whose embedding calls are counted."""
    bot = Chatbot(corpus_dir=corpus, data_dir=data_dir)
    bot.embeddings = embeddings
    return bot


def stored(bot: Chatbot) -> list[tuple[str, str, str]]:
    """(source, title, text) of every passage in the store, duplicates included."""
    return sorted((p.metadata["source"], p.metadata["title"], p.page_content) for p in all_passages(bot.store))


def on_disk(bot: Chatbot) -> list[tuple[str, str, str]]:
    """(source, title, text) of the distinct passages of the readable files in the corpus now.

    A passage repeated word for word in one document is stored once: its key is its text and metadata.
    """
    corpus, settings = bot.settings.corpus_dir, bot.settings
    documents = []
    for path in corpus_files(corpus):
        try:
            documents.append(load_file(path, path.relative_to(corpus).as_posix(), settings.max_file_mb))
        except Exception:  # noqa: BLE001 - unreadable files have no passages
            continue
    passages = split_documents(documents, settings.chunk_size, settings.chunk_min)
    return sorted({(p.metadata["source"], p.metadata["title"], p.page_content) for p in passages})


def counts(report) -> tuple[int, int, int, int]:
    return report.added, report.updated, report.deleted, report.unchanged


def test_new_markdown_and_html_are_answerable_and_never_embedded_twice(corpus, tmp_path, embeddings):
    bot = make_bot(corpus, tmp_path / "data", embeddings)
    bot.index()
    (corpus / "transport").mkdir()
    (corpus / "transport" / "tram.md").write_text(
        "# Ligne de tramway T9\n\nLa nouvelle ligne de tramway T9 reliera Vaulx-en-Velin à Villeurbanne "
        "en 2026. Elle comptera 14 stations sur 6,8 kilomètres et transportera 30 000 voyageurs par jour.\n",
        encoding="utf-8",
    )
    (corpus / "bridge.html").write_text(
        "<html><head><title>Harbour bridge reopens</title><script>var ad = 'buy now';</script></head><body>"
        "<nav><a href='/'>Home</a> | <a href='/sport'>Sport</a></nav><article><h1>Harbour bridge reopens</h1>"
        "<p>The harbour bridge in Portsmouth reopened on Monday after 14 months of repairs costing 31 million "
        "pounds.</p></article><footer>Subscribe to our newsletter</footer></body></html>",
        encoding="utf-8",
    )

    report = bot.index()

    assert counts(report) == (2, 0, 0, 1)
    tram = bot.retrieve("Combien de stations comptera la ligne de tramway T9 ?")[0]
    bridge = bot.retrieve("How much did the harbour bridge repairs cost?")[0]
    assert (tram.document, tram.title, tram.language) == ("transport/tram.md", "Ligne de tramway T9", "fr")
    assert "14 stations" in tram.text
    assert (bridge.document, bridge.title, bridge.language) == ("bridge.html", "Harbour bridge reopens", "en")
    assert "31 million" in bridge.text and "newsletter" not in bridge.text and "Sport" not in bridge.text
    assert stored(bot) == on_disk(bot)

    os.utime(corpus / "transport" / "tram.md")  # touched, same content
    embedded = embeddings.passages
    again = bot.index()

    assert counts(again) == (0, 0, 0, 3)
    assert again.passages_written == again.passages_deleted == 0
    assert embeddings.passages == embedded
    assert stored(bot) == on_disk(bot)


def test_an_edited_number_replaces_the_old_one(corpus, tmp_path, embeddings):
    budget = corpus / "budget.txt"
    text = (
        "Budget municipal\n\nLe conseil municipal de Villeurbanne a voté un budget de {} millions d'euros "
        "pour 2025, dont une part importante consacrée à la rénovation des écoles et des gymnases.\n"
    )
    budget.write_text(text.format(412), encoding="utf-8")
    bot = make_bot(corpus, tmp_path / "data", embeddings)
    bot.index()
    first = {d.source: d.indexed_at for d in bot.documents()}
    time.sleep(0.05)

    budget.write_text(text.format(437), encoding="utf-8")
    report = bot.index()

    assert counts(report) == (0, 1, 0, 1)
    indexed_at = {d.source: d.indexed_at for d in bot.documents()}  # when each one's passages were written
    assert indexed_at["lyon-boston-accord.txt"] == first["lyon-boston-accord.txt"]
    assert indexed_at["budget.txt"] > first["budget.txt"] > time.time() - 600
    assert report.passages_written == 1 and report.passages_deleted == 1
    found = bot.retrieve("Quel budget le conseil municipal de Villeurbanne a-t-il voté ?")
    assert found[0].document == "budget.txt" and "437 millions" in found[0].text
    assert not any("412" in text for _, _, text in stored(bot))
    assert stored(bot) == on_disk(bot)


def test_a_deleted_file_leaves_the_store_and_the_answers(corpus, tmp_path, embeddings):
    museum = corpus / "archives" / "musee.md"
    museum.parent.mkdir()
    museum.write_text(
        "# Musée des Confluences\n\nLe musée des Confluences a accueilli 712 000 visiteurs en 2024, "
        "un record depuis son ouverture, grâce à l'exposition consacrée aux dinosaures.\n",
        encoding="utf-8",
    )
    bot = make_bot(corpus, tmp_path / "data", embeddings)
    bot.index()
    question = "Combien de visiteurs le musée des Confluences a-t-il accueillis ?"
    assert bot.retrieve(question)[0].document == "archives/musee.md"

    museum.unlink()
    report = bot.index()

    assert counts(report) == (0, 0, 1, 1)
    assert report.passages_deleted == 1
    assert "archives/musee.md" not in {source for source, _, _ in stored(bot)}
    assert "archives/musee.md" not in {source.document for source in bot.retrieve(question)}
    assert stored(bot) == on_disk(bot)


def test_a_document_spanning_several_write_batches_is_never_rewritten(corpus, tmp_path, embeddings, monkeypatch):
    monkeypatch.setattr(indexing, "WRITE_BATCH", 32)
    paragraphs = [
        f"Séance {n} du conseil : les élus ont examiné le dossier numéro {n} consacré à la voirie "
        f"du quartier {n}, puis voté à l'unanimité une subvention de {1000 + n} euros pour l'association de quartier."
        for n in range(3 * indexing.WRITE_BATCH)
    ]
    minutes = corpus / "proces-verbaux.txt"
    minutes.write_text("\n\n".join(paragraphs), encoding="utf-8")
    bot = make_bot(corpus, tmp_path / "data", embeddings)
    bot.index()
    assert sum(source == "proces-verbaux.txt" for source, _, _ in stored(bot)) > 2 * indexing.WRITE_BATCH
    assert stored(bot) == on_disk(bot)

    embedded = embeddings.passages
    unchanged = bot.index()
    assert (unchanged.passages_written, embeddings.passages) == (0, embedded)
    assert stored(bot) == on_disk(bot)

    # The last passage changes; those of the first batches are the same as before.
    paragraphs[-1] = paragraphs[-1].replace("euros", "euros (montant révisé)")
    minutes.write_text("\n\n".join(paragraphs), encoding="utf-8")
    edited = bot.index()

    assert counts(edited) == (0, 1, 0, 1)
    assert (edited.passages_written, edited.passages_deleted) == (1, 1)
    assert embeddings.passages == embedded + 1
    assert stored(bot) == on_disk(bot)


def test_bad_files_are_skipped_with_a_warning_and_the_rest_is_indexed(corpus, tmp_path, embeddings, caplog):
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "binary.md").write_bytes(os.urandom(4096))
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\n" + os.urandom(2000))
    (corpus / "broken.docx").write_bytes(b"PK\x03\x04" + os.urandom(2000))
    with (corpus / "huge.txt").open("wb") as out:
        out.truncate(50_000_000)
    legacy = "Compte rendu\n\nLe député a évoqué l’été à Besançon : l’œuvre coûtera 12 € par élève, a-t-il dit.\n"
    (corpus / "legacy-cp1252.txt").write_bytes(legacy.encode("cp1252"))
    bot = make_bot(corpus, tmp_path / "data", embeddings)

    with caplog.at_level(logging.WARNING, logger="rag.indexing"):
        report = bot.index()

    bad = {"empty.txt", "binary.md", "broken.pdf", "broken.docx", "huge.txt"}
    assert {skipped.source for skipped in report.skipped} == bad
    warned = " ".join(record.getMessage() for record in caplog.records)
    assert all(f"Skipped {name}" in warned for name in bad)
    assert counts(report) == (2, 0, 0, 0)
    assert bot.retrieve(ACCORD_QUESTION)[0].document == "lyon-boston-accord.txt"
    assert "l’œuvre coûtera 12 € par élève" in bot.retrieve("Combien coûtera l'œuvre par élève ?")[0].text
    assert stored(bot) == on_disk(bot)

    # A document that turns bad loses its passages: the store never serves a file no longer readable.
    (corpus / "legacy-cp1252.txt").write_bytes(b"")
    report = bot.index()
    assert counts(report) == (0, 0, 1, 1) and len(report.skipped) == 6
    assert stored(bot) == on_disk(bot)


@pytest.mark.skipif(sys.platform != "linux", reason="file names there may be any bytes")
def test_a_name_that_is_not_utf8_and_a_folder_that_cannot_be_read_are_named_and_the_rest_indexed(
    corpus, tmp_path, embeddings, monkeypatch
):
    (corpus / os.fsdecode(b"caf\xe9.txt")).write_text("Note\n\nLe café ouvre en mai.\n", encoding="utf-8")
    (corpus / "locked").mkdir()
    (corpus / "locked" / "note.txt").write_text("Note\n\nLe pont Schuman rouvre en mai.\n", encoding="utf-8")
    scandir, locked = os.scandir, corpus / "locked"

    def locked_scandir(path="."):  # as for a folder without read permission (tests may run as root)
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", locked_scandir)
    report = make_bot(corpus, tmp_path / "data", embeddings).index()

    assert {skipped.source: skipped.reason for skipped in report.skipped} == {
        "caf\ufffd.txt": "its name is not valid UTF-8: rename the file",
        "locked/": "folder cannot be read: Permission denied",
    }
    assert counts(report) == (1, 0, 0, 0)  # the article
    assert "caf\ufffd.txt" in report.summary() and "locked/" in report.summary()

    locked = corpus  # now the corpus folder itself
    with pytest.raises(PermissionError, match="corpus folder .* cannot be read"):  # not an empty corpus
        make_bot(corpus, tmp_path / "data", embeddings).index()


def test_a_progress_bar_shows_when_asked(corpus, tmp_path, embeddings, capsys):
    make_bot(corpus, tmp_path / "data", embeddings).index(progress=True)

    assert "Indexing" in capsys.readouterr().err


def test_passages_left_by_a_killed_run_or_lost_from_the_store_are_repaired(corpus, tmp_path, embeddings):
    bot = make_bot(corpus, tmp_path / "data", embeddings)
    bot.index()
    # Written to Chroma but never recorded, as when a run is killed between the two.
    bot.store.add_texts(["Un passage d'une version abandonnée."], metadatas=[{"source": "old.txt", "title": "old"}])
    bot.index()
    assert stored(bot) == on_disk(bot)

    # Passages lost from the store although recorded, as when it is emptied by hand.
    bot.store.delete(ids=bot.store.get(include=[])["ids"])
    report = bot.index()
    assert report.passages_written == len(on_disk(bot))
    assert stored(bot) == on_disk(bot)


def test_questions_get_answers_while_an_index_run_is_in_progress(corpus, tmp_path, embeddings):
    bot = make_bot(corpus, tmp_path / "data", embeddings)
    bot.index()
    for n in range(200):
        (corpus / f"brief-{n}.txt").write_text(
            f"Brève {n}\n\nLa commune numéro {n} a inauguré une médiathèque de {n + 200} mètres carrés.\n\n"
            f"Le maire a rappelé que le chantier avait duré {n + 3} mois et coûté {n + 2} millions d'euros.",
            encoding="utf-8",
        )
    errors, answers = [], []

    def index_in_background():
        try:
            bot.index()
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    run = threading.Thread(target=index_in_background)

    run.start()
    try:
        while run.is_alive():
            answers.append(bot.retrieve(ACCORD_QUESTION))
    finally:
        run.join()

    assert not errors
    assert len(answers) >= 2
    assert all(sources and sources[0].document == "lyon-boston-accord.txt" for sources in answers)
    assert stored(bot) == on_disk(bot)


def test_watch_mode_follows_files_created_edited_moved_and_deleted(corpus, tmp_path, embeddings):
    bot = make_bot(corpus, tmp_path / "data", embeddings)
    bot.index()
    reports, stop = queue.Queue(), threading.Event()
    watcher = threading.Thread(target=watch_corpus, args=(bot,), kwargs={"on_report": reports.put, "stop_event": stop})
    watcher.start()
    time.sleep(1)  # the watcher is up
    text = "Piscine {}\n\nLa piscine municipale {} rouvrira le {} juin après deux ans de travaux de rénovation."
    try:
        # A burst of changes, one of them in a new sub-folder, makes one run.
        (corpus / "sport").mkdir()
        for name in ["sport/gerland.txt", "vaise.txt", "bron.txt"]:
            (corpus / name).write_text(text.format(name, name, 12), encoding="utf-8")
        (corpus / "notes.xyz").write_text("not a document")
        assert counts(reports.get(timeout=15)) == (3, 0, 0, 1)
        assert stored(bot) == on_disk(bot)

        (corpus / "vaise.txt").write_text(text.format("vaise", "de Vaise", 27), encoding="utf-8")
        assert counts(reports.get(timeout=15)) == (0, 1, 0, 3)
        assert "27 juin" in bot.retrieve("Quand la piscine de Vaise rouvrira-t-elle ?")[0].text

        (corpus / "bron.txt").rename(corpus / "sport" / "bron.txt")
        assert counts(reports.get(timeout=15)) == (1, 0, 1, 3)

        (corpus / "vaise.txt").unlink()
        assert counts(reports.get(timeout=15)) == (0, 0, 1, 3)
        assert stored(bot) == on_disk(bot)

        if sys.platform == "linux":  # watchfiles stops at a file name that is not UTF-8: the watcher names it, goes on
            (corpus / os.fsdecode(b"caf\xe9.txt")).write_text("Note\n\nLe café ouvre en mai.\n", encoding="utf-8")
            assert [skipped.source for skipped in reports.get(timeout=15).skipped] == ["caf\ufffd.txt"]
            (corpus / "vaise.txt").write_text(text.format("vaise", "de Vaise", 27), encoding="utf-8")
            assert counts(reports.get(timeout=15)) == (1, 0, 0, 3)

        # Editors' hidden files and other file types start no run.
        (corpus / ".gerland.txt.swp").write_text("draft")
        (corpus / "photo.jpg").write_bytes(b"\xff\xd8\xff")
        with pytest.raises(queue.Empty):
            reports.get(timeout=3)
    finally:
        stop.set()
        watcher.join(timeout=10)
    assert not watcher.is_alive()


class StoreDownOnce:
    """A chatbot whose first index run fails as it does when the Chroma server is out of reach."""

    def __init__(self, corpus: Path):
        self.settings = Settings(corpus_dir=corpus)
        self.runs = 0

    def index(self) -> indexing.IndexReport:
        self.runs += 1
        if self.runs == 1:
            raise StoreBackendError("The Chroma server at http://chroma:8000 cannot be reached.")
        return indexing.IndexReport(added=1)


def test_a_failed_watch_run_is_logged_and_tried_again_without_another_change(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(watch, "RETRY_MS", 500)
    bot, reports, stop = StoreDownOnce(tmp_path), queue.Queue(), threading.Event()
    watcher = threading.Thread(target=watch_corpus, args=(bot,), kwargs={"on_report": reports.put, "stop_event": stop})
    watcher.start()
    time.sleep(1)  # the watcher is up
    try:
        (tmp_path / "note.txt").write_text("Note\n\nLe café ouvre en mai.\n", encoding="utf-8")
        assert reports.get(timeout=15).added == 1  # the second run: the failed one was tried again
        assert bot.runs == 2
        assert "failed, trying again in 0.5 s or at the next change: The Chroma server" in caplog.text
        (tmp_path / "other.txt").write_text("Note\n\nLa piscine ouvre en juin.\n", encoding="utf-8")
        assert reports.get(timeout=15).added == 1 and bot.runs == 3  # and it goes on watching
        (tmp_path / ".other.txt.swp").write_text("draft")  # not a document
        with pytest.raises(queue.Empty):  # quiet folder, or other files changed, last run fine: no run
            reports.get(timeout=1.5)
        assert bot.runs == 3
    finally:
        stop.set()
        watcher.join(timeout=10)
    assert not watcher.is_alive()


def test_rag_index_watch_prints_a_line_per_run_and_stops_cleanly_on_ctrl_c(corpus, tmp_path):
    data = tmp_path / "data"
    # -X faulthandler: a watcher that does not stop is made to print where each of its threads is.
    command = [
        sys.executable, "-X", "faulthandler", "-m", "rag.cli", "index", "--watch", "--corpus", str(corpus),
        "--data", str(data),
    ]
    # Started as from a terminal, where Ctrl-C interrupts: a suite run in the background by a non-interactive
    # shell ignores SIGINT, and a child would inherit that. A handler set here is reset to the default in the child.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    finally:
        signal.signal(signal.SIGINT, previous)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    try:
        assert lines.get(timeout=120).startswith("1 added, 0 updated, 0 deleted, 0 unchanged documents")
        # The watcher starts just after that line: write until it reacts (a busy machine starts it late).
        deadline = time.monotonic() + 90
        while True:
            (corpus / "noel.md").write_text("# Marché de Noël\n\nIl ouvrira le 25 novembre.", encoding="utf-8")
            try:
                line = lines.get(timeout=5)
                break
            except queue.Empty:
                assert time.monotonic() < deadline, "the watcher never re-indexed"
        assert line.startswith("1 added, 0 updated, 0 deleted, 1 unchanged documents")
    finally:
        process.send_signal(signal.SIGINT)
        try:
            returncode = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGABRT)
            process.wait(timeout=30)
            pytest.fail(f"rag index --watch did not stop within 30 s of Ctrl-C; its threads:\n{process.stderr.read()}")
    assert returncode == 130
    assert "Traceback" not in process.stderr.read()


def pdf_with_page(content: bytes) -> bytes:
    """A real one-page PDF whose page draws ``content`` (PDF text operators), flate-compressed."""
    stream = zlib.compress(content, 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    pdf, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(pdf))
        pdf += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(pdf)
    pdf += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    pdf += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    return pdf + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)


def test_no_passage_is_over_the_hard_limit_whatever_the_text(corpus, tmp_path, embeddings):
    blob = base64.b64encode(os.urandom(45_000)).decode()  # 60,000 characters without a space
    (corpus / "blob.txt").write_text(f"Pièce jointe\n\n{blob}\n\nLe tunnel de Fourvière fermera en août.\n")
    bot = make_bot(corpus, tmp_path / "data", embeddings)
    bot.index()

    limit = max_passage_chars(bot.settings.chunk_size, bot.settings.chunk_min)
    lengths = [len(text) for _, _, text in stored(bot)]
    assert max(lengths) <= limit, max(lengths)
    assert "".join(text for source, _, text in stored(bot) if source == "blob.txt").count(blob[:500]) == 1
    assert any("Le tunnel de Fourvière fermera en août." in text for _, _, text in stored(bot))  # nothing lost


def test_files_that_expand_too_far_or_parse_too_long_are_skipped_and_named(corpus, tmp_path, embeddings):
    import docx

    bomb = docx.Document()
    bomb.add_paragraph("a" * 3_000_000)  # a few kB zipped, 3 MB of text
    bomb.save(corpus / "bomb.docx")
    slow_page = b"BT /F1 12 Tf 72 720 Td (Lyon et Boston) Tj ET\n" * 400_000
    (corpus / "slow.pdf").write_bytes(pdf_with_page(slow_page))
    (corpus / "ok.pdf").write_bytes(pdf_with_page(b"BT /F1 12 Tf 72 720 Td (Le pont Schuman rouvre en mai.) Tj ET\n"))
    bot = make_bot(corpus, tmp_path / "data", embeddings)
    bot.settings.max_text_mb, bot.settings.max_parse_s = 1.0, 5.0

    started = time.monotonic()
    report = bot.index()

    reasons = {skipped.source: skipped.reason for skipped in report.skipped}
    assert "limit on expanded size" in reasons["bomb.docx"]
    assert "took over 5 s" in reasons["slow.pdf"]
    assert report.added == 2  # the article and ok.pdf
    assert time.monotonic() - started < 60
    assert "Schuman" in bot.retrieve("Quand le pont Schuman rouvre-t-il ?")[0].text


def test_a_script_without_a_main_guard_gets_its_pdf_read(tmp_path):
    """PDF and DOCX files are read in a worker process: one that ran the user's script again (as
    multiprocessing's spawn does) would index again inside it, and the PDF would be skipped after a timeout."""
    page = b"BT /F1 12 Tf 72 720 Td (Le pont Schuman rouvre en mai.) Tj ET\n"
    (tmp_path / "note.pdf").write_bytes(pdf_with_page(page))
    script = tmp_path / "read_note.py"
    script.write_text(
        "from pathlib import Path\n"
        "from rag.documents import ParserProcess\n"
        "parser = ParserProcess(max_seconds=20, max_chars=10**6)\n"
        "print(parser.extract((Path(__file__).parent / 'note.pdf').read_bytes(), '.pdf'))\n"
        "parser.close()\n",
        encoding="utf-8",
    )
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=90, cwd=tmp_path)
    assert "Le pont Schuman rouvre en mai." in run.stdout, run.stderr[-2000:]


@pytest.mark.skipif(sys.platform != "linux", reason="the address-space limit is enforced there")
def test_a_file_needing_more_memory_than_allowed_is_refused_and_the_next_one_read():
    """A 30 kB PDF whose page expands to 30 million characters needs some 400 MB to read: under a 150 MB limit
    it is refused by name, and a fresh worker reads the next file."""
    bomb = pdf_with_page(b"BT /F1 12 Tf 72 720 Td (" + b"a" * 30_000_000 + b") Tj ET\n")
    page = pdf_with_page(b"BT /F1 12 Tf 72 720 Td (Le pont Schuman rouvre en mai.) Tj ET\n")
    parser = ParserProcess(max_seconds=60, max_chars=50_000_000, max_memory_mb=150)
    try:
        with pytest.raises(UnreadableDocument, match="needs over 150 MB of memory"):
            parser.extract(bomb, ".pdf")
        assert "Le pont Schuman rouvre en mai." in parser.extract(page, ".pdf")[1]
    finally:
        parser.close()


def test_a_data_folder_keeps_the_index_of_its_own_corpus(corpus, tmp_path, embeddings):
    """Indexing another folder into a data folder would delete its documents: it is refused, naming both; a
    project moved whole (corpus and data folder) keeps its index."""
    project = tmp_path / "project"
    (project / "corpus").mkdir(parents=True)
    shutil.copy(corpus / "lyon-boston-accord.txt", project / "corpus")
    make_bot(project / "corpus", project / ".rag", embeddings).index()
    (project / "other").mkdir()
    (project / "other" / "note.txt").write_text("Note\n\nLe pont Schuman rouvre en mai.\n", encoding="utf-8")

    with pytest.raises(ValueError, match=r"holds the index of .*project/corpus, not of .*other"):
        make_bot(project / "other", project / ".rag", embeddings).index()

    shutil.copytree(project, tmp_path / "moved")  # copied: this process keeps the first store open
    moved = make_bot(tmp_path / "moved" / "corpus", tmp_path / "moved" / ".rag", embeddings)
    report = moved.index()
    assert (report.added, report.deleted, report.unchanged) == (0, 0, 1)
    assert [d.source for d in moved.documents()] == ["lyon-boston-accord.txt"]

    (tmp_path / "moved" / "corpus").rename(tmp_path / "moved" / "press")
    with pytest.raises(ValueError, match=r"If you moved or renamed it, delete .*corpus-folder to keep the index"):
        make_bot(tmp_path / "moved" / "press", tmp_path / "moved" / ".rag", embeddings).index()


def test_a_title_is_metadata_not_passage_text(corpus, tmp_path, embeddings):
    (corpus / "video.html").write_text(
        "<html><head><title>[Vidéo] Lyon et Boston : l'accord signé</title></head><body><article>"
        "<p>La Métropole de Lyon et la ville de Boston ont signé un accord de coopération sur l'innovation.</p>"
        "</article></body></html>",
        encoding="utf-8",
    )
    bot = make_bot(corpus, tmp_path / "data", embeddings)
    bot.index()

    video = next(s for s in bot.retrieve("Quel accord Lyon et Boston ont-ils signé ?", history=None) if s.document == "video.html")
    assert video.title == "[Vidéo] Lyon et Boston : l'accord signé"
    assert "Vidéo" not in video.text and video.text.startswith("La Métropole de Lyon")
    assert video.labelled.startswith("[[Vidéo] Lyon et Boston : l'accord signé]\n")


def test_editing_one_sentence_re_embeds_only_the_passages_it_touches(corpus, tmp_path, embeddings):
    paragraphs = [
        f"Chapitre {n}. " + " ".join(f"Le quartier numéro {n} accueille le projet {n * 10 + k} de la Métropole." for k in range(8))
        for n in range(1, 21)
    ]
    report_file = corpus / "rapport.txt"
    report_file.write_text("Rapport annuel\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
    bot = make_bot(corpus, tmp_path / "data", embeddings)
    bot.index()
    assert sum(source == "rapport.txt" for source, _, _ in stored(bot)) >= 20

    paragraphs[0] = paragraphs[0].replace("le projet 10 de", "le grand projet 10 de")
    report_file.write_text("Rapport annuel\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
    embedded = embeddings.passages
    report = bot.index()

    assert report.passages_written <= 2 and embeddings.passages - embedded <= 2, report.summary()
    assert stored(bot) == on_disk(bot)


def test_uploads_left_half_written_are_removed_at_the_next_run(corpus, tmp_path, embeddings):
    old, fresh = corpus / ".upload-k1ll3d", corpus / ".upload-busy"
    old.write_bytes(b"half a PDF")
    fresh.write_bytes(b"being written")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    make_bot(corpus, tmp_path / "data", embeddings).index()
    assert not old.exists() and fresh.exists()



def test_the_report_counts_one_passage_in_the_singular():
    assert "; 1 passage written, 0 removed" in indexing.IndexReport(added=1, passages_written=1).summary()
    assert "; 6 passages written, 1 removed" in indexing.IndexReport(updated=1, passages_written=6, passages_deleted=1).summary()

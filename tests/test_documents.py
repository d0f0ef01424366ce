"""Reading the corpus folder: formats, article text, encodings, which files count."""

import io

import docx
import pytest

from rag.documents import UnreadableDocument, corpus_files, load_file

FRENCH = "Le député a évoqué l’été à Besançon : « coût total, 12 € par élève », a-t-il précisé."


def pdf_bytes(title: str, lines: list[str]) -> bytes:
    """A one-page PDF showing ``lines`` in Helvetica (WinAnsi encoding), with a document title."""
    text = " ".join(f"({line}) Tj 0 -16 Td" for line in lines)
    stream = f"BT /F1 12 Tf 72 720 Td {text} ET".encode("cp1252")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        f"<< /Title ({title}) >>".encode("cp1252"),
    ]
    out = io.BytesIO(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def docx_bytes(title: str, paragraphs: list[str]) -> bytes:
    document = docx.Document()
    document.core_properties.title = title
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


ARTICLE_HTML = """<!doctype html>
<html><head><title>Harbour bridge reopens | City News</title>
<style>p { color: red }</style><script>var tracker = "SCRIPT-JUNK";</script></head>
<body>
<div id="cookie-banner"><p>We use cookies. COOKIE-JUNK</p></div>
<header class="site-header"><p>City News, your daily paper. HEADER-JUNK</p></header>
<nav><ul><li>Home NAV-JUNK</li><li>Politics</li></ul></nav>
<div class="menu-mobile"><ul><li>MENU-JUNK</li></ul></div>
<main><article>
  <header><h1>Harbour bridge reopens after repairs</h1><p>By Ana Silva</p></header>
  <p>The harbour bridge reopened on Monday after 14 months of repairs costing 31 million dollars.</p>
  <ul><li>Cyclists get a protected lane.</li><li>Tolls stay unchanged.</li></ul>
  <div class="share-buttons"><p>Share on social media SHARE-JUNK</p></div>
  <footer><p>Filed under transport FOOTER-JUNK</p></footer>
</article>
<aside><p>Most read ASIDE-JUNK</p></aside></main>
<footer><p>© City News 2025 FOOTER-JUNK</p></footer>
</body></html>"""


def test_every_format_is_read_with_title_and_language(tmp_path):
    (tmp_path / "2024" / "mars").mkdir(parents=True)
    files = {
        "note.txt": ("Réunion du conseil\n\n" + FRENCH).encode(),
        "2024/brief.md": b"# Budget vote\n\nThe council approved a budget of 42 million dollars on Tuesday.",
        "2024/mars/bridge.html": ARTICLE_HTML.encode(),
        "old.HTM": b"<html><body><p>Le tramway T9 comptera 14 stations en 2026.</p></body></html>",
        "report.pdf": pdf_bytes("Rapport annuel", ["Le musée a accueilli 85 000 visiteurs en 2024.", "Entrée libre."]),
        "minutes.docx": docx_bytes("Compte rendu", ["La séance est ouverte à 18 heures.", FRENCH]),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)

    documents = {
        path.relative_to(tmp_path).as_posix(): load_file(path, path.relative_to(tmp_path).as_posix())
        for path in corpus_files(tmp_path)
    }

    assert sorted(documents) == sorted(files)
    summary = {source: (d.metadata["title"], d.metadata["language"]) for source, d in documents.items()}
    assert summary == {
        "note.txt": ("Réunion du conseil", "fr"),
        "2024/brief.md": ("Budget vote", "en"),
        "2024/mars/bridge.html": ("Harbour bridge reopens | City News", "en"),
        "old.HTM": ("old", "fr"),
        "report.pdf": ("Rapport annuel", "fr"),
        "minutes.docx": ("Compte rendu", "fr"),
    }
    assert FRENCH in documents["note.txt"].page_content
    assert "85 000 visiteurs" in documents["report.pdf"].page_content
    assert "l’été à Besançon" in documents["minutes.docx"].page_content
    assert all(d.metadata["source"] == source for source, d in documents.items())


def test_html_keeps_the_article_and_drops_the_page_around_it(tmp_path):
    path = tmp_path / "bridge.html"
    path.write_text(ARTICLE_HTML, encoding="utf-8")

    text = load_file(path, "bridge.html").page_content

    assert "Harbour bridge reopens after repairs" in text
    assert "reopened on Monday after 14 months of repairs" in text
    assert "• Cyclists get a protected lane." in text
    assert "JUNK" not in text


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1", "utf-8", "utf-8-sig"])
def test_legacy_and_unicode_text_files_keep_their_accents(tmp_path, encoding):
    text = FRENCH if encoding != "latin-1" else FRENCH.replace("’", "'").replace("€", "euros")
    path = tmp_path / "article.txt"
    path.write_bytes(f"Conseil municipal\n\n{text}\n".encode(encoding))

    assert load_file(path, "article.txt").page_content == f"Conseil municipal\n\n{text}"


def test_hidden_files_and_unknown_extensions_are_not_documents(tmp_path):
    names = ["kept.txt", "sub/kept.md", ".draft.txt", ".git/notes.md", "sub/.cache/page.html", "photo.jpg", "README"]
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("Le conseil a voté le budget.")

    assert [p.relative_to(tmp_path).as_posix() for p in corpus_files(tmp_path)] == ["kept.txt", "sub/kept.md"]


@pytest.mark.parametrize(
    "name, data, reason",
    [
        ("empty.txt", b"", "no text"),
        ("blank.md", b" \n\n\t\n", "no text"),
        ("binary.txt", bytes(range(256)) * 40, "binary data"),
        ("scan.pdf", pdf_bytes("Scan", []), "no text"),
    ],
)
def test_files_without_text_are_refused_with_the_reason(tmp_path, name, data, reason):
    path = tmp_path / name
    path.write_bytes(data)

    with pytest.raises(UnreadableDocument, match=reason):
        load_file(path, name)


def test_a_file_over_the_size_limit_is_refused_without_being_read(tmp_path):
    path = tmp_path / "huge.txt"
    with path.open("wb") as out:
        out.truncate(50_000_000)

    with pytest.raises(UnreadableDocument, match="50 MB, over the 20 MB limit"):
        load_file(path, "huge.txt", max_file_mb=20)


def test_pdf_lines_wrapped_mid_sentence_are_joined_and_headings_and_items_kept():
    from rag.documents import join_wrapped_lines

    page = "\n".join([
        "Budget 2025",
        "Le conseil a voté le budget primitif de l'exercice, qui s'élève à 4,3 milliards d'euros, le",
        "27 janvier. Il se répartit en deux lignes :",
        "• 15 millions pour les start-up ;",
        "• 12 millions pour la recherche.",
        "Dette",
        "L'encours de la dette s'établit à 2,1 milliards d'euros selon Bertrand Aubry, vice-président chargé des",
        "Finances publiques.",
    ])
    assert join_wrapped_lines(page).splitlines() == [
        "Budget 2025",
        "Le conseil a voté le budget primitif de l'exercice, qui s'élève à 4,3 milliards d'euros, le 27 janvier. "
        "Il se répartit en deux lignes :",
        "• 15 millions pour les start-up ;",
        "• 12 millions pour la recherche.",
        "Dette",
        "L'encours de la dette s'établit à 2,1 milliards d'euros selon Bertrand Aubry, vice-président chargé des "
        "Finances publiques.",
    ]

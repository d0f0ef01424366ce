"""Adding and removing corpus files: names from users never escape the corpus or overwrite silently."""

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rag.corpus import DocumentExistsError, delete_document, document_path, safe_filename, save_document
from rag.documents import SUPPORTED_SUFFIXES


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("article.txt", "article.txt"),
        ("Rapport annuel (2024).PDF", "Rapport-annuel-2024.pdf"),
        ("../../etc/cron.d/evil.md", "evil.md"),
        ("..\\..\\windows\\evil.docx", "evil.docx"),
        ("/absolute/path/note.html", "note.html"),
        (".hidden.txt", "hidden.txt"),
        ("Élysée – communiqué.txt", "Élysée-communiqué.txt"),
        ("a<script>b.txt", "a-script-b.txt"),
    ],
)
def test_safe_filename_keeps_a_plain_name_inside_the_folder(name, expected):
    assert safe_filename(name) == expected


@pytest.mark.parametrize("name", ["program.exe", "archive.tar.gz", "README", "", "...txt", "../.txt", "://.pdf"])
def test_safe_filename_refuses_unsupported_or_empty_names(name):
    with pytest.raises(ValueError):
        safe_filename(name)


@given(stem=st.text(max_size=60), suffix=st.sampled_from(sorted(SUPPORTED_SUFFIXES)))
def test_any_name_becomes_a_visible_file_directly_in_the_corpus(stem, suffix):
    corpus = Path("corpus")
    try:
        name = safe_filename(stem + suffix)
    except ValueError:
        return
    assert (corpus / name).parent == corpus
    assert not name.startswith(".")
    assert name.endswith(suffix)
    assert "/" not in name and "\\" not in name and "\x00" not in name


def test_save_document_copies_the_upload_under_its_safe_name(tmp_path, corpus):
    upload = tmp_path / "upload.tmp"
    upload.write_text("Le texte du communiqué.", encoding="utf-8")

    saved = save_document(corpus, upload, "../Communiqué de presse.txt")

    assert saved == corpus / "Communiqué-de-presse.txt"
    assert saved.read_text(encoding="utf-8") == "Le texte du communiqué."


def test_save_document_never_overwrites_unless_asked(tmp_path, corpus):
    existing = corpus / "lyon-boston-accord.txt"
    original = existing.read_bytes()
    upload = tmp_path / "upload.tmp"
    upload.write_text("new version", encoding="utf-8")

    with pytest.raises(DocumentExistsError, match="already in the corpus"):
        save_document(corpus, upload, "lyon-boston-accord.txt")
    assert existing.read_bytes() == original

    save_document(corpus, upload, "lyon-boston-accord.txt", replace=True)
    assert existing.read_text(encoding="utf-8") == "new version"
    assert sorted(p.name for p in corpus.iterdir()) == ["lyon-boston-accord.txt"]  # no temporary file left
    added = save_document(corpus, upload, "note.txt")
    assert existing.stat().st_mode == added.stat().st_mode  # as readable by others as a document added anew


def test_save_document_refuses_files_over_the_size_limit(tmp_path, corpus):
    upload = tmp_path / "big.tmp"
    upload.write_bytes(b"x" * 2_000_000)

    with pytest.raises(ValueError, match="over the 1 MB limit"):
        save_document(corpus, upload, "big.txt", max_file_mb=1)
    assert not (corpus / "big.txt").exists()


def test_delete_document_removes_a_corpus_file(corpus):
    (corpus / "dossier").mkdir()
    (corpus / "dossier" / "note.md").write_text("# Note", encoding="utf-8")

    delete_document(corpus, "dossier/note.md")
    delete_document(corpus, "lyon-boston-accord.txt")

    assert not (corpus / "dossier" / "note.md").exists()
    assert not (corpus / "lyon-boston-accord.txt").exists()
    with pytest.raises(FileNotFoundError):
        delete_document(corpus, "lyon-boston-accord.txt")


@pytest.mark.parametrize(
    "source",
    ["../outside.txt", "dossier/../../outside.txt", "{outside}", ".secret.txt", "dossier/.hidden/x.txt", "", "script.py"],
)
def test_delete_document_never_touches_files_outside_the_corpus(tmp_path, corpus, source):
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me", encoding="utf-8")
    source = source.format(outside=outside)

    with pytest.raises(ValueError, match="not a document of the corpus"):
        delete_document(corpus, source)
    assert outside.read_text(encoding="utf-8") == "keep me"


def test_delete_document_does_not_follow_a_linked_folder(tmp_path, corpus):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "private.txt").write_text("keep me", encoding="utf-8")
    (corpus / "link").symlink_to(elsewhere)

    with pytest.raises(ValueError):
        delete_document(corpus, "link/private.txt")
    assert (elsewhere / "private.txt").exists()


def test_document_path_accepts_documents_in_sub_folders(corpus):
    assert document_path(corpus, "2024/mars/article.txt") == corpus / "2024" / "mars" / "article.txt"

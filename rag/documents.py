"""Reading the corpus folder: one LangChain ``Document`` per file.

Supported: .txt, .md, .html/.htm (article text only), .pdf, .docx. Files in
sub-folders count; hidden files and unknown extensions are ignored. Text
files may be UTF-8 or cp1252/latin-1. A file that cannot be read raises
``UnreadableDocument`` (or the parser's own error) with the reason.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import re
import subprocess
import sys
from multiprocessing.connection import Connection
from pathlib import Path

from langchain_core.documents import Document

from rag.language import LANGUAGES, Bilingual, detect_language, french_number

TEXT_SUFFIXES = {".txt", ".md"}
HTML_SUFFIXES = {".html", ".htm"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | {".pdf", ".docx"}

# Tags whose text is never article text. A <header> counts only outside the
# article: inside, it holds the headline.
HTML_BOILERPLATE = [
    "script", "style", "noscript", "template", "nav", "footer", "aside", "form", "iframe", "svg", "button"
]
HTML_BOILERPLATE_ROLES = {"navigation", "banner", "contentinfo", "complementary", "search"}
# Class or id of a block around the article: menus, cookie banners, share buttons...
HTML_BOILERPLATE_NAMES = re.compile(
    r"(?:^|[-_\s])(?:nav|navbar|menu|breadcrumbs?|cookies?|consent|share|sharing|social|sidebar|newsletter|"
    r"related|comments?|ads?|advert\w*|promo|footer)(?:$|[-_\s])",
    re.I,
)
# A short first line such as "© visucrea.com" or "Photo : AFP" is a picture credit, not content.
CREDIT_LINE = re.compile(r"^\s*(©|\(c\)|crédits?\b|credits?\b|photo\s*:)", re.I)


class UnreadableDocument(Bilingual, Exception):
    """A file that exists but holds no usable text."""


def skip_reason(error: Exception, language: str = "en") -> str:
    """Why a file is not indexed, as its warning says: our own reasons as they are, a parser's with its type."""
    return error.in_language(language) if isinstance(error, UnreadableDocument) else f"{type(error).__name__}: {error}"


def skip_reasons(error: Exception) -> dict[str, str]:
    """``skip_reason`` in each language, as the parser process sends it."""
    return {language: skip_reason(error, language) for language in LANGUAGES}


def is_hidden(relative: Path) -> bool:
    """A path under a hidden folder, or a hidden file (editors' and systems' own files)."""
    return any(part.startswith(".") for part in relative.parts)


def corpus_files(corpus_dir: Path) -> list[Path]:
    """Supported, non-hidden files under ``corpus_dir``, in a stable order."""
    return scan_corpus(corpus_dir)[0]


def scan_corpus(corpus_dir: Path) -> tuple[list[Path], list[tuple[str, UnreadableDocument]]]:
    """The corpus's files, and (name, why) of what cannot be indexed: a folder that cannot be read, a
    file name that is not UTF-8 (no store or log can hold it). A corpus folder that cannot be read is an
    error: taken as empty, it would have every document deleted from the index."""
    corpus_dir = check_corpus_dir(Path(corpus_dir))
    files, skipped = [], []

    def unreadable_folder(error: OSError) -> None:
        folder = Path(error.filename)
        if folder == corpus_dir:
            raise type(error)(f"The corpus folder {corpus_dir} cannot be read: {error.strerror}") from None
        name = printable(folder.relative_to(corpus_dir).as_posix())
        skipped.append((f"{name}/", UnreadableDocument(f"folder cannot be read: {error.strerror}",
                                                         f"dossier illisible : {error.strerror}")))

    for folder, subfolders, names in os.walk(corpus_dir, onerror=unreadable_folder):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        for name in names:
            path = Path(folder, name)
            if name.startswith(".") or path.suffix.lower() not in SUPPORTED_SUFFIXES or not path.is_file():
                continue
            relative = path.relative_to(corpus_dir).as_posix()
            if printable(relative) != relative:
                skipped.append((printable(relative), UnreadableDocument(
                    "its name is not valid UTF-8: rename the file",
                    "son nom n'est pas en UTF-8 valide : renommez le fichier",
                )))
            else:
                files.append(path)
    return sorted(files), sorted(skipped)


def check_corpus_dir(corpus_dir: Path) -> Path:
    """``corpus_dir``, or an error saying that it is missing or a file."""
    if corpus_dir.exists() and not corpus_dir.is_dir():
        raise NotADirectoryError(f"Corpus folder is a file, not a folder: {corpus_dir}")
    if not corpus_dir.is_dir():
        raise FileNotFoundError(f"Corpus folder not found: {corpus_dir}")
    return corpus_dir


def printable(name: str) -> str:
    """A file name as text: bytes that are not UTF-8 (kept by Python as lone surrogates) shown as �."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def read_file(path: Path, max_file_mb: float) -> bytes:
    """The file's bytes; a file over the size limit is refused without being read."""
    size_mb = path.stat().st_size / 1e6
    if size_mb > max_file_mb:
        raise UnreadableDocument(
            f"file is {size_mb:.0f} MB, over the {max_file_mb:g} MB limit",
            f"le fichier fait {size_mb:.0f} Mo, au-delà de la limite de {french_number(max_file_mb)} Mo",
        )
    return path.read_bytes()


def load_file(path: Path, source: str, max_file_mb: float = 20.0) -> Document:
    """Read one file into a Document with source, title and language metadata."""
    return parse_document(read_file(path, max_file_mb), path.suffix, source)


def extract_text(data: bytes, suffix: str, max_chars: int = 50_000_000) -> tuple[str | None, str]:
    """(title, text) of a file's bytes; ``suffix`` picks the format. Text past ``max_chars`` is refused."""
    suffix = suffix.lower()
    if suffix in HTML_SUFFIXES:
        title, text = read_html(data)
    elif suffix == ".pdf":
        title, text = read_pdf(data, max_chars)
    elif suffix == ".docx":
        title, text = read_docx(data, max_chars)
    else:
        title, text = None, decode_text(data)
    if len(text) > max_chars:
        raise too_long(len(text), max_chars)
    return title, text


def parse_document(data: bytes, suffix: str, source: str, extract=extract_text) -> Document:
    """A Document from a file's bytes; ``source`` names the file, ``extract`` gets its (title, text)."""
    title, text = extract(data, suffix)
    text = drop_credit_line(normalise_whitespace(text))
    if not text.strip():
        raise UnreadableDocument("no text in file", "aucun texte dans le fichier")
    title = title or first_line_title(text, suffix) or Path(source).stem
    metadata = {"source": source, "title": title, "language": detect_language(text[:2000])}
    return Document(page_content=text, metadata=metadata)


def decode_text(data: bytes) -> str:
    """UTF-8 first, then cp1252/latin-1 (legacy French files); refuse binary data."""
    sample = data[:8192]
    if b"\x00" in sample:
        raise UnreadableDocument("binary data, not text", "données binaires, pas du texte")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
    controls = sum(1 for char in text[:8192] if ord(char) < 32 and char not in "\n\r\t\f")
    if controls > 0.01 * min(len(text), 8192):
        raise UnreadableDocument("binary data, not text", "données binaires, pas du texte")
    return text


def read_html(data: bytes) -> tuple[str | None, str]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(decode_text(data), "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    for tag in soup.find_all(_is_html_boilerplate):
        tag.extract()
    body = soup.find("article") or soup.find("main") or soup.body or soup
    heading = body.find("h1")
    lines = []
    for element in body.find_all(["h1", "h2", "h3", "h4", "p", "li", "blockquote", "pre", "td"]):
        if element.find(["p", "li"]):  # a container: its children are read on their own
            continue
        text = element.get_text(" ", strip=True)
        if text:
            lines.append(f"• {text}" if element.name == "li" else text)
    text = "\n\n".join(lines) if lines else body.get_text("\n", strip=True)
    return title or (heading.get_text(" ", strip=True) if heading else None), text


def _is_html_boilerplate(tag) -> bool:
    """Navigation, banners, footers, scripts: anything around the article rather than in it."""
    if tag.name in HTML_BOILERPLATE or tag.get("role") in HTML_BOILERPLATE_ROLES:
        return True
    if tag.name == "header":
        return tag.find_parent("article") is None
    names = " ".join([tag.get("id") or "", *tag.get("class", [])])
    return bool(HTML_BOILERPLATE_NAMES.search(names)) and tag.find(["article", "main", "h1"]) is None


def too_long(chars: int, max_chars: int) -> UnreadableDocument:
    return UnreadableDocument(
        f"its text is over {max_chars / 1e6:g} million characters (the limit on expanded size)",
        f"son texte dépasse {french_number(max_chars / 1e6)} million{'s' if max_chars >= 2e6 else ''} de caractères "
        "(la limite de taille du texte extrait)",
    )


def read_pdf(data: bytes, max_chars: int) -> tuple[str | None, str]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    pages, chars = [], 0
    for page in reader.pages:
        pages.append(join_wrapped_lines(page.extract_text() or ""))
        chars += len(pages[-1])
        if chars > max_chars:
            raise too_long(chars, max_chars)
    title = reader.metadata.title if reader.metadata and reader.metadata.title else None
    return title, "\n\n".join(pages)


# A PDF line wrapped mid-sentence: no end of sentence, then a lower-case word, a number, or a line nearly as long
# as the page's longest (pypdf gives a page's lines as printed; it does not rejoin them).
SENTENCE_END = re.compile(r"[.!?:;»\"]$")
CONTINUES = re.compile(r"^[a-zà-ÿ0-9(«\"]")
WRAPPED_LINE_SHARE = 0.75
LIST_BULLET = re.compile(r"(?:[-•*–·▪◦]|\d{1,2}[.)])\s")


def join_wrapped_lines(page: str) -> str:
    """A page's lines with the ones a PDF wrapped mid-sentence joined back, so that sentences are whole;
    headings and list items ("• …") stay on their own lines."""
    lines = [line.strip() for line in page.splitlines()]
    longest = max((len(line) for line in lines), default=0)
    joined: list[str] = []
    for previous, line in zip(["", *lines], lines):
        wrapped = previous and not SENTENCE_END.search(previous) and line and not LIST_BULLET.match(line)
        if wrapped and (CONTINUES.match(line) or len(previous) >= WRAPPED_LINE_SHARE * longest):
            joined[-1] = f"{joined[-1]} {line}"
        else:
            joined.append(line)
    return "\n".join(joined)


def read_docx(data: bytes, max_chars: int) -> tuple[str | None, str]:
    import zipfile

    import docx

    # A DOCX is a zip: its XML can expand to far more than the file (a zip bomb). Refused before parsing.
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        expanded = sum(member.file_size for member in archive.infolist())
    if expanded > 4 * max_chars:  # XML markup around the text: a few bytes per character
        raise too_long(expanded, max_chars)
    document = docx.Document(io.BytesIO(data))
    lines = []
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if not text:
            continue
        is_list = paragraph.style is not None and paragraph.style.name.lower().startswith("list")
        lines.append(f"• {text}" if is_list else text)
    for table in document.tables:
        for row in table.rows:
            lines.append(" | ".join(cell.text.strip() for cell in row.cells))
    title = document.core_properties.title or None
    return title, "\n\n".join(lines)


def normalise_whitespace(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    text = re.sub(r"[ \t]+", " ", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def drop_credit_line(text: str) -> str:
    first, _, rest = text.partition("\n")
    if len(first) < 80 and CREDIT_LINE.match(first):
        return rest.strip()
    return text


def first_line_title(text: str, suffix: str) -> str | None:
    """A Markdown heading, else the first line when it is short enough to be a title."""
    first = text.strip().split("\n", 1)[0].strip()
    if suffix == ".md" and first.startswith("#"):
        return first.lstrip("#").strip()
    if 0 < len(first) <= 120 and not first.endswith((".", ",", ";", ":")):
        return first
    return None


# Compressed formats: their text can be far larger than the file, and a parser busy on a crafted one
# cannot be stopped from inside its own process.
ISOLATED_SUFFIXES = {".pdf", ".docx"}


class ParserProcess:
    """Extracts the text of PDF and DOCX files in a worker process (``rag.parse_worker``), within a time and a
    memory limit per file.

    A file that takes longer, needs more memory or stops the worker is refused (the worker is stopped and
    started again for the next one) and the index run goes on with the next file.
    """

    STARTUP_S = 120.0  # the worker imports its parsers before its first file: not counted in the file's time

    def __init__(self, max_seconds: float, max_chars: int, max_memory_mb: int = 2048):
        self.max_seconds, self.max_chars, self.max_memory_mb = max_seconds, max_chars, max_memory_mb
        self._worker: tuple[subprocess.Popen, Connection] | None = None

    def extract(self, data: bytes, suffix: str) -> tuple[str | None, str]:
        if suffix.lower() not in ISOLATED_SUFFIXES:
            return extract_text(data, suffix, self.max_chars)
        late = f"parsing it took over {self.max_seconds:g} s", f"la lecture du fichier a pris plus de {french_number(self.max_seconds)} s"
        kind, value = self._exchange(self._connection(), self.max_seconds, late, request=(data, suffix, self.max_chars))
        if kind == "memory":
            self.close()  # a fresh worker reads the next file
            raise UnreadableDocument(
                f"parsing it needs over {self.max_memory_mb} MB of memory",
                f"la lecture du fichier demande plus de {self.max_memory_mb} Mo de mémoire",
            )
        if kind == "unreadable":
            raise UnreadableDocument(value["en"], value["fr"])
        return value

    def _connection(self) -> Connection:
        if self._worker is not None and self._worker[0].poll() is not None:
            self.close()  # it stopped after its last file (killed for memory by the system, say)
        if self._worker is None:
            ours, theirs = multiprocessing.Pipe()
            package_root = str(Path(__file__).resolve().parent.parent)  # the same rag package, wherever it lies
            python_path = os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
            environment = {**os.environ, "PYTHONPATH": python_path}
            # -P: the current folder is not searched first, where a rag/ of its own would be found instead
            command = [sys.executable, "-P", "-m", "rag.parse_worker", str(theirs.fileno()), str(self.max_memory_mb),
                       str(self.max_seconds)]
            process = subprocess.Popen(command, pass_fds=[theirs.fileno()], env=environment, stdin=subprocess.DEVNULL)
            theirs.close()
            self._worker = process, ours
            not_started = "the parser process did not start", "le processus de lecture n'a pas démarré"
            self._exchange(ours, self.STARTUP_S, late=not_started, stopped=not_started)
        return self._worker[1]

    def _exchange(self, connection: Connection, seconds: float, late: tuple[str, str],
                  stopped: tuple[str, str] = ("the parser process stopped", "le processus de lecture s'est arrêté"),
                  request: tuple | None = None):
        """Send ``request`` (if any), then the worker's next message, as ``(kind, value)``; else the worker is
        stopped and ``UnreadableDocument`` raised, with ``late`` if it did not answer within ``seconds``,
        ``stopped`` if it ended (each in English and French)."""
        try:
            if request is not None:
                connection.send(request)
            if connection.poll(seconds):
                return connection.recv()
            reason = late
        except (EOFError, OSError):
            reason = stopped
        self.close()
        raise UnreadableDocument(*reason)

    def close(self) -> None:
        if self._worker is not None:
            process, connection = self._worker
            self._worker = None
            connection.close()
            process.kill()
            process.wait()

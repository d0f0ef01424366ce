"""Adding and removing files in the corpus folder, safely.

Names given by users (an upload's file name, a document to delete) never
reach outside the corpus folder, never create hidden files, and an existing
document is replaced only when asked.
"""

from __future__ import annotations

import logging
import os
import re
import time
import unicodedata
import uuid
from pathlib import Path

from rag.documents import SUPPORTED_SUFFIXES
from rag.language import Bilingual, BilingualError, french_number

log = logging.getLogger(__name__)

MAX_NAME_CHARS = 120
UPLOAD_PREFIX = ".upload-"  # hidden: never indexed while being written
# An upload's temporary file older than this was left by a killed process: no upload takes that long.
UPLOAD_LEFTOVER_AGE_S = 600


class DocumentExistsError(Bilingual, FileExistsError):
    """A document of that name is already in the corpus."""

    def __init__(self, name: str):
        super().__init__(f"{name} is already in the corpus.", f"{name} est déjà dans le corpus.")


class DocumentNotFound(Bilingual, FileNotFoundError):
    """No such document in the corpus (deleted meanwhile)."""

    def __init__(self, source: str):
        super().__init__(f"{source} is not in the corpus.", f"{source} n'est pas dans le corpus.")


def safe_filename(name: str) -> str:
    """A file name for the corpus made from ``name``: no folders, no hidden file, supported type.

    >>> safe_filename("../../Rapport annuel (2024).PDF")
    'Rapport-annuel-2024.pdf'
    """
    base = unicodedata.normalize("NFC", str(name)).replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, suffix = base.rpartition(".")
    suffix = f".{suffix.lower()}" if dot else ""
    if suffix not in SUPPORTED_SUFFIXES:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise BilingualError(
            f"{base or name!r}: unsupported file type; supported: {supported}.",
            f"« {base or name} » : type de fichier non pris en charge ; acceptés : {supported}.",
        )
    stem = re.sub(r"[^\w.-]+", "-", stem)  # letters (accents too), digits, _ . - only
    stem = re.sub(r"-{2,}", "-", stem).strip(".-_ ")[:MAX_NAME_CHARS]
    if not stem:
        raise BilingualError(
            f"{base!r}: the file name has no usable characters.",
            f"« {base} » : le nom du fichier n'a aucun caractère utilisable.",
        )
    return stem + suffix


def save_document(
    corpus_dir: Path, upload: Path, name: str, replace: bool = False, max_file_mb: float | None = None
) -> Path:
    """Copy ``upload`` into ``corpus_dir`` as ``safe_filename(name)``; return the new path.

    Raises DocumentExistsError when that name is taken and ``replace`` is false,
    ValueError for an unsupported name or a file over ``max_file_mb``.
    """
    target = Path(corpus_dir) / safe_filename(name)
    size_mb = Path(upload).stat().st_size / 1e6
    if max_file_mb is not None and size_mb > max_file_mb:
        raise BilingualError(
            f"{target.name}: {size_mb:.1f} MB, over the {max_file_mb:g} MB limit.",
            f"{target.name} : {french_number(size_mb, '.1f')} Mo, au-delà de la limite de {french_number(max_file_mb)} Mo.",
        )
    if target.exists() and not replace:
        raise DocumentExistsError(target.name)
    data = Path(upload).read_bytes()
    if replace:
        # Written beside the target under a hidden name (never indexed), then swapped in at once; opened as a
        # new file is (not by mkstemp, whose 0600 would hide the document from other readers of the folder).
        temporary = Path(corpus_dir) / f"{UPLOAD_PREFIX}{uuid.uuid4().hex}"
        try:
            with open(temporary, "xb") as file:
                file.write(data)
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
    else:
        try:
            with open(target, "xb") as file:  # fails if the name was taken in the meantime
                file.write(data)
        except FileExistsError:
            raise DocumentExistsError(target.name) from None
    return target


def document_path(corpus_dir: Path, source: str) -> Path:
    """The corpus file for ``source`` (a path relative to the corpus); ValueError if it points elsewhere."""
    corpus = Path(corpus_dir).resolve()
    relative = Path(source)
    path = corpus / relative
    inside = not relative.is_absolute() and path.parent.resolve().is_relative_to(corpus)
    hidden = any(part.startswith(".") for part in relative.parts)
    if not source or not inside or hidden or path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise BilingualError(f"{source!r} is not a document of the corpus.", f"« {source} » n'est pas un document du corpus.")
    return path


def delete_document(corpus_dir: Path, source: str) -> Path:
    """Delete the corpus document ``source``; ``DocumentNotFound`` (a FileNotFoundError) if it is not there."""
    path = document_path(corpus_dir, source)
    if not path.is_file():
        raise DocumentNotFound(source)
    path.unlink()
    return path


def remove_upload_leftovers(corpus_dir: Path, older_than_s: float = UPLOAD_LEFTOVER_AGE_S) -> list[Path]:
    """Delete the temporary files of uploads that a killed process never finished; returns them."""
    cutoff, removed = time.time() - older_than_s, []
    for path in Path(corpus_dir).glob(f"{UPLOAD_PREFIX}*"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                log.warning("Removed %s, left by an interrupted upload", path)
                removed.append(path)
        except FileNotFoundError:  # renamed into place or removed meanwhile
            continue
    return removed

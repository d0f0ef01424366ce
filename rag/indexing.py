"""Incremental indexing: the store follows the corpus folder exactly.

Each run fingerprints every file's bytes; a file whose fingerprint is on
record is left alone: not parsed, split or embedded. New and changed files
are parsed, split and handed to LangChain's indexing API, which keys each
passage by a sha256 of its content and metadata and embeds only the passages
not stored yet. Its ``scoped_full`` cleanup removes the older passages of
those files once all their new ones are in; per-batch ("incremental")
cleanup would instead delete, then embed again, the passages of a document
spanning several write batches. Passages of deleted files are removed by
source.

Crash safety: a file is marked pending before its passages change, and its
fingerprint recorded (or, once deleted, forgotten) only when they all have,
so the run after a killed one takes every such file up again. Passages a
killed run wrote but never recorded are removed at the start of the next run.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import threading
import time
from dataclasses import dataclass, field

from filelock import FileLock
from langchain_core.indexing import index
from langchain_core.utils.iter import batch_iterate
from tqdm import tqdm

from rag.chunking import split_documents
from rag.corpus import remove_upload_leftovers
from rag.documents import ParserProcess, UnreadableDocument, parse_document, read_file, scan_corpus, skip_reason
from rag.language import french_number
from rag.settings import Settings
from rag.store import FileRecords, check_corpus_of_data_dir, get_all

log = logging.getLogger(__name__)

WRITE_BATCH = 256  # passages embedded and written together: larger batches spend less per passage on writes
DELETE_BATCH = 1000
# Raised when passages are built differently, so that files indexed the old way are read again.
# 2: the title is metadata, no longer a line of the passage; no position in the metadata.
PASSAGE_FORMAT = 2


@dataclass(frozen=True)
class SkippedFile:
    source: str
    error: Exception  # why: an UnreadableDocument (in English and French), or a parser's own error

    @property
    def reason(self) -> str:
        return skip_reason(self.error)


def counted(number: int, noun: str) -> str:
    """``number`` and ``noun``, in the plural unless one: "1 passage", "7 passages"."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


@dataclass
class IndexReport:
    """What an index run changed, counted in documents, plus passages written."""

    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    passages_written: int = 0
    passages_deleted: int = 0
    skipped: list[SkippedFile] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self, language: str = "en") -> str:
        """One line, in English or French (the web app's documents panel speaks its reader's language)."""
        skipped = ", ".join(f"{s.source} ({skip_reason(s.error, language)})" for s in self.skipped)
        if language == "fr":
            line = (
                f"documents ajoutés : {self.added}, modifiés : {self.updated}, supprimés : {self.deleted}, "
                f"inchangés : {self.unchanged} ; passages écrits : {self.passages_written}, retirés : "
                f"{self.passages_deleted} ; durée : {french_number(self.seconds, '.1f')} s"
            )
            line += f" ; ignorés : {len(self.skipped)} — {skipped}" if self.skipped else ""
            nothing = " ; aucun document indexé : le dossier du corpus ne contient aucun .txt, .md, .html, .pdf ou .docx lisible"
        else:
            line = (
                f"{self.added} added, {self.updated} updated, {self.deleted} deleted, {self.unchanged} unchanged "
                f"documents; {counted(self.passages_written, 'passage')} written, {self.passages_deleted} removed "
                f"in {self.seconds:.1f} s"
            )
            line += f"; {len(self.skipped)} skipped: {skipped}" if self.skipped else ""
            nothing = "; no document is indexed: the corpus folder holds no readable .txt, .md, .html, .pdf or .docx"
        return line + (nothing if not self.added + self.updated + self.unchanged else "")


class Indexer:
    """Runs index passes over the corpus, one at a time across threads and processes."""

    def __init__(self, settings: Settings, store, record_manager):
        self.settings = settings
        self.store = store
        self.record_manager = record_manager
        self.files = FileRecords(record_manager)
        self._thread_lock = threading.Lock()
        self._process_lock = FileLock(str(settings.data_dir / "index.lock"))

    def run(self, progress: bool | None = None) -> IndexReport:
        with self._thread_lock, self._process_lock:
            remove_upload_leftovers(self.settings.corpus_dir)
            parser = ParserProcess(self.settings.max_parse_s, int(self.settings.max_text_mb * 1e6))
            try:
                return self._run(sys.stderr.isatty() if progress is None else progress, parser)
            finally:
                parser.close()

    def _run(self, progress: bool, parser: ParserProcess) -> IndexReport:
        started = time.perf_counter()
        self._reconcile_records()
        recorded = self.files.fingerprints()
        documents, fingerprints, unchanged, skipped = self._read_files(recorded, parser)
        check_corpus_of_data_dir(self.settings, claim=bool(fingerprints or unchanged))  # once it holds documents
        report = IndexReport(skipped=skipped)
        gone = sorted(recorded.keys() - fingerprints.keys() - unchanged)
        indexed_before = {source for source, fingerprint in recorded.items() if fingerprint != FileRecords.PENDING}
        report.added = len(fingerprints.keys() - indexed_before)
        report.updated = len(fingerprints) - report.added
        report.deleted = len(gone)
        report.unchanged = len(unchanged)

        self.files.mark_pending([*fingerprints, *gone])
        passages = split_documents(documents, self.settings.chunk_size, self.settings.chunk_min)
        result = index(
            tqdm(passages, desc="Indexing", unit="passage", disable=not progress, leave=False),
            self.record_manager,
            self.store,
            cleanup="scoped_full",
            source_id_key="source",
            key_encoder="sha256",
            batch_size=WRITE_BATCH,
        )
        report.passages_written = result["num_added"] + result["num_updated"]
        report.passages_deleted = result["num_deleted"] + self._remove_sources(gone)
        self.files.record(fingerprints)
        self.files.forget(gone)
        report.seconds = time.perf_counter() - started
        log.info("Index: %s", report.summary())
        return report

    def _read_files(self, recorded: dict[str, str], parser: ParserProcess):
        """Documents and fingerprints of the new and changed files; unchanged and unreadable files.

        Every file is read and fingerprinted; only those whose fingerprint is
        not on record are parsed.
        """
        files, unreadable = scan_corpus(self.settings.corpus_dir)
        documents, fingerprints, unchanged = [], {}, set()
        skipped = [SkippedFile(name, error) for name, error in unreadable]
        for path in files:
            source = path.relative_to(self.settings.corpus_dir).as_posix()
            try:
                data = read_file(path, self.settings.max_file_mb)
                fingerprint = self._fingerprint(data)
                if recorded.get(source) == fingerprint:
                    unchanged.add(source)
                    continue
                documents.append(parse_document(data, path.suffix, source, parser.extract))
                fingerprints[source] = fingerprint
            except Exception as error:  # noqa: BLE001 - a broken file must not stop the run
                skipped.append(SkippedFile(source, error.with_traceback(None)))  # not the frames holding the file
        for file in skipped:
            log.warning("Skipped %s: %s", file.source, file.reason)
        return documents, fingerprints, unchanged, skipped

    def changed_since_indexed(self, sources: set[str]) -> set[str]:
        """Those of ``sources`` whose file is gone, unreadable or different from the version whose passages
        are stored (a change on disk the next index run has not reached yet)."""
        recorded = self.files.fingerprints()
        changed = set()
        for source in sources:
            try:
                data = read_file(self.settings.corpus_dir / source, self.settings.max_file_mb)
            except (OSError, UnreadableDocument):
                changed.add(source)
                continue
            if recorded.get(source) != self._fingerprint(data):
                changed.add(source)
        return changed

    def _fingerprint(self, data: bytes) -> str:
        """A file's content hash, salted with what shapes its passages: the settings and the passage format."""
        digest = hashlib.sha256(f"{PASSAGE_FORMAT}/{self.settings.chunk_size}/{self.settings.chunk_min}\n".encode())
        digest.update(data)
        return digest.hexdigest()

    def _remove_sources(self, sources: list[str]) -> int:
        """Delete every passage of these files; returns how many there were."""
        removed = 0
        for group in batch_iterate(DELETE_BATCH, sources):
            while keys := self.record_manager.list_keys(group_ids=group, limit=DELETE_BATCH):
                self.record_manager.delete_keys(keys)
                self.store.delete(ids=keys)
                removed += len(keys)
        return removed

    def _reconcile_records(self) -> None:
        """Make the records and the store agree before indexing.

        Passages a killed run wrote but never recorded are deleted; records of
        passages missing from the store (a store wiped by hand) are forgotten
        and every file marked pending, so those passages are written again.
        """
        recorded = set(self.record_manager.list_keys())
        stored = set(get_all(self.store, [])["ids"])
        if orphans := sorted(stored - recorded):
            log.warning("Removing %d passages left by an interrupted index run", len(orphans))
            for group in batch_iterate(DELETE_BATCH, orphans):
                self.store.delete(ids=group)
        if missing := sorted(recorded - stored):
            log.warning("Re-indexing %d passages missing from the store", len(missing))
            for group in batch_iterate(DELETE_BATCH, missing):
                self.record_manager.delete_keys(group)
            self.files.mark_pending(self.files.fingerprints())

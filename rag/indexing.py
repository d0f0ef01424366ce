"""Incremental indexing: the store follows the corpus folder exactly.

LangChain's indexing API does the bookkeeping: each passage is keyed by a
sha256 of its content and metadata, so unchanged passages are never embedded
again, and ``cleanup="full"`` removes passages of edited or deleted files.
Passages written to Chroma by a run that was killed before it recorded them
are removed at the start of the next run, so the store always ends equal to
the records.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from dataclasses import dataclass, field

from filelock import FileLock
from langchain_core.indexing import index
from tqdm import tqdm

from rag.chunking import split_documents
from rag.documents import SkippedFile, load_corpus
from rag.settings import Settings
from rag.store import passage_ids_by_source

log = logging.getLogger(__name__)

WRITE_BATCH = 64


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

    def summary(self) -> str:
        line = (
            f"{self.added} added, {self.updated} updated, {self.deleted} deleted, {self.unchanged} unchanged "
            f"documents; {self.passages_written} passages written, {self.passages_deleted} removed "
            f"in {self.seconds:.1f} s"
        )
        if self.skipped:
            line += f"; {len(self.skipped)} skipped: " + ", ".join(f"{s.source} ({s.reason})" for s in self.skipped)
        return line


class Indexer:
    """Runs index passes over the corpus, one at a time across threads and processes."""

    def __init__(self, settings: Settings, store, record_manager):
        self.settings = settings
        self.store = store
        self.record_manager = record_manager
        self._thread_lock = threading.Lock()
        self._process_lock = FileLock(str(settings.data_dir / "index.lock"))

    def run(self, progress: bool | None = None) -> IndexReport:
        with self._thread_lock, self._process_lock:
            return self._run(sys.stderr.isatty() if progress is None else progress)

    def _run(self, progress: bool) -> IndexReport:
        started = time.perf_counter()
        documents, skipped = load_corpus(self.settings.corpus_dir, self.settings.max_file_mb)
        passages = split_documents(documents, self.settings.chunk_size, self.settings.chunk_min)
        self._reconcile_records()
        before = passage_ids_by_source(self.store)

        stream = tqdm(passages, desc="Indexing", unit="passage", disable=not progress, leave=False)
        result = index(
            stream,
            self.record_manager,
            self.store,
            cleanup="full",
            source_id_key="source",
            key_encoder="sha256",
            batch_size=WRITE_BATCH,
        )
        after = passage_ids_by_source(self.store)
        report = IndexReport(
            passages_written=result["num_added"] + result["num_updated"],
            passages_deleted=result["num_deleted"],
            skipped=skipped,
        )
        for source, ids in after.items():
            if source not in before:
                report.added += 1
            elif before[source] == ids:
                report.unchanged += 1
            else:
                report.updated += 1
        report.deleted = len(before.keys() - after.keys())
        report.seconds = time.perf_counter() - started
        log.info("Index: %s", report.summary())
        return report

    def _reconcile_records(self) -> None:
        """Make the records and the store agree before indexing.

        Passages a killed run wrote but never recorded are deleted; records of
        passages missing from the store (a store wiped by hand) are forgotten,
        so those passages are written again.
        """
        recorded = set(self.record_manager.list_keys())
        stored = set(self.store.get(include=[])["ids"])
        if orphans := sorted(stored - recorded):
            log.warning("Removing %d passages left by an interrupted index run", len(orphans))
            self.store.delete(ids=orphans)
        if missing := sorted(recorded - stored):
            log.warning("Re-indexing %d passages missing from the store", len(missing))
            self.record_manager.delete_keys(missing)

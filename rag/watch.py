"""Watch mode: re-index the corpus a moment after its documents change.

watchfiles reports the file-system events (inotify, FSEvents, ...). A burst
of changes, such as a folder copied in or an editor's save, is grouped into
one index run: the run starts once the folder has been quiet for
``QUIET_MS``, or ``MAX_WAIT_MS`` after the first change at the latest.
Changes made during a run are kept and start the next one. A run that fails
(a Chroma server out of reach, a folder that cannot be read) is logged and
tried again ``RETRY_MS`` after it failed, or at the next change before then:
a watcher serving beside the web UI must not stop for good at one failure.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from chromadb.errors import ChromaError
from sqlalchemy.exc import OperationalError
from watchfiles import Change, watch

from rag.documents import SUPPORTED_SUFFIXES, is_hidden
from rag.indexing import IndexReport
from rag.store import StoreBackendError

log = logging.getLogger(__name__)

QUIET_MS = 400
MAX_WAIT_MS = 3000
RETRY_MS = 30_000
TICK_MS = 1000  # how often a quiet folder is reported, so that a retry due is made


def watch_corpus(bot, on_report: Callable[[IndexReport], None] | None = None, stop_event=None) -> None:
    """Re-index ``bot``'s corpus whenever a document changes, until Ctrl-C or ``stop_event`` is set.

    Ctrl-C raises ``KeyboardInterrupt``; a run it cuts short is finished by the next one. A run that fails for
    want of its store or its files is logged (a reason given again, at INFO) and tried again; any other error
    is a fault of this program and stops watching.
    """
    corpus = bot.settings.corpus_dir.resolve()
    failure, failed_at = None, 0.0
    for changes in document_changes(corpus, stop_event):
        retry_due = failure is not None and time.monotonic() - failed_at >= RETRY_MS / 1000
        if not changes and not retry_due:
            continue
        if changes:
            log.info("%d changes in %s", len(changes), corpus)
        try:
            report = bot.index()
        except (StoreBackendError, ChromaError, OperationalError, OSError) as error:  # store, records, files
            level = logging.INFO if str(error) == failure else logging.ERROR
            log.log(level, "Indexing %s failed, trying again in %g s or at the next change: %s", corpus,
                    RETRY_MS / 1000, error)
            failure, failed_at = str(error), time.monotonic()
            continue
        failure = None
        if on_report:
            on_report(report)


def document_changes(corpus: Path, stop_event=None):
    """Sets of changes to documents: empty for a batch of other changes, or after a quiet ``TICK_MS``.

    watchfiles stops with an error at a file name that is not UTF-8: it is started again, and a change
    reported, so that an index run names the file (a change made during that run waits for the next one). Its
    other errors (no inotify watches left) stop watching."""
    is_document = DocumentFilter(corpus)
    while True:
        try:
            for changes in watch(corpus, watch_filter=None, debounce=MAX_WAIT_MS, step=QUIET_MS,
                                 stop_event=stop_event, rust_timeout=TICK_MS, yield_on_timeout=True):
                yield {(change, path) for change, path in changes if is_document(change, path)}
            return
        except RuntimeError as error:  # watchfiles' own error type is not public
            if "Unable to decode path" not in str(error):
                raise
            log.warning("Watching %s again after: %s", corpus, error)
            yield {(Change.modified, str(corpus))}


class DocumentFilter:
    """Keeps changes to documents and folders; ignores hidden files and unknown extensions."""

    def __init__(self, corpus: Path):
        self.corpus = corpus

    def __call__(self, change: Change, path: str) -> bool:
        changed = Path(path)
        if is_hidden(changed.relative_to(self.corpus)):
            return False
        # A deleted or moved-away path may have been a folder of documents.
        return changed.suffix.lower() in SUPPORTED_SUFFIXES or not changed.is_file()

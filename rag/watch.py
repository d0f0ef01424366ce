"""Watch mode: re-index the corpus a moment after its documents change.

watchfiles reports the file-system events (inotify, FSEvents, ...). A burst
of changes, such as a folder copied in or an editor's save, is grouped into
one index run: the run starts once the folder has been quiet for
``QUIET_MS``, or ``MAX_WAIT_MS`` after the first change at the latest.
Changes made during a run are kept and start the next one. A run that fails
(a Chroma server out of reach, a folder that cannot be read) is logged and
tried again ``RETRY_MS`` later, or at the next change: a watcher serving
beside the web UI must not stop for good at one failure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from watchfiles import Change, watch

from rag.documents import SUPPORTED_SUFFIXES, is_hidden
from rag.indexing import IndexReport

log = logging.getLogger(__name__)

QUIET_MS = 400
MAX_WAIT_MS = 3000
RETRY_MS = 30_000


def watch_corpus(bot, on_report: Callable[[IndexReport], None] | None = None, stop_event=None) -> None:
    """Re-index ``bot``'s corpus whenever a document changes, until Ctrl-C or ``stop_event`` is set.

    Ctrl-C raises ``KeyboardInterrupt``; a run it cuts short is finished by the next one.
    """
    corpus = bot.settings.corpus_dir.resolve()
    failed = False
    for changes in document_changes(corpus, stop_event):
        if not changes and not failed:  # a quiet RETRY_MS: nothing to do
            continue
        log.info("%d changes in %s", len(changes), corpus)
        try:
            report = bot.index()
        except Exception as error:  # noqa: BLE001 - logged, and the run tried again
            log.error("Indexing %s failed, trying again in %g s or at the next change: %s", corpus,
                      RETRY_MS / 1000, error)
            failed = True
            continue
        failed = False
        if on_report:
            on_report(report)


def document_changes(corpus: Path, stop_event=None):
    """watchfiles' sets of changes to documents, and an empty set after a quiet ``RETRY_MS``.

    watchfiles stops with an error at a file name that is not UTF-8: it is started again, and a change
    reported, so that an index run names the file (a change made during that run waits for the next one). Its
    other errors (no inotify watches left) stop watching."""
    while True:
        try:
            yield from watch(
                corpus, watch_filter=DocumentFilter(corpus), debounce=MAX_WAIT_MS, step=QUIET_MS, stop_event=stop_event,
                rust_timeout=RETRY_MS, yield_on_timeout=True,
            )
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

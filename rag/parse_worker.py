"""The process that reads PDF and DOCX files for ``rag.documents.ParserProcess``.

Started as ``python -P -m rag.parse_worker FD MAX_MEMORY_MB MAX_SECONDS``, not through multiprocessing's
spawn: spawn runs the parent's main script again in the child, so a user's script calling ``Chatbot.index()``
without an ``if __name__ == "__main__":`` guard would index again in there, and its PDFs would never be read.
"""

from __future__ import annotations

import logging
import math
import resource
import signal
import sys
from multiprocessing.connection import Connection

GRACE_S = 10  # past the parent's time limit, a worker left alone (its parent killed) ends itself


def main() -> None:
    """Answer each ``(data, suffix, max_chars)`` received with ``(kind, value)``: ``("text", (title, text))``,
    ``("unreadable", {language: reason})`` or ``("memory", None)``; stop when the parent closes the connection."""
    handle, max_memory_mb, max_seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops this process
    from rag.documents import extract_text, skip_reasons  # before the limit: importing takes memory

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # "EOF marker not found": the parent names the file

    limit_memory(max_memory_mb)
    with Connection(handle) as connection:
        connection.send(("ready", None))
        while True:
            try:
                data, suffix, max_chars = connection.recv()
            except EOFError:
                return
            signal.alarm(math.ceil(max_seconds) + GRACE_S)
            try:
                reply = ("text", extract_text(data, suffix, max_chars))
            except MemoryError:
                reply = ("memory", None)
            except Exception as error:  # noqa: BLE001 - a parser library's error names the broken file
                reply = ("unreadable", skip_reasons(error))
            signal.alarm(0)
            connection.send(reply)


def limit_memory(max_memory_mb: int) -> None:
    """At most ``max_memory_mb`` of address space, or the lower limit already set; where none can be set
    (some systems refuse RLIMIT_AS), the time limit alone applies."""
    limit = max_memory_mb * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ValueError, OSError):
        pass


if __name__ == "__main__":
    main()

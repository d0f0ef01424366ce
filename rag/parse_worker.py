"""The process that reads PDF and DOCX files for ``rag.documents.ParserProcess``.

Started as ``python -m rag.parse_worker FD MAX_MEMORY_MB``, not through multiprocessing's spawn: spawn runs
the parent's main script again in the child, so a user's script calling ``Chatbot.index()`` without an
``if __name__ == "__main__":`` guard would index again in there, and its PDFs would never be read.
"""

from __future__ import annotations

import resource
import sys
from multiprocessing.connection import Connection


def main() -> None:
    """Answer each ``(data, suffix, max_chars)`` received with ``(kind, value)``: ``("text", (title, text))``,
    ``("unreadable", reason)`` or ``("memory", None)``; stop when the parent closes the connection."""
    handle, max_memory_mb = int(sys.argv[1]), int(sys.argv[2])
    from rag.documents import UnreadableDocument, extract_text  # before the limit: importing takes memory

    limit = max_memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    with Connection(handle) as connection:
        connection.send(("ready", None))
        while True:
            try:
                data, suffix, max_chars = connection.recv()
            except EOFError:
                return
            try:
                reply = ("text", extract_text(data, suffix, max_chars))
            except UnreadableDocument as error:
                reply = ("unreadable", str(error))
            except MemoryError:
                reply = ("memory", None)
            except Exception as error:  # noqa: BLE001 - a parser library's error names the broken file
                reply = ("unreadable", f"{type(error).__name__}: {error}")
            connection.send(reply)


if __name__ == "__main__":
    main()

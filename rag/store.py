"""The Chroma vector store and the records of what was indexed.

Chroma runs embedded in the data folder by default, or as a server when
``chroma_host`` is set. Each embedding model gets its own collection, so
switching models never mixes vectors of different sizes.

Two kinds of records sit in one SQLite file beside the store: LangChain's
record manager keys every stored passage by a hash of its content, and
``FileRecords`` keeps a fingerprint of every indexed file, so that files
which did not change are not even read again.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import uuid
from collections.abc import Iterable
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from textwrap import shorten

from langchain_chroma import Chroma
from langchain_classic.indexes import SQLRecordManager
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from sqlalchemy import Column, MetaData, String, Table, bindparam, delete, select, text
from sqlalchemy.dialects.sqlite import insert

from rag.chunking import labelled
from rag.settings import Settings

log = logging.getLogger(__name__)


class StoreBackendError(RuntimeError):
    """The Chroma server could not be reached or failed a request; the message names it and its URL."""


def chroma_url(settings: Settings) -> str:
    return f"http://{settings.chroma_host}:{settings.chroma_port}"


@contextmanager
def reaching_store(settings: Settings):
    """Failures of a Chroma server raised as one ``StoreBackendError`` naming it.

    chromadb reports a server that is down as httpx's errors; an error the server answers as a ``ChromaError``
    (a collection deleted on the server, a refused request), or, for a reply that is not Chroma's (a proxy's
    error page), as an ``Exception`` holding its body, raised while handling httpx's ``HTTPStatusError``.
    Errors of the client's creation: ``open_vector_store``.
    """
    if not settings.chroma_host:  # the embedded store: no server to name
        yield
        return
    import httpx
    from chromadb.errors import ChromaError

    url = chroma_url(settings)
    try:
        yield
    except httpx.TimeoutException as error:  # no connection or no reply in time: a stuck server, a dropped route
        raise no_answer(settings) from error
    except httpx.TransportError as error:
        raise StoreBackendError(f"The Chroma server at {url} cannot be reached ({error}).") from error
    except ChromaError as error:
        raise StoreBackendError(f"The Chroma server at {url} refused the request: {error}") from error
    except Exception as error:
        if not isinstance(error.__context__, httpx.HTTPStatusError):  # raised while handling one: the server's reply
            raise
        status = error.__context__.response
        reply = f": {shorten(str(error), 200, placeholder=' …')}" if str(error).strip() else ""
        raise StoreBackendError(
            f"The Chroma server at {url} answered {status.status_code} {status.reason_phrase}{reply}"
        ) from error


def no_answer(settings: Settings) -> StoreBackendError:
    return StoreBackendError(
        f"The Chroma server at {chroma_url(settings)} did not answer within {settings.chroma_timeout_s:g} s "
        "(RAG_CHROMA_TIMEOUT_S)."
    )


class StoreInUseError(RuntimeError):
    """The embedded store is open in another process."""


def make_data_dir(settings: Settings) -> Path:
    """The data folder, made where missing; a clear error where a file stands in its place."""
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ValueError(f"The data folder {settings.data_dir} is a file: choose a folder with --data.") from None
    return settings.data_dir


def check_corpus_of_data_dir(settings: Settings, claim: bool = False) -> None:
    """A data folder indexes one corpus folder: indexing another into it would delete the first one's
    documents, and answering from it would answer from the wrong documents. An index run claims the folder
    for its corpus (recorded relative to the data folder, so that a project moved whole keeps its index);
    any other corpus is then refused."""
    path = make_data_dir(settings) / "corpus-folder"
    corpus = os.path.relpath(settings.corpus_dir.resolve(), settings.data_dir.resolve())
    if claim and not path.exists():
        written = path.with_name(f".corpus-folder-{uuid.uuid4().hex}")
        written.write_text(corpus, encoding="utf-8")
        try:
            os.link(written, path)  # whole, and only if no other process claimed it first
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links
            os.replace(written, path)
        finally:
            written.unlink(missing_ok=True)
    if path.exists() and (recorded := path.read_text(encoding="utf-8").strip()) != corpus:
        indexed = (settings.data_dir / recorded).resolve()
        moved = "" if indexed.is_dir() else f" If you moved or renamed it, delete {path} to keep the index."
        raise ValueError(
            f"The data folder {settings.data_dir} holds the index of {indexed}, not of {settings.corpus_dir}: give "
            f"this corpus its own data folder (--data), or delete {settings.data_dir} to index it there.{moved}"
        )


def corpus_id(settings: Settings) -> str:
    """A random id for the corpus of this data folder, made once and kept there.

    Corpora (data folders) sharing one Chroma server get collections of their
    own, so that an index run never touches another corpus's passages.
    """
    path = make_data_dir(settings) / "corpus-id"
    try:
        with path.open("x") as file:  # fails if another process made it first
            file.write(uuid.uuid4().hex[:12])
    except FileExistsError:
        pass
    return path.read_text().strip()


def collection_name(settings: Settings) -> str:
    """Collection for this embedding model, and on a server for this corpus (3-63 chars of [a-zA-Z0-9._-])."""
    model = re.sub(r"[^a-zA-Z0-9._-]+", "-", settings.embedding_model.rsplit("/", 1)[-1]).strip("-._")
    name = f"{settings.collection}-{model}"
    return f"{name[:50]}-{corpus_id(settings)}" if settings.chroma_host else name[:63]


_CLAIMED_STORES: dict[str, object] = {}  # embedded stores this process holds, by folder


def claim_embedded_store(settings: Settings) -> None:
    """Hold the embedded store's folder for this process: Chroma's files are not safe for two processes."""
    from filelock import FileLock, Timeout

    folder = str(settings.chroma_dir.resolve())
    if folder in _CLAIMED_STORES:
        return
    lock = FileLock(folder + ".lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise StoreInUseError(
            f"The store in {settings.data_dir} is open in another process. To index while serving, run "
            "`rag serve --watch`; to share a store between processes, use a Chroma server (RAG_CHROMA_HOST)."
        ) from None
    _CLAIMED_STORES[folder] = lock


def open_vector_store(settings: Settings, embeddings: Embeddings) -> Chroma:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_host:
        client = bounded_http_client(settings, chroma_settings)
    else:
        make_data_dir(settings)
        claim_embedded_store(settings)
        client = chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)
    return TitledChroma(
        client=client,
        collection_name=collection_name(settings),
        embedding_function=embeddings,
        collection_metadata={"hnsw:space": "cosine"},
    )


def bounded_http_client(settings: Settings, chroma_settings):
    """A client of the Chroma server that waits ``chroma_timeout_s`` at most for each reply.

    chromadb's waits for ever (its httpx session has no timeout, and no setting changes that), so a server that
    takes a connection and never answers would hang an answer or an index run without a word. Making the client
    sends requests too (identity, tenant, database): it is made in a thread waited for that long, then its
    session gets the timeout.
    """
    import chromadb
    import httpx

    made: Future = Future()

    def make() -> None:
        try:
            made.set_result(chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port,
                                                settings=chroma_settings))
        except BaseException as error:  # raised again by the caller
            made.set_exception(error)

    # A daemon thread, not an executor's: one left waiting on a silent server must not hold the process at exit.
    threading.Thread(target=make, name="chroma-client", daemon=True).start()
    with reaching_store(settings):
        try:
            client = made.result(timeout=settings.chroma_timeout_s)
        except TimeoutError:
            raise no_answer(settings) from None
        except ValueError as error:  # chromadb's words for a server down, or the reply of one that is not Chroma
            url, reason = chroma_url(settings), shorten(str(error), 200, placeholder=" …")
            raise StoreBackendError(f"The Chroma server at {url} cannot be reached ({reason}).") from error
    client._server._session.timeout = httpx.Timeout(settings.chroma_timeout_s)
    return client


class TitledChroma(Chroma):
    """Chroma whose passages are embedded under their document's title line and stored without it.

    langchain_chroma embeds exactly the text it stores; the title must help the
    search (a passage alone may never name what it is about) without becoming
    part of the passage, where it could be quoted as a statement.
    """

    @property
    def collection_id(self) -> str:
        """The id the store gave the collection when it made it: another for another store, or once remade."""
        return str(self._collection.id)

    def add_texts(self, texts: Iterable[str], metadatas: list[dict] | None = None, ids: list[str] | None = None,
                  **kwargs) -> list[str]:
        texts = list(texts)
        metadatas = list(metadatas or []) + [{}] * (len(texts) - len(metadatas or []))
        ids = [passage_id or str(uuid.uuid4()) for passage_id in (ids or [None] * len(texts))]
        titled = [labelled((metadata or {}).get("title", ""), text) for text, metadata in zip(texts, metadatas)]
        self._collection.upsert(
            ids=ids,
            embeddings=self.embeddings.embed_documents(titled),
            metadatas=[metadata or None for metadata in metadatas],
            documents=texts,
        )
        return ids


def open_record_manager(settings: Settings, store: TitledChroma) -> SQLRecordManager:
    """Records of indexed passages (content hashes), kept beside the store they describe.

    On a server they are those of the collection, by its id: the same whatever address reaches the server (a
    container recreated, a host name resolving elsewhere), where records kept under its resolved address were
    lost with it, and every passage deleted and embedded again; another server's collection has its own.
    """
    make_data_dir(settings)
    manager = SQLRecordManager(
        namespace=f"chroma/{store.collection_id if settings.chroma_host else 'local'}/{collection_name(settings)}",
        db_url=f"sqlite:///{settings.record_db}",
    )
    manager.create_schema()
    if settings.chroma_host:
        adopt_records(manager, f"chroma/{server_address(settings)}/{collection_name(settings)}")
    return manager


def server_address(settings: Settings) -> str:
    """The Chroma server as host:port, the host resolved: where records of a server were kept before."""
    import socket

    try:
        host = socket.gethostbyname(settings.chroma_host)
    except OSError:
        host = settings.chroma_host.lower()
    return f"{host}:{settings.chroma_port}"


def adopt_records(manager: SQLRecordManager, earlier: str) -> None:
    """The records kept under the namespace ``earlier`` become ``manager``'s, unless it has some already."""
    _FILES.metadata.create_all(manager.engine)
    tables = ("upsertion_record", "indexed_file")
    names = {"new": manager.namespace, "old": earlier}
    with manager.engine.begin() as connection:
        if any(connection.execute(text(f"SELECT 1 FROM {table} WHERE namespace = :new LIMIT 1"), names).first()
               for table in tables):
            return
        update = "UPDATE {} SET namespace = :new WHERE namespace = :old"
        moved = [connection.execute(text(update.format(table)), names).rowcount for table in tables]
    if any(moved):
        log.info("Index records kept under %s are now those of %s", earlier, manager.namespace)


def record_generation(record_manager: SQLRecordManager) -> tuple:
    """A value that changes whenever any process sharing these records stores or removes passages."""
    query = text("SELECT count(*), max(updated_at) FROM upsertion_record WHERE namespace = :namespace")
    with record_manager.engine.connect() as connection:
        return tuple(connection.execute(query, {"namespace": record_manager.namespace}).one())


def indexed_times(record_manager: SQLRecordManager) -> dict[str, float]:
    """When each document's passages were last written, in seconds since the epoch, by source: an index run
    rewrites the records of the documents it reads again (new or changed files) and of no other."""
    query = text(
        "SELECT group_id, max(updated_at) FROM upsertion_record WHERE namespace = :namespace GROUP BY group_id"
    )
    with record_manager.engine.connect() as connection:
        return dict(connection.execute(query, {"namespace": record_manager.namespace}).all())


_FILES = Table(
    "indexed_file",
    MetaData(),
    Column("namespace", String, primary_key=True),
    Column("source", String, primary_key=True),
    Column("fingerprint", String, nullable=False),
)


class FileRecords:
    """The fingerprint of each file whose passages are in the store, by source path.

    Lives in the record manager's database, under its namespace.
    """

    PENDING = ""  # matches no file: set while a file's passages change, so a killed run leaves it to the next

    def __init__(self, record_manager: SQLRecordManager):
        self._engine = record_manager.engine
        self._namespace = record_manager.namespace
        _FILES.metadata.create_all(self._engine)

    def fingerprints(self) -> dict[str, str]:
        query = select(_FILES.c.source, _FILES.c.fingerprint).where(_FILES.c.namespace == self._namespace)
        with self._engine.connect() as connection:
            return dict(connection.execute(query).all())

    def record(self, fingerprints: dict[str, str]) -> None:
        if rows := [{"namespace": self._namespace, "source": s, "fingerprint": f} for s, f in fingerprints.items()]:
            statement = insert(_FILES)
            statement = statement.on_conflict_do_update(
                index_elements=[_FILES.c.namespace, _FILES.c.source],
                set_={"fingerprint": statement.excluded.fingerprint},
            )
            with self._engine.begin() as connection:
                connection.execute(statement, rows)

    def mark_pending(self, sources: Iterable[str]) -> None:
        self.record(dict.fromkeys(sources, self.PENDING))

    def forget(self, sources: Iterable[str]) -> None:
        if rows := [{"name": source} for source in sources]:
            statement = delete(_FILES).where(
                _FILES.c.namespace == self._namespace, _FILES.c.source == bindparam("name")
            )
            with self._engine.begin() as connection:
                connection.execute(statement, rows)


READ_PAGE = 5000  # Chroma turns one get() into an SQL query with a variable per row: read in pages


def get_all(store: Chroma, include: list[str]) -> dict[str, list]:
    """Ids (and ``include``d fields) of every stored passage, read page by page."""
    merged: dict[str, list] = {"ids": [], **{field: [] for field in include}}
    while True:
        page = store.get(include=include, limit=READ_PAGE, offset=len(merged["ids"]))
        for field in merged:
            merged[field].extend(page[field])
        if len(page["ids"]) < READ_PAGE:
            return merged


def all_passages(store: Chroma) -> list[Document]:
    """Every stored passage, with its id and metadata."""
    stored = get_all(store, ["documents", "metadatas"])
    return [
        Document(id=passage_id, page_content=text, metadata=metadata or {})
        for passage_id, text, metadata in zip(stored["ids"], stored["documents"], stored["metadatas"])
    ]

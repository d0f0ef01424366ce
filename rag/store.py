"""The Chroma vector store and the records of what was indexed.

Chroma runs embedded in the data folder by default, or as a server when
``chroma_host`` is set. Each embedding model gets its own collection, so
switching models never mixes vectors of different sizes.
"""

from __future__ import annotations

import re
from collections import defaultdict

from langchain_chroma import Chroma
from langchain_classic.indexes import SQLRecordManager
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from rag.settings import Settings


def collection_name(settings: Settings) -> str:
    """Collection for this embedding model (Chroma names: 3-63 chars of [a-zA-Z0-9._-])."""
    model = re.sub(r"[^a-zA-Z0-9._-]+", "-", settings.embedding_model.rsplit("/", 1)[-1]).strip("-._")
    return f"{settings.collection}-{model}"[:63]


def open_vector_store(settings: Settings, embeddings: Embeddings) -> Chroma:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_host:
        client = chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings)
    else:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)
    return Chroma(
        client=client,
        collection_name=collection_name(settings),
        embedding_function=embeddings,
        collection_metadata={"hnsw:space": "cosine"},
    )


def open_record_manager(settings: Settings) -> SQLRecordManager:
    """Records of indexed passages (content hashes), kept beside the store they describe."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    where = f"{settings.chroma_host}:{settings.chroma_port}" if settings.chroma_host else "local"
    manager = SQLRecordManager(
        namespace=f"chroma/{where}/{collection_name(settings)}",
        db_url=f"sqlite:///{settings.record_db}",
    )
    manager.create_schema()
    return manager


def passage_ids_by_source(store: Chroma) -> dict[str, set[str]]:
    """Ids of the stored passages, grouped by the document they come from."""
    stored = store.get(include=["metadatas"])
    by_source: dict[str, set[str]] = defaultdict(set)
    for passage_id, metadata in zip(stored["ids"], stored["metadatas"]):
        by_source[(metadata or {}).get("source", "")].add(passage_id)
    return dict(by_source)


def all_passages(store: Chroma) -> list[Document]:
    """Every stored passage, with its id and metadata."""
    stored = store.get(include=["documents", "metadatas"])
    return [
        Document(id=passage_id, page_content=text, metadata=metadata or {})
        for passage_id, text, metadata in zip(stored["ids"], stored["documents"], stored["metadatas"])
    ]

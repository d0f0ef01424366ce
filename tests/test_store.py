"""Reading the whole store works past Chroma's per-query variable limit, page by page; index records follow a
server's collection, not its address; a collection the server lost is opened again, once."""

from types import SimpleNamespace

import chromadb
import pytest
from chromadb.errors import NotFoundError
from langchain_chroma import Chroma
from langchain_classic.indexes import SQLRecordManager
from langchain_core.embeddings import Embeddings

from rag import Chatbot, store
from rag.settings import Settings


class ConstantEmbeddings(Embeddings):
    def embed_documents(self, texts):
        return [[1.0, 0.0]] * len(texts)

    def embed_query(self, text):
        return [1.0, 0.0]


def test_every_passage_is_read_once_across_pages(tmp_path, monkeypatch):
    monkeypatch.setattr(store, "READ_PAGE", 7)
    vector_store = Chroma(
        client=chromadb.PersistentClient(path=str(tmp_path)), collection_name="paging", embedding_function=ConstantEmbeddings()
    )
    vector_store.add_texts([f"passage {n}" for n in range(20)], metadatas=[{"source": f"{n}.txt"} for n in range(20)], ids=[str(n) for n in range(20)])
    passages = store.all_passages(vector_store)
    assert sorted(p.id for p in passages) == sorted(str(n) for n in range(20))
    assert {p.page_content for p in passages} == {f"passage {n}" for n in range(20)}
    assert len(store.get_all(vector_store, [])["ids"]) == 20


def test_records_follow_the_servers_collection_not_its_address(tmp_path):
    """Records kept under the server's resolved address are the collection's once it is opened; they stay its
    records whatever address reaches the server, and another server's collection has its own."""
    settings = Settings(data_dir=tmp_path, chroma_host="chroma", chroma_port=8000)
    collection = store.collection_name(settings)
    for address, keys in [("chroma:8000", ["a", "b"]), ("10.0.0.7:8000", ["elsewhere"])]:
        earlier = SQLRecordManager(namespace=f"chroma/{address}/{collection}", db_url=f"sqlite:///{settings.record_db}")
        earlier.create_schema()
        earlier.update(keys, group_ids=["accord.txt"] * len(keys))
        store.FileRecords(earlier).record({"accord.txt": f"fingerprint at {address}"})
    server = SimpleNamespace(collection_id="1f0e")  # a store stands for its collection's id here

    for host in ["chroma", "127.0.0.1"]:  # the address of the records, then another
        records = store.open_record_manager(Settings(data_dir=tmp_path, chroma_host=host, chroma_port=8000), server)
        assert sorted(records.list_keys()) == ["a", "b"]
        assert store.FileRecords(records).fingerprints() == {"accord.txt": "fingerprint at chroma:8000"}

    another_server = store.open_record_manager(settings, SimpleNamespace(collection_id="9c2d"))
    assert another_server.list_keys() == [] and store.FileRecords(another_server).fingerprints() == {}


def test_only_the_loss_of_the_bots_own_collection_has_it_opened_again(tmp_path):
    bot = Chatbot(corpus_dir=tmp_path, data_dir=tmp_path / "data", chroma_host="127.0.0.1")
    lost = SimpleNamespace(collection_id="3f1c0de2")

    def fail(error):
        with pytest.raises(store.StoreBackendError), bot._reaching_store():
            raise error

    for other in [NotFoundError("Tenant default_tenant not found"), NotFoundError("Collection [77aa] does not exist.")]:
        bot.__dict__.update(store=lost, retriever="its retriever")
        fail(other)  # not this bot's collection: nothing forgotten
        assert bot.__dict__["store"] is lost and bot.__dict__["retriever"] == "its retriever"

    bot._index_checked = True
    fail(NotFoundError("Collection [3f1c0de2] does not exist."))
    assert "store" not in bot.__dict__ and "retriever" not in bot.__dict__ and not bot._index_checked

    reopened = SimpleNamespace(collection_id="9b2e4471")
    with pytest.raises(store.StoreBackendError), bot._reaching_store():
        bot.__dict__["store"] = reopened  # another request opened the collection again meanwhile
        raise NotFoundError("Collection [3f1c0de2] does not exist.")  # a late failure of the old one
    assert bot.__dict__["store"] is reopened

"""Reading the whole store works past Chroma's per-query variable limit, page by page; index records follow a
server's collection, not its address."""

import chromadb
from langchain_chroma import Chroma
from langchain_classic.indexes import SQLRecordManager
from langchain_core.embeddings import Embeddings

from rag import store
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


def test_records_kept_under_a_servers_former_address_stay_the_collections(tmp_path):
    """Index records once kept under the server's resolved address: a server now reached at another address (or
    named another way) must find them, or its next index run deletes every passage and embeds them again."""
    settings = Settings(data_dir=tmp_path, chroma_host="chroma", chroma_port=8000)
    collection = store.collection_name(settings)
    for address, keys in [("10.0.0.7:8000", ["old"]), ("10.0.0.5:8000", ["a", "b"])]:  # the last written wins
        earlier = SQLRecordManager(namespace=f"chroma/{address}/{collection}", db_url=f"sqlite:///{settings.record_db}")
        earlier.create_schema()
        earlier.update(keys, group_ids=["accord.txt"] * len(keys))
        store.FileRecords(earlier).record({"accord.txt": f"fingerprint at {address}"})

    for host in ["chroma", "127.0.0.1"]:
        records = store.open_record_manager(Settings(data_dir=tmp_path, chroma_host=host, chroma_port=8000))
        assert sorted(records.list_keys()) == ["a", "b"]
        assert store.FileRecords(records).fingerprints() == {"accord.txt": "fingerprint at 10.0.0.5:8000"}

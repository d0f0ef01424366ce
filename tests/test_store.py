"""Reading the whole store works past Chroma's per-query variable limit, page by page."""

import chromadb
from langchain_chroma import Chroma
from langchain_core.embeddings import Embeddings

from rag import store


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

"""Finding the passages that answer a question: dense search fused with BM25.

Dense search (the multilingual embeddings in Chroma) works across languages.
BM25 is sharp on names and rare words but only within one language, so its
ranking counts only for passages written in the question's language; the two
rankings are fused by reciprocal rank. Names (Passerelle, Big Booster) are the
same in every language: when the question names something no passage found
mentions, the passage of any language that best matches those names takes the
last place.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass

import numpy as np
from langchain_chroma import Chroma
from langchain_core.documents import Document

from rag.chunking import labelled
from rag.grounding import normalise
from rag.instructions import without_instructions
from rag.language import NAME_INSIDE_SENTENCE
from rag.store import all_passages

# Reciprocal rank fusion's constant: 60 suits fusing lists of a thousand; over 12 candidates it leaves BM25's
# first passage barely above dense search's tenth. With 8, a passage one ranking puts first stays in
# (bench/bench_retrieval_hits.py: answers found in the passages, tuning sets, 60 -> 8: 51/60 -> 53/60).
RRF_K = 8
STOPWORDS = set(
    """a au aux avec ce ces cet cette dans de des du elle en et est il ils je la le les leur lui ma mais me meme
    mes moi mon ne nos notre nous on ou par pas pour qu que qui sa se ses son sont sur ta te tes toi ton tu un une
    vos votre vous y l d s n c j m t qu quel quelle quels quelles quoi combien comment pourquoi ete etre a-t-il
    the of and to in is are was were be been for on with as by at an or it its this that which who whom what
    when where why how do does did from has have had not but their they them he she his her our we you your""".split()
)


@dataclass
class Source:
    """A passage an answer is drawn from."""

    document: str  # path relative to the corpus folder
    text: str
    score: float  # cosine similarity between question and passage, -1..1
    title: str = ""
    language: str = ""
    id: str = ""

    @property
    def labelled(self) -> str:
        """The passage under its document's title line, as the chat model reads it."""
        return labelled(self.title, self.text)

    @classmethod
    def from_document(cls, document: Document, score: float) -> "Source":
        """The stored passage as the chat model reads it: orders written for AI readers left out."""
        metadata = document.metadata
        return cls(
            document=metadata.get("source", ""),
            text=without_instructions(document.page_content),
            score=round(float(score), 4),
            title=metadata.get("title", ""),
            language=metadata.get("language", ""),
            id=document.id or "",
        )


def readable(document: Document) -> bool:
    """Whether anything of the passage is left once orders to AI readers are taken out (else it is no source)."""
    return bool(without_instructions(document.page_content))


def as_read(document: Document) -> str:
    """A stored passage as the chat model reads it: under its title, orders to AI readers left out."""
    return labelled(document.metadata.get("title", ""), without_instructions(document.page_content))


def tokenize(text: str) -> list[str]:
    return [word for word in re.findall(r"\w+", normalise(text)) if len(word) > 1 and word not in STOPWORDS]


class LexicalIndex:
    """BM25 over the stored passages, one index per language; rebuilt after each index run."""

    def __init__(self, passages: list[Document]):
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets DEBUG on import: a line per index
        self.by_document: dict[str, list[Document]] = {}  # each document's stored passages, by path
        for passage in passages:
            self.by_document.setdefault(passage.metadata.get("source", ""), []).append(passage)
        self._by_language: dict[str, tuple[list[Document], object]] = {}
        for language in {p.metadata.get("language", "") for p in passages}:
            members = [p for p in passages if p.metadata.get("language", "") == language]
            engine = bm25s.BM25()
            texts = [labelled(p.metadata.get("title", ""), p.page_content) for p in members]
            engine.index([tokenize(text) or ["∅"] for text in texts], show_progress=False)
            self._by_language[language] = (members, engine)

    def search(self, query: str, language: str, k: int) -> list[Document]:
        return [document for document, _ in self._scored(tokenize(query), language, k)]

    def search_everywhere(self, tokens: list[str], k: int) -> list[Document]:
        """Passages of every language holding ``tokens``, best first."""
        scored = [match for language in self._by_language for match in self._scored(tokens, language, k)]
        return [document for document, _ in sorted(scored, key=lambda match: match[1], reverse=True)[:k]]

    def _scored(self, tokens: list[str], language: str, k: int) -> list[tuple[Document, float]]:
        members, engine = self._by_language.get(language, ([], None))
        if engine is None or not tokens:
            return []
        indices, scores = engine.retrieve([tokens], k=min(k, len(members)), show_progress=False)
        return [(members[i], float(score)) for i, score in zip(indices[0], scores[0]) if score > 0]


class HybridRetriever:
    """Dense + same-language BM25, fused by reciprocal rank."""

    def __init__(self, store: Chroma, candidates: int):
        self.store = store
        self.candidates = candidates
        self._lexical: LexicalIndex | None = None
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Rebuild the lexical index from the store (after the store changed)."""
        lexical = LexicalIndex(all_passages(self.store))
        with self._lock:
            self._lexical = lexical

    @property
    def lexical(self) -> LexicalIndex:
        if self._lexical is None:
            self.refresh()
        return self._lexical

    def document_text(self, document: str) -> str:
        """Every stored passage of ``document`` (a path relative to the corpus folder); "" if none is known."""
        return "\n".join(as_read(passage) for passage in self.lexical.by_document.get(document, []))

    def _passage_naming_the_unfound(self, query: str, found: list[Document]) -> Document | None:
        """The passage (of any language) best matching the names of ``query`` that no ``found`` passage holds."""
        texts = [as_read(doc) for doc in found]
        names = {token for name in NAME_INSIDE_SENTENCE.findall(query) for token in tokenize(name)}
        if not found or not (unfound := sorted(names - set(tokenize("\n".join(texts))))):
            return None
        return next(filter(readable, self.lexical.search_everywhere(unfound, 3)), None)

    def retrieve(self, query: str, language: str, k: int) -> list[Source]:
        query_vector = self.store.embeddings.embed_query(query)
        dense = self.store.similarity_search_by_vector_with_relevance_scores(query_vector, k=self.candidates)
        similarity = {doc.id: 1.0 - distance for doc, distance in dense}
        fused: dict[str, float] = {}
        documents: dict[str, Document] = {}
        # BM25 ranks only passages in the question's language; the others count
        # their dense rank twice, so that every passage has two votes.
        for rank, (doc, _) in enumerate(item for item in dense if readable(item[0])):
            votes = 1 if doc.metadata.get("language", "") == language else 2
            fused[doc.id] = fused.get(doc.id, 0.0) + votes / (RRF_K + rank)
            documents[doc.id] = doc
        for rank, doc in enumerate(filter(readable, self.lexical.search(query, language, self.candidates))):
            fused[doc.id] = fused.get(doc.id, 0.0) + 1.0 / (RRF_K + rank)
            documents[doc.id] = doc
        ranked = sorted(fused, key=fused.get, reverse=True)
        if named := self._passage_naming_the_unfound(query, [documents[doc_id] for doc_id in ranked[:k]]):
            ranked.insert(k - 1, named.id)
            documents[named.id] = named
        if lexical_only := [doc_id for doc_id in ranked[:k] if doc_id not in similarity]:
            # The word index may be a moment behind another process's deletions: cite only what is stored.
            stored = set(self.store.get(ids=lexical_only, include=[])["ids"])
            ranked = [doc_id for doc_id in ranked if doc_id in similarity or doc_id in stored]
        best = list(dict.fromkeys(ranked))[:k]
        missing = [doc_id for doc_id in best if doc_id not in similarity]
        if missing:
            vectors = self.store.embeddings.embed_documents([documents[i].page_content for i in missing])
            for doc_id, vector in zip(missing, vectors):
                similarity[doc_id] = float(np.dot(vector, query_vector))
        return [Source.from_document(documents[doc_id], similarity[doc_id]) for doc_id in best]

"""Retrieval latency by store size: query embedding + Chroma search + BM25 fusion.

First times the embedding model on a small sample of synthetic passages, to
show what embedding every passage of a large store would take. The stores of
each size are then filled with the synthetic passages and *random unit
vectors* inserted straight into a Chroma collection (no embedding), and
``rag.retrieval.HybridRetriever`` is timed end to end with the real
embedding model for the questions. Random vectors have no neighbourhood
structure, which makes HNSW search no easier than on real embeddings.

    .venv/bin/python bench/bench_retrieval.py --sizes 1000 10000 100000
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid

import numpy as np
from common import DEV_QUESTIONS, load_average, markdown_table, p50_p95, synthetic_passages

from rag.embeddings import make_embeddings  # noqa: E402
from rag.evaluation import load_questions  # noqa: E402
from rag.retrieval import HybridRetriever, LexicalIndex  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.store import all_passages, open_vector_store  # noqa: E402

BATCH = 5000


def fill(store, passages: list[tuple[str, str]], dimensions: int, seed: int = 5) -> None:
    """Add passages with random unit vectors, straight into the store's collection."""
    rng = np.random.default_rng(seed)
    for start in range(0, len(passages), BATCH):
        batch = passages[start : start + BATCH]
        vectors = rng.standard_normal((len(batch), dimensions), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        store._collection.add(
            ids=[str(uuid.uuid4()) for _ in batch],
            embeddings=vectors,
            documents=[text for _, text in batch],
            metadatas=[{"source": f"synthetic/{start + i}.txt", "language": language, "chunk": 0}
                       for i, (language, _) in enumerate(batch)],
        )


def timings(function, arguments: list, repeat: int) -> list[float]:
    values = []
    for _ in range(repeat):
        for argument in arguments:
            started = time.perf_counter()
            function(*argument)
            values.append(time.perf_counter() - started)
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000], help="passages in the store")
    parser.add_argument("--sample", type=int, default=200, help="passages embedded to time the embedding model")
    parser.add_argument("--repeat", type=int, default=3, help="rounds over the questions per size")
    args = parser.parse_args()

    settings = Settings()
    embeddings = make_embeddings(settings)
    questions = [(question.q, question.lang) for question in load_questions(DEV_QUESTIONS)]
    started = time.perf_counter()
    dimensions = len(embeddings.embed_documents([text for _, text in synthetic_passages(args.sample)])[0])
    per_second = args.sample / (time.perf_counter() - started)
    print(f"embedding: {per_second:.0f} passages/s, so {max(args.sizes) / per_second / 60:.0f} min "
          f"for {max(args.sizes)} passages (load average {load_average()})")

    print(markdown_table(["passages", "stage", "p50 (ms)", "p95 (ms)", "runs", "load average"], []), flush=True)
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as data:
            store = open_vector_store(Settings(data_dir=data), embeddings)
            started = time.perf_counter()
            fill(store, synthetic_passages(size), dimensions)
            filled = time.perf_counter() - started
            retriever = HybridRetriever(store, settings.candidates)
            started = time.perf_counter()
            retriever.refresh()
            refreshed = time.perf_counter() - started
            retriever.retrieve(*questions[0], settings.top_k)  # warm-up
            vectors = [(embeddings.embed_query(q), settings.candidates) for q, _ in questions]
            lexical = LexicalIndex(all_passages(store))
            stages = {
                "retrieve (end to end)": timings(retriever.retrieve, [(q, lang, settings.top_k) for q, lang in questions], args.repeat),
                "query embedding": timings(embeddings.embed_query, [(q,) for q, _ in questions], args.repeat),
                "Chroma search": timings(store.similarity_search_by_vector_with_relevance_scores, vectors, args.repeat),
                "BM25 search": timings(lexical.search, [(q, lang, settings.candidates) for q, lang in questions], args.repeat),
            }
            for stage, values in stages.items():
                p50, p95 = p50_p95(values)
                print(f"| {size:,} | {stage} | {p50 * 1000:.1f} | {p95 * 1000:.1f} | {len(values)} | {load_average()} |")
            print(f"({size:,} passages inserted in {filled:.1f} s, BM25 index built in {refreshed:.1f} s)", flush=True)


if __name__ == "__main__":
    main()

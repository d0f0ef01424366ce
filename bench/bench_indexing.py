"""Indexing benchmark: no-op re-index time and throughput against raw embedding.

Generates a corpus of press-like documents (French and English, .txt, .md and
.html in sub-folders), then measures in one run:

- indexing throughput: ``Chatbot.index()`` of the whole corpus, from scratch;
- raw embedding throughput: the embedding model alone on the same passages,
  timed before and after indexing; and, steadier on a busy machine, the share
  of the indexing run's time spent embedding;
- a no-op re-index of the unchanged corpus (best and median of a few runs),
  both ``Chatbot.index()`` and the indexer alone, then the ``rag index``
  command once, process start-up included.

    .venv/bin/python bench/bench_indexing.py --docs 1000
    .venv/bin/python bench/bench_indexing.py --docs 1000 --profile noop.html

Timings on a shared machine vary; the ratios are the figures to compare.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from langchain_core.embeddings import Embeddings  # noqa: E402

from rag import Chatbot  # noqa: E402
from rag.chunking import split_documents  # noqa: E402
from rag.documents import load_file  # noqa: E402
from rag.indexing import WRITE_BATCH  # noqa: E402

CITIES = ["Lyon", "Boston", "Marseille", "Montréal", "Genève", "Bordeaux", "Lille", "Toulouse", "Nantes", "Québec"]
TOPICS_FR = ["le climat", "l'innovation", "la mobilité", "le logement", "la santé", "le tourisme", "l'éducation"]
TOPICS_EN = ["climate", "innovation", "transport", "housing", "health care", "tourism", "education"]
SENTENCES_FR = [
    "La métropole de {city} a annoncé un budget de {n} millions d'euros consacré à {topic}.",
    "Selon la mairie, {n} entreprises participent déjà au programme lancé en {year}.",
    "Les élus de {city} ont voté à l'unanimité une délibération sur {topic}.",
    "Ce partenariat doit permettre de créer {n} emplois d'ici {year}, d'après la préfecture.",
    "Une consultation publique sur {topic} s'ouvrira le {day} mars à {city}.",
    "Le conseil régional finance {n} % du projet, le reste étant apporté par des investisseurs privés.",
]
SENTENCES_EN = [
    "The city of {city} announced a budget of {n} million dollars for {topic}.",
    "According to the mayor's office, {n} companies have joined the programme launched in {year}.",
    "Councillors in {city} unanimously approved a plan on {topic}.",
    "The partnership is expected to create {n} jobs by {year}, officials said.",
    "A public consultation on {topic} opens on March {day} in {city}.",
    "The regional council funds {n} percent of the project, with private investors covering the rest.",
]


def make_corpus(folder: Path, numbers: range, seed: int = 7) -> list[Path]:
    """Write press-like articles of two to five paragraphs into ``folder``; returns their paths."""
    paths = []
    for number in numbers:
        rng = random.Random(f"{seed}-{number}")
        french = rng.random() < 0.6
        sentences, topics = (SENTENCES_FR, TOPICS_FR) if french else (SENTENCES_EN, TOPICS_EN)
        city, topic = rng.choice(CITIES), rng.choice(topics)
        title = f"{city} : {topic} ({number})" if french else f"{city}: {topic} ({number})"
        paragraphs = [
            " ".join(
                rng.choice(sentences).format(
                    city=city, topic=topic, n=rng.randint(2, 900), year=rng.randint(2015, 2030), day=rng.randint(1, 28)
                )
                for _ in range(rng.randint(3, 6))
            )
            for _ in range(rng.randint(2, 5))
        ]
        kind = rng.choice(["txt", "txt", "md", "html"])
        if kind == "html":
            body = "".join(f"<p>{p}</p>" for p in paragraphs)
            text = (
                f"<html><head><title>{title}</title></head><body><nav>Accueil | Presse</nav>"
                f"<article><h1>{title}</h1>{body}</article><footer>© Presse</footer></body></html>"
            )
        elif kind == "md":
            text = f"# {title}\n\n" + "\n\n".join(paragraphs) + "\n"
        else:
            text = f"{title}\n\n" + "\n\n".join(paragraphs) + "\n"
        path = folder / str(2015 + number % 10) / f"article-{number:04d}.{kind}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def passage_texts(bot: Chatbot, paths: list[Path]) -> list[str]:
    """The passages the indexer embeds for these files, read the way it reads them."""
    settings = bot.settings
    documents = [load_file(path, path.relative_to(settings.corpus_dir).as_posix()) for path in paths]
    return [p.page_content for p in split_documents(documents, settings.chunk_size, settings.chunk_min)]


class TimedEmbeddings(Embeddings):
    """The real embedding model, adding up the time spent embedding passages."""

    def __init__(self, model: Embeddings):
        self.model = model
        self.seconds = 0.0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        started = time.perf_counter()
        try:
            return self.model.embed_documents(texts)
        finally:
            self.seconds += time.perf_counter() - started

    def embed_query(self, text: str) -> list[float]:
        return self.model.embed_query(text)


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=1000, help="documents in the generated corpus")
    parser.add_argument("--model", default="use-multilingual", help="embedding model (the embedding_model setting)")
    parser.add_argument("--repeat", type=int, default=5, help="no-op re-index runs")
    parser.add_argument("--profile", type=Path, help="write a pyinstrument HTML profile of one no-op re-index here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as work:
        corpus, data = Path(work) / "corpus", Path(work) / "data"
        bot = Chatbot(corpus_dir=corpus, data_dir=data, embedding_model=args.model)
        bot.embeddings = embeddings = TimedEmbeddings(bot.embeddings)
        texts = passage_texts(bot, make_corpus(corpus, range(args.docs)))
        characters = sum(map(len, texts)) / len(texts)
        print(f"corpus: {args.docs} documents, {len(texts)} passages of {characters:.0f} characters")
        embeddings.embed_documents(texts[:64])  # load the model outside the timings

        def embed_raw():
            """The model alone, called with the indexer's batches (one call for all is slower)."""
            for start in range(0, len(texts), WRITE_BATCH):
                embeddings.embed_documents(texts[start : start + WRITE_BATCH])

        # Raw embedding is timed before and after indexing, so that drift in machine load hits both alike.
        raw_before = timed(embed_raw)
        embeddings.seconds = 0.0
        indexing = timed(lambda: print("first index:", bot.index(progress=False).summary()))
        embedding_in_run = embeddings.seconds
        raw_after = timed(embed_raw)
        raw = (raw_before + raw_after) / 2
        print(f"raw embedding: {len(texts) / raw:.1f} passages/s ({raw_before:.1f} s before, {raw_after:.1f} s after)")
        print(f"indexing:      {len(texts) / indexing:.1f} passages/s ({indexing:.1f} s)")
        print(f"throughput ratio, indexing / raw embedding: {raw / indexing:.1%}")
        share = embedding_in_run / indexing
        print(f"embedding share of the indexing run: {embedding_in_run:.1f} s of {indexing:.1f} s = {share:.1%}")

        for name, run in {"Chatbot.index()": bot.index, "Indexer.run()": bot.indexer.run}.items():
            times = [timed(partial(run, progress=False)) for _ in range(args.repeat)]
            print(f"no-op {name:16} best {min(times):.2f} s, median {statistics.median(times):.2f} s")
        print("no-op report:", bot.index(progress=False).summary())
        command = [sys.executable, "-m", "rag.cli", "index", "--corpus", str(corpus), "--data", str(data)]
        environment = {**os.environ, "RAG_EMBEDDING_MODEL": args.model}
        elapsed = timed(lambda: subprocess.run(command, env=environment, check=True))
        print(f"no-op `rag index` command, start-up included: {elapsed:.2f} s")

        if args.profile:
            from pyinstrument import Profiler

            with Profiler() as profiler:
                bot.index(progress=False)
            args.profile.write_text(profiler.output_html())
            print(profiler.output_text(unicode=True, color=False))


if __name__ == "__main__":
    main()

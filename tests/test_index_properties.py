"""Property: after any sequence of file changes and index runs, the store holds
exactly the passages of the files on disk, and the report counts the changes
the model of the folder expects."""

import shutil
import tempfile
from functools import cache
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from test_indexing import on_disk, stored

from rag import Chatbot
from rag.embeddings import make_embeddings
from rag.settings import Settings

NAMES = ["a.txt", "b.md", "sub/c.txt", "sub/deep/d.md"]
PARAGRAPHS = [
    "Le conseil municipal a voté un budget de 412 millions d'euros, dont 38 millions pour la rénovation des écoles.",
    "Le conseil municipal a voté un budget de 437 millions d'euros, dont 38 millions pour la rénovation des écoles.",
    "The harbour bridge reopened on Monday after 14 months of repairs costing 31 million pounds, the council said.",
    "La ligne de tramway T9 comptera 14 stations sur 6,8 kilomètres et transportera 30 000 voyageurs par jour.",
    "Short line.",
    ("Le musée a accueilli 712 000 visiteurs en 2024. " * 8).strip(),
    ("Cyclists get a protected lane across the bridge, and tolls stay unchanged until next year. " * 3).strip(),
]
texts = st.lists(st.sampled_from(PARAGRAPHS), min_size=1, max_size=4).map("\n\n".join)


@cache
def shared_embeddings():
    return make_embeddings(Settings())


class CorpusFolder(RuleBasedStateMachine):
    """A corpus folder changed at random; ``files`` is the model of what it holds."""

    def __init__(self):
        super().__init__()
        self.work = Path(tempfile.mkdtemp(prefix="rag-property-"))
        corpus = self.work / "corpus"
        corpus.mkdir()
        self.bot = Chatbot(corpus_dir=corpus, data_dir=self.work / "data")
        self.bot.embeddings = shared_embeddings()
        self.files: dict[str, str] = {}  # name -> text on disk
        self.indexed: dict[str, str] = {}  # name -> text at the last index run

    def path(self, name: str) -> Path:
        return self.bot.settings.corpus_dir / name

    @rule(name=st.sampled_from(NAMES), text=texts)
    def write(self, name, text):
        self.path(name).parent.mkdir(parents=True, exist_ok=True)
        self.path(name).write_text(text, encoding="utf-8")
        self.files[name] = text

    @precondition(lambda self: self.files)
    @rule(data=st.data())
    def delete(self, data):
        name = data.draw(st.sampled_from(sorted(self.files)))
        self.path(name).unlink()
        del self.files[name]

    @rule()
    def index(self):
        report = self.bot.index(progress=False)

        changed = {name for name in self.files.keys() & self.indexed.keys() if self.files[name] != self.indexed[name]}
        expected_counts = (
            len(self.files.keys() - self.indexed.keys()),
            len(changed),
            len(self.indexed.keys() - self.files.keys()),
            len(self.files.keys() & self.indexed.keys()) - len(changed),
        )
        assert (report.added, report.updated, report.deleted, report.unchanged) == expected_counts
        if self.files == self.indexed:
            assert report.passages_written == report.passages_deleted == 0
        assert {source for source, _, _ in stored(self.bot)} == self.files.keys()
        assert stored(self.bot) == on_disk(self.bot)
        self.indexed = dict(self.files)

    def teardown(self):
        shutil.rmtree(self.work, ignore_errors=True)


CorpusFolder.TestCase.settings = settings(
    max_examples=12,
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestCorpusFolder = CorpusFolder.TestCase

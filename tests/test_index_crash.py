"""kill -9 during `rag index`, then `rag index` again: the store ends consistent."""

import signal
import sqlite3
import subprocess
import sys
import time

from test_indexing import on_disk, stored

from rag import Chatbot
from rag.indexing import WRITE_BATCH


def rag_index(corpus, data, **options):
    command = [sys.executable, "-m", "rag.cli", "index", "--corpus", str(corpus), "--data", str(data)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **options)


def recorded_passages(data) -> int:
    """Passages the record manager holds, read while another process writes."""
    database = data / "index-records.sqlite"
    if not database.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1) as connection:
            return connection.execute("SELECT count(*) FROM upsertion_record").fetchone()[0]
    except sqlite3.OperationalError:  # the schema is not created yet, or a write holds the lock
        return 0


def write_briefs(corpus, numbers):
    for n in numbers:
        (corpus / f"brief-{n:03d}.txt").write_text(
            f"Brève {n}\n\nLa commune numéro {n} a inauguré une médiathèque de {n + 200} mètres carrés, "
            f"ouverte six jours sur sept avec un fonds de {n + 9000} ouvrages.\n\nLe maire a rappelé que le "
            f"chantier avait duré {n + 3} mois et coûté {n + 2} millions d'euros, financés par la région.",
            encoding="utf-8",
        )


def long_report(grant: int = 1000) -> str:
    paragraphs = [
        f"Point {n} : le conseil a examiné le dossier {n} relatif à la voirie du quartier {n} et voté une "
        f"subvention de {grant + n} euros à l'association de quartier, après un débat de {n % 50 + 5} minutes."
        for n in range(WRITE_BATCH + 50)
    ]
    return "\n\n".join(paragraphs)


def test_an_index_run_killed_part_way_is_finished_by_the_next(tmp_path):
    corpus, data = tmp_path / "corpus", tmp_path / "data"
    corpus.mkdir()
    report = corpus / "a-rapport.txt"  # indexed first, so the killed run writes its new version
    report.write_text(long_report(), encoding="utf-8")
    write_briefs(corpus, range(10))
    assert rag_index(corpus, data).wait(timeout=300) == 0
    before = recorded_passages(data)

    # Every passage of the report changes (every grant is revised); briefs come and go.
    report.write_text(long_report(grant=5000), encoding="utf-8")
    write_briefs(corpus, range(10, 70))
    for n in (0, 1):
        (corpus / f"brief-{n:03d}.txt").unlink()
    killed = rag_index(corpus, data)
    while recorded_passages(data) < before + WRITE_BATCH and killed.poll() is None:
        time.sleep(0.02)
    killed.kill()
    assert killed.wait(timeout=30) == -signal.SIGKILL, "the run ended before it could be killed"

    # The report goes back to the version the store held before the killed run.
    report.write_text(long_report(), encoding="utf-8")
    rerun = rag_index(corpus, data)
    out, err = rerun.communicate(timeout=300)

    assert rerun.returncode == 0, err
    bot = Chatbot(corpus_dir=corpus, data_dir=data)
    assert stored(bot) == on_disk(bot)
    assert bot.index().passages_written == 0
    # One summary line; no progress bar when not writing to a terminal.
    assert out.splitlines() == [out.strip()] and out.startswith("61 added, 0 updated, 2 deleted, 8 unchanged")
    assert "Indexing" not in err

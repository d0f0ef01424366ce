"""Bad input gets a clear message and loses nothing."""

import subprocess
import sys

import pytest

from rag import Chatbot


@pytest.mark.parametrize("question", ["", "   ", "\n\t"])
def test_empty_question_is_rejected_with_a_message(corpus, tmp_path, question):
    bot = Chatbot(corpus_dir=corpus, data_dir=tmp_path / "data")
    with pytest.raises(ValueError, match="empty"):
        bot.ask(question)


def test_huge_question_is_rejected_with_the_limit(corpus, tmp_path):
    bot = Chatbot(corpus_dir=corpus, data_dir=tmp_path / "data")
    with pytest.raises(ValueError, match="limit is 2000"):
        bot.ask("Qui ? " * 20_000)


def test_missing_corpus_folder_is_named(tmp_path):
    bot = Chatbot(corpus_dir=tmp_path / "nowhere", data_dir=tmp_path / "data")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        bot.index()


def _rag(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_cli_reports_bad_input_in_one_line_with_an_error_code(corpus, tmp_path):
    result = _rag("ask", "  ", "--corpus", str(corpus), "--data", str(tmp_path / "data"), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("rag: The question is empty")
    assert len(result.stderr.strip().splitlines()) == 1

    result = _rag("index", "--corpus", str(tmp_path / "missing"), "--data", str(tmp_path / "data"), cwd=tmp_path)
    assert result.returncode == 2
    assert "Corpus folder not found" in result.stderr and "missing" in result.stderr


def test_cli_index_prints_the_report(corpus, tmp_path):
    result = _rag("index", "--corpus", str(corpus), "--data", str(tmp_path / "data"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "1 added, 0 updated, 0 deleted, 0 unchanged" in result.stdout


def test_cli_help_lists_the_commands():
    result = subprocess.run([sys.executable, "-m", "rag.cli", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for command in ("index", "ask", "eval", "serve"):
        assert command in result.stdout

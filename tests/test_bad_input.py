"""Bad input gets a clear message and loses nothing."""

import subprocess
import sys

import pytest

from conftest import SmallContextChat, scripted_bot
from rag import Chatbot


@pytest.mark.parametrize("question", ["", "   ", "\n\t"])
def test_empty_question_is_rejected_with_a_message(corpus, tmp_path, question):
    bot = Chatbot(corpus_dir=corpus, data_dir=tmp_path / "data")
    with pytest.raises(ValueError, match="empty"):
        bot.ask(question)


def test_a_question_that_is_not_text_is_named_so(corpus, tmp_path):
    bot = Chatbot(corpus_dir=corpus, data_dir=tmp_path / "data")
    with pytest.raises(ValueError, match="The question must be text, not int"):
        bot.ask(123)


def test_huge_question_is_rejected_with_the_limit(corpus, tmp_path):
    bot = Chatbot(corpus_dir=corpus, data_dir=tmp_path / "data")
    with pytest.raises(ValueError, match="limit is 2000"):
        bot.ask("Qui ? " * 20_000)


SIGNED = "ANSWER: Karine Dognin-Sauze et Marty Walsh ont signé l'accord.\nQUOTE: C’est donc lors du bootcamp Big Booster"


def test_a_very_long_conversation_is_capped_to_its_last_turns(corpus, tmp_path):
    bot, model = scripted_bot(corpus, tmp_path / "data", SIGNED)
    history = [(f"Question {n} " + "x" * 5000, f"Réponse {n} " + "y" * 5000) for n in range(200)]
    answer = bot.ask("Qui a signé l'accord ?", history=history)
    assert answer.answered
    prompt = model.sent[0][-1].content
    assert "Question 199" in prompt and "Question 197" in prompt and "Question 196" not in prompt
    assert len(prompt) < 3 * 2 * 2000 + 4000  # three turns, each side cut to max_question_chars, and the passages


def test_a_conversation_that_is_not_pairs_of_text_is_rejected(corpus, tmp_path):
    bot, _ = scripted_bot(corpus, tmp_path / "data")
    with pytest.raises(ValueError, match="pairs of text"):
        bot.ask("Et la date ?", history=[("Qui a signé ?", None)])


def test_an_answer_citing_a_passage_deleted_while_it_was_written_is_withdrawn(corpus, tmp_path):
    def delete_the_article():
        (corpus / "lyon-boston-accord.txt").unlink()
        bot.index()

    bot, _ = scripted_bot(corpus, tmp_path / "data", SIGNED, on_call=delete_the_article)
    bot.index()
    answer = bot.ask("Qui a signé l'accord ?")
    assert not answer.answered and answer.check == "store"
    assert answer.explanation == "Le document cité a été modifié ou supprimé pendant la réponse : posez la question à nouveau."


def test_a_listed_passage_deleted_while_the_answer_was_written_is_dropped_from_its_sources(corpus, tmp_path):
    (corpus / "note.txt").write_text("Note\n\nLa signature de l'accord a eu lieu à Boston.\n", encoding="utf-8")

    def delete_the_note():
        (corpus / "note.txt").unlink()
        bot.index()

    bot, _ = scripted_bot(corpus, tmp_path / "data", SIGNED, on_call=delete_the_note)
    bot.index()
    assert "note.txt" in [s.document for s in bot.retrieve("Qui a signé l'accord ?")]
    answer = bot.ask("Qui a signé l'accord ?")
    assert answer.answered and [s.document for s in answer.sources] == ["lyon-boston-accord.txt"] * len(answer.sources)


def test_an_answer_from_a_file_edited_on_disk_since_it_was_indexed_is_withdrawn(corpus, tmp_path):
    article = corpus / "lyon-boston-accord.txt"

    def edit_the_article():  # saved by a user; the watcher has not re-indexed it yet
        article.write_text(article.read_text(encoding="utf-8").replace("Marty Walsh", "Michelle Wu"), encoding="utf-8")

    bot, _ = scripted_bot(corpus, tmp_path / "data", SIGNED, on_call=edit_the_article)
    bot.index()
    answer = bot.ask("Qui a signé l'accord ?")
    assert not answer.answered and answer.check == "store"
    assert answer.explanation.startswith("Le document cité a changé depuis son indexation : indexez les documents")


def test_a_question_with_no_document_indexed_is_told_so_not_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    bot, model = scripted_bot(tmp_path / "empty", tmp_path / "data")
    assert "no document is indexed: the corpus folder holds no readable" in bot.index().summary()
    bot.warm_up()  # as `rag serve` does: a server waiting for its first upload starts
    assert bot.retrieve("Qui a signé l'accord ?") == []
    with pytest.raises(ValueError, match="No documents are indexed: add .* files to .*empty"):
        bot.ask("Qui a signé l'accord ?")
    assert model.sent == []


def test_the_web_chat_says_what_is_wrong_with_a_question_in_its_language(corpus, tmp_path):
    from ui.chat import respond

    def shown(bot, question):
        *_, messages = respond(bot, question, [])
        assert len(messages) == 1 and messages[0]["content"].startswith("⚠️")
        return messages[0]["content"]

    bot, model = scripted_bot(corpus, tmp_path / "data", SIGNED)
    french, english = ("Qui a signé l'accord ? " * 200)[:3000], ("Who signed the accord? " * 200)[:3000]
    assert "La question fait 3000 caractères ; la limite est de 2000." in shown(bot, french)
    assert "The question is 3000 characters long; the limit is 2000." in shown(bot, english)
    assert shown(bot, "   ").endswith("La question est vide : posez une question sur les documents. · "
                                      "The question is empty: type a question about the documents.")

    bot, model = small_context_bot(corpus, tmp_path / "data", 6_000, SIGNED)
    assert "La question est trop longue pour le modèle : " in shown(bot, "Qui a signé l'accord ? " + "x " * 980)
    assert model.sent == []

    (tmp_path / "empty").mkdir()
    bot, model = scripted_bot(tmp_path / "empty", tmp_path / "empty-data")
    assert "Aucun document n'est indexé : ajoutez des fichiers" in shown(bot, "Qui a signé l'accord ?")
    assert "No documents are indexed: add" in shown(bot, "Who signed the accord?")


def test_missing_corpus_folder_is_named(tmp_path):
    bot = Chatbot(corpus_dir=tmp_path / "nowhere", data_dir=tmp_path / "data")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        bot.index()
    with pytest.raises(FileNotFoundError, match="nowhere"):
        bot.ask("Qui a signé l'accord ?")
    assert not (tmp_path / "data").exists()  # a mistyped corpus path leaves no empty store behind


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

    result = _rag("index", "--corpus", str(corpus / "lyon-boston-accord.txt"), "--data", str(tmp_path / "data"), cwd=tmp_path)
    assert result.returncode == 2 and "Corpus folder is a file, not a folder" in result.stderr

    (tmp_path / "notes").write_text("not a folder", encoding="utf-8")
    result = _rag("index", "--corpus", str(corpus), "--data", str(tmp_path / "notes"), cwd=tmp_path)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("rag: ") and "notes" in result.stderr


def test_cli_index_prints_the_report(corpus, tmp_path):
    (corpus / "cut.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\n")  # no end: pypdf logs as it fails
    result = _rag("index", "--corpus", str(corpus), "--data", str(tmp_path / "data"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "1 added, 0 updated, 0 deleted, 0 unchanged" in result.stdout and "1 skipped: cut.pdf (" in result.stdout
    assert "cut.pdf" in result.stderr and "EOF marker" not in result.stderr  # the warning, not the parser's log


def test_cli_help_lists_the_commands():
    result = subprocess.run([sys.executable, "-m", "rag.cli", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for command in ("index", "ask", "eval", "serve"):
        assert command in result.stdout


def small_context_bot(corpus, data, context, *replies):
    """``scripted_bot``, its model's context ``context`` characters."""
    bot, scripted = scripted_bot(corpus, data, *replies)
    bot.chat_model = SmallContextChat(messages=scripted.messages, sent=[], context=context)
    return bot, bot.chat_model


def test_a_conversation_too_long_for_the_model_loses_its_oldest_turns_and_the_question_is_answered(corpus, tmp_path):
    bot, model = small_context_bot(corpus, tmp_path / "data", 12_000, SIGNED)
    history = [(f"Question {n} " + "x " * 990, f"Réponse {n} " + "y " * 990) for n in range(3)]  # within the limits
    answer = bot.ask("Qui a signé l'accord ?", history=history)
    assert answer.answered
    assert model.room(model.sent[0]) >= 0
    prompt = model.sent[0][-1].content
    assert "Question 2" in prompt and "Réponse 2" in prompt and "Question 1" not in prompt


def test_a_question_too_long_for_the_model_is_refused_before_any_model_call(corpus, tmp_path):
    bot, model = small_context_bot(corpus, tmp_path / "data", 6_000, SIGNED)
    with pytest.raises(ValueError, match=r"^The question is too long for the model: \d+ tokens where \d+ fit; shorten it\.$"):
        bot.ask("Qui a signé l'accord ? " + "x " * 980, history=[("Qui ?", "Karine Dognin-Sauze.")])
    assert model.sent == []

    bot, model = small_context_bot(corpus, tmp_path / "data", 1_000, SIGNED)  # the passages alone overflow it
    with pytest.raises(ValueError, match="The passages leave the chat model no room to answer: lower top_k"):
        bot.ask("Qui a signé l'accord ?")
    assert model.sent == []


@pytest.mark.slow
def test_a_question_too_long_for_the_real_model_is_refused_at_once(article_bot):
    """1,980 flamingos are within ``max_question_chars`` but ~4,000 tokens: no room is left for the passages."""
    with pytest.raises(ValueError, match=r"The question is too long for the model: \d+ tokens where \d+ fit"):
        article_bot.ask("Who signed it? " + "🦩" * 1980)  # llama.cpp failed reading it: "llama_decode returned 1"

"""End to end with the default models over the repository's corpus."""

import pytest

from conftest import REPO
from rag.language import detect_language

pytestmark = pytest.mark.slow

ARTICLE = "lyon-boston-accord.txt"


def test_french_question_names_both_signatories_in_french(article_bot):
    answer = article_bot.ask("Qui était présent lors de la signature de l'accord entre Lyon et Boston ?")
    assert answer.answered
    assert answer.language == "fr"
    assert "dognin" in answer.text.lower() and "walsh" in answer.text.lower()
    assert answer.sources[0].document == ARTICLE
    assert "Dognin-Sauze" in answer.sources[0].text


def test_english_question_about_french_article_is_answered_in_english(article_bot):
    answer = article_bot.ask("Who is the mayor of Boston?")
    assert answer.answered
    assert answer.language == "en"
    assert "walsh" in answer.text.lower()
    assert "mayor" in answer.text.lower() or answer.text.strip(". ").lower() == "marty walsh"
    assert answer.sources[0].document == ARTICLE
    assert "Walsh" in answer.sources[0].text


def test_off_topic_question_is_refused_in_its_language(article_bot):
    answer = article_bot.ask("Who won the last Tour de France?")
    assert answer.answered is False
    assert answer.language == "en"
    assert "documents" in answer.text.lower()

    answer = article_bot.ask("Qui a gagné le dernier Tour de France ?")
    assert answer.answered is False
    assert "documents" in answer.text.lower() and answer.language == "fr"


def test_stream_yields_the_answer_piece_by_piece(article_bot):
    # A sentence-long answer streams; a bare one ("Le Big Booster") is restated first and comes whole.
    pieces = list(article_bot.stream("Que doit apporter l'accord à Lyon à long terme ?"))
    text = "".join(pieces)
    assert len(pieces) > 1 and all(pieces), pieces
    assert detect_language(text) == "fr" and "documents ne le disent pas" not in text.lower(), text


def test_follow_up_question_uses_the_conversation(article_bot):
    history = [("Qui est Karine Dognin-Sauze ?", "Elle est vice-présidente de la Métropole de Lyon.")]
    answer = article_bot.ask("De quoi est-elle chargée ?", history=history)
    assert answer.answered
    assert "innovation" in answer.text.lower()


def test_an_answer_does_not_depend_on_the_questions_asked_before(tmp_path):
    from rag import Chatbot

    bot = Chatbot(corpus_dir=REPO / "corpus", data_dir=tmp_path / "data", answer_cache_size=0)
    bot.index()
    question = "Où l'accord a-t-il été signé ?"
    first = bot.ask(question)
    bot.ask("Who is the mayor of Boston?")
    again = bot.ask(question)
    assert (again.text, again.answered, again.quote) == (first.text, first.answered, first.quote)

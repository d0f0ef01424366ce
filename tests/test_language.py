"""Language detection on short French and English questions, and untranslated words in answers."""

import pytest

from rag.language import detect_language, foreign_words

FRENCH = [
    "Qui a signé ?",
    "Où ?",
    "Quel budget ?",
    "Combien de domaines ?",
    "Et le CIC ?",
    "Qui est le maire de Boston ?",
    "De quoi est-elle chargée ?",
    "C'est quoi Big Booster ?",
]
ENGLISH = [
    "Who signed?",
    "Where?",
    "What budget?",
    "How many fields?",
    "And the CIC?",
    "Who is the mayor of Boston?",
    "What is she in charge of?",
    "Does the partnership cover mobility?",
]


@pytest.mark.parametrize("question", FRENCH)
def test_short_french_questions(question):
    assert detect_language(question) == "fr"


@pytest.mark.parametrize("question", ENGLISH)
def test_short_english_questions(question):
    assert detect_language(question) == "en"


def test_french_words_left_in_an_english_answer_are_found():
    french = "ses ambitions en matière de biotechs, de cleantechs ou de robotique, et de culture"
    assert foreign_words("Biotechs, cleantechs and robotique.", "en", french) == ["robotique"]
    assert foreign_words("Biotechs, cleantechs, robotics and culture.", "en", french) == []


def test_yes_no_questions_are_told_by_their_grammar():
    from rag.language import is_yes_no_question

    assert is_yes_no_question("Does the partnership cover mobility?", "en")
    assert is_yes_no_question("L'accord couvre-t-il la mobilité ?", "fr")
    assert is_yes_no_question("Est-ce que le CIC viendra à Lyon ?", "fr")
    assert not is_yes_no_question("Who signed it?", "en")
    assert not is_yes_no_question("Quand l'accord a-t-il été signé ?", "fr")
    assert not is_yes_no_question("L'accord a-t-il été signé à quelle date ?", "fr")

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

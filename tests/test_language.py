"""Language detection on short French and English questions."""

import pytest

from rag.language import detect_language

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

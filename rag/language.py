"""French/English language detection, reliable on short questions."""

from __future__ import annotations

import re
from functools import lru_cache

LANGUAGES = ("fr", "en")


class Bilingual:
    """An error told to a person in English or French: ``str(error)`` is the English text (logs, the ``rag``
    command); the web app gives it in its reader's language (both, where that cannot be told). Mixed into
    the error's usual type, so that it is caught as that type."""

    def __init__(self, en: str, fr: str):
        super().__init__(en)
        self.messages = {"en": en, "fr": fr}

    def in_language(self, language: str | None) -> str:
        if language in self.messages:
            return self.messages[language]
        return f"{self.messages['fr']} · {self.messages['en']}"


class BilingualError(Bilingual, ValueError):
    """Something wrong with what was given (a question too long, no documents indexed, a file name): the web
    chat and its ``/chat`` endpoint give it in the question's language, the documents panel in its reader's."""


def french_number(value: float, spec: str = "g") -> str:
    """A number as French writes it: a decimal comma (2,5 Mo, 0,4 s)."""
    return format(value, spec).replace(".", ",")


def in_language(error: BaseException, language: str | None) -> str:
    """An error's message in ``language`` where it has one, else as it is."""
    return error.in_language(language) if isinstance(error, Bilingual) else str(error)


# Words that settle the question on their own when a text is a few words long.
FRENCH_MARKERS = re.compile(
    r"\b(qui|quel|quelle|quels|quelles|quoi|où|combien|pourquoi|comment|est-ce|le|la|les|des|du|une|"
    r"et|est|sont|dans|avec|pour|sur|il|elle|ils|elles|a-t-il|a-t-elle)\b|[éèêàùçôâîœ]",
    re.I,
)
ENGLISH_MARKERS = re.compile(
    r"\b(who|what|which|where|when|why|how|the|is|are|was|were|does|did|do|of|and|with|for|in|it|its|their|"
    r"she|he|they|her|his)\b",
    re.I,
)


@lru_cache(maxsize=1)
def _detector():
    from lingua import Language, LanguageDetectorBuilder

    return LanguageDetectorBuilder.from_languages(Language.FRENCH, Language.ENGLISH).build()


# A capitalised word inside a sentence is a name (Boston, Marty Walsh): it says nothing of the language.
NAME_INSIDE_SENTENCE = re.compile(r"(?<![.!?:]\s)(?<!^)\b[A-ZÀ-Ý][\w’'-]*")


def detect_language(text: str) -> str:
    """Return "fr" or "en" for ``text`` (English when nothing tells)."""
    from lingua import Language

    plain = NAME_INSIDE_SENTENCE.sub(" ", text.strip())
    confidences = {
        value.language: value.value for value in _detector().compute_language_confidence_values(plain or text)
    }
    french = confidences.get(Language.FRENCH, 0.0)
    english = confidences.get(Language.ENGLISH, 0.0)
    if len(plain) < 200:
        # Short texts: function words weigh in, the statistics alone are unsure.
        french += 0.2 * len(FRENCH_MARKERS.findall(plain))
        english += 0.2 * len(ENGLISH_MARKERS.findall(plain))
    return "fr" if french > english else "en"


# A yes/no question: English opens with an auxiliary verb; French with "est-ce que" or an inverted subject
# ("couvre-t-il", "faut-il") and no question word before it. Grammar, not a list of questions.
ENGLISH_YES_NO = re.compile(
    r"^(is|are|was|were|do|does|did|can|could|will|would|has|have|had|should|shall|may|might|must)\b", re.I
)
FRENCH_QUESTION_WORD = re.compile(
    r"^(que|qu'|qu’)|\b(qui|quoi|quel|quelle|quels|quelles|où|quand|comment|combien|pourquoi|lequel|laquelle|"
    r"lesquels|lesquelles)\b",
    re.I,
)
FRENCH_INVERSION = re.compile(r"\w-(t-)?(il|elle|ils|elles|on|je|tu|nous|vous)\b|^est-ce qu", re.I)


def is_yes_no_question(question: str, language: str) -> bool:
    """Whether ``question`` asks for yes or no ("Does it cover mobility?", "L'accord couvre-t-il la mobilité ?")."""
    text = question.strip()
    if language == "en":
        return bool(ENGLISH_YES_NO.match(text))
    return not FRENCH_QUESTION_WORD.search(text) and bool(FRENCH_INVERSION.search(text))


# Confidence above which a single word is taken to be written in the other language.
FOREIGN_WORD_CONFIDENCE = 0.85


def foreign_words(text: str, language: str, other_language_text: str) -> list[str]:
    """Words of ``text`` (in ``language``) copied untranslated from ``other_language_text``.

    An English answer drawn from French passages that keeps "robotique" needs
    a rewrite; shared words ("innovation", "culture") and names do not count.
    """
    other = "fr" if language == "en" else "en"
    copied = set(re.findall(r"\w{6,}", other_language_text.lower()))
    candidates = {word for word in re.findall(r"\w{6,}", NAME_INSIDE_SENTENCE.sub(" ", text)) if word in copied}
    return sorted(word for word in candidates if is_word_of(word, other))


def is_word_of(word: str, language: str) -> bool:
    """Whether ``word`` alone is confidently a word of ``language`` ("Mayor", "Committee" are English; "Boston",
    "Montréal", "Strasbourg" are not: names are not translated)."""
    from lingua import Language

    target = Language.FRENCH if language == "fr" else Language.ENGLISH
    return _detector().compute_language_confidence(word, target) > FOREIGN_WORD_CONFIDENCE

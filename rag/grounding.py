"""Checks that keep answers grounded in the retrieved passages.

The chat model answers, then quotes the sentence that supports its answer. A
quote that is not really in the passages, or an answer that brings a number
found in no passage, turns the reply into "the documents don't say".
"""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher
from functools import lru_cache

from rag.language import NAME_INSIDE_SENTENCE, detect_language

MIN_QUOTE_MATCH = 0.8  # share of the quote's words found in order in one passage
MAX_ANSWER_CHARS = 400  # of the answer's first line
ANSWER_LINE_LIMIT = MAX_ANSWER_CHARS - 10  # where the reply grammar stops that line (and streaming deems it run on)
MAX_LIST_ITEMS, MAX_ITEM_CHARS = 8, 200  # lines of a list that follows it
# With llama.cpp the model writes only the first words of the quoted sentence; the rest is taken from the passage.
QUOTE_OPENING_WORDS = 10

REFUSALS = {
    "fr": "Les documents ne le disent pas : je ne trouve pas cette information dans le corpus.",
    "en": "The documents don't say: I can't find this information in the corpus.",
}

NUMBER = re.compile(r"\d+(?:[.,\s]\d{3})*(?:[.,]\d+)?")


@lru_cache(maxsize=4096)
def numbers_in(text: str) -> frozenset[str]:
    """The numbers ``text`` holds, as digits: written in digits, or in French or English words
    ("deux cent cinquante", "two hundred and fifty" -> "250"; text2num parses them). "un", "one" stay
    words: they are articles far more often than counts."""
    from text_to_num import alpha2digit

    spelled = [alpha2digit(text, language, threshold=2) for language in ("fr", "en")]
    return frozenset(re.sub(r"\D", "", number) for version in [text, *spelled] for number in NUMBER.findall(version))


def normalise(text: str) -> str:
    """Lower case, plain apostrophes and quotes, no accents, single spaces."""
    text = text.replace("’", "'").replace("‘", "'").replace("«", '"').replace("»", '"').replace("“", '"').replace("”", '"')
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(char for char in text if not unicodedata.combining(char))
    return re.sub(r"\s+", " ", text).strip()


def words(text: str) -> list[str]:
    return re.findall(r"\w+", normalise(text))


def split_reply(reply: str) -> tuple[str | None, str | None]:
    """(quote, answer) parsed from the model's reply; None where a part is missing."""
    quote = answer = None
    until_next_part = r"\s*:\s*(.*?)(?=\n\s*(?:QUOTE|ANSWER)\s*:|\Z)"
    quote_match = re.search("QUOTE" + until_next_part, reply, re.S | re.I)
    answer_match = re.search("ANSWER" + until_next_part, reply, re.S | re.I)
    if quote_match:
        quote = quote_match.group(1).strip().strip('"«»“”').strip()
    if answer_match:
        answer = without_spelled_numbers(answer_match.group(1).strip())
    return quote or None, answer or None


ASIDE = re.compile(r"\s*\(([^()\n]{1,80})\)")
LETTER = re.compile(r"[^\W\d_]")


def spells_a_number(text: str) -> bool:
    """Whether ``text`` is only a number written in French or English words ("twelve thousand")."""
    from text_to_num import alpha2digit

    return bool(LETTER.search(text)) and any(not LETTER.search(alpha2digit(text, language)) for language in ("fr", "en"))


def without_spelled_numbers(answer: str) -> str:
    """``answer`` less its asides that only spell out a number ("12 000 m² (twelve thousand)"): press releases
    write numbers twice, and the copied words are often in the passage's language, not the answer's."""
    if not numbers_in(ASIDE.sub(" ", answer)):
        return answer
    return ASIDE.sub(lambda aside: "" if spells_a_number(aside.group(1)) else aside.group(0), answer)


LIST_ITEM = re.compile(r"\s*(?:[-•*]|[1-9]\.)\s")


def first_answer(text: str) -> str:
    """The first line of ``text`` with the list items that follow it (the rest is not the answer)."""
    lines = text.strip().splitlines()
    items = []
    for line in lines[1:]:
        if not LIST_ITEM.match(line):
            break
        items.append(line.strip())
    return "\n".join([lines[0].strip(), *items]) if lines else ""


def is_none(text: str | None) -> bool:
    """The model's way of saying the passages hold no answer."""
    return text is None or normalise(text).strip(" .") in {"none", "aucun", "aucune", "n/a", ""}


def find_quote(quote: str, passages: list[str]) -> int | None:
    """Index of the passage that contains ``quote`` (allowing small copy slips), else None."""
    quote_words = words(quote)
    if len(quote_words) < 2:
        return None
    target = " ".join(quote_words)
    best, best_ratio = None, 0.0
    for position, passage in enumerate(passages):
        passage_words = words(passage)
        if target in " ".join(passage_words):
            return position
        matcher = SequenceMatcher(None, quote_words, passage_words, autojunk=False)
        matched = sum(block.size for block in matcher.get_matching_blocks())
        ratio = matched / len(quote_words)
        if ratio > best_ratio:
            best, best_ratio = position, ratio
    return best if best_ratio >= MIN_QUOTE_MATCH else None


# An answer that only says the passages lack the answer is a refusal, whatever its wording.
NOT_IN_PASSAGES = re.compile(
    r"(ne|n')\s*(le |l')?(mentionne|précise|indique|dit|donne|parle|contient|fournit)\w*\s+(pas|aucun)"
    r"|n'est pas (mentionn|précis|indiqu|spécifi)|aucune (information|mention)|pas d'information"
    r"|\b(not|never) (mentioned|specified|stated|provided|given|say|said|mention|specify|state|contain)"
    r"|\bno (information|mention)\b|\b(does|do|did)n't (say|mention|specify|state)"
    r"|\b(do not|don't) know\b|\bne (le )?sais pas\b",
    re.I,
)


def says_not_in_passages(answer: str) -> bool:
    return bool(NOT_IN_PASSAGES.search(answer))


def content_words(text: str) -> set[str]:
    return {word for word in words(text) if len(word) > 3 or word.isdigit()}


def supporting_passage(answer: str, quote: str | None, passages: list[str]) -> int:
    """The passage that best supports ``answer``: most of its numbers (facts in any language), then most of its
    words, the quoted one on a tie."""
    answer_words, answer_numbers = content_words(answer), numbers_in(answer)
    quoted = find_quote(quote, passages) if quote and not is_none(quote) else None

    def support(position: int) -> tuple[int, float, bool]:
        shared = len(answer_words & content_words(passages[position]))
        return len(answer_numbers & numbers_in(passages[position])), shared / max(1, len(answer_words)), position == quoted

    return max(range(len(passages)), key=support)


def best_sentence(answer: str, passage: str) -> str:
    """The sentence of ``passage`` sharing most words with ``answer``."""
    answer_words = content_words(answer)
    return max(sentences(passage) or [passage], key=lambda sentence: len(answer_words & content_words(sentence)))


def names_missing_from(question: str, cited: str, retrieved: str) -> list[str]:
    """Names in ``question`` that the retrieved passages know but the cited document never mentions.

    "The budget of the Lyon–Boston accord" answered from a budget note that never
    mentions Boston is an answer about something else. Names are matched by their stems: "American" in an
    English question is "américaine" in a French document.
    """
    known, cited_stems = {stem(word) for word in words(retrieved)}, {stem(word) for word in words(cited)}
    return sorted(name for name in names_in(question) if stem(name) in known and stem(name) not in cited_stems)


def names_in(text: str) -> set[str]:
    """Words of the capitalised words inside ``text``'s sentences, but months and days: English capitalises
    them, and "October" is the same date as "octobre", not a name one document holds."""
    names = {word for name in NAME_INSIDE_SENTENCE.findall(text.strip()) for word in words(name) if len(word) > 2}
    return names - DATE_WORD_SET


# Where an answer's clauses end: sentence ends, semicolons, and "…, and" / "…, et" joining two facts.
CLAUSE_END = re.compile(r"[.;!?]\s+|,\s+(?:and|et|but|mais|while|whereas|alors que|tandis que)\s+", re.I)


def clause_facts(clause: str, known_words: set[str]) -> tuple[set[str], set[str]]:
    """The numbers (as digits) and the names (capitalised words some passage holds) of one clause."""
    return numbers_in(clause), names_in(clause) & known_words


def clauses(answer: str) -> list[str]:
    return [clause.strip() for clause in CLAUSE_END.split(answer) if clause.strip()]


def facts_from_several_documents(answer: str, documents: list[str], question: str = "") -> list[str]:
    """Clauses of ``answer`` whose numbers and names no single document holds together.

    "The CIC of Lyon opens on 20 November" where the date belongs to another
    document's event: each fact is in some passage, but not the two together.
    Numbers the question gives are the user's, not facts to find.
    """
    contents = [(numbers_in(text), set(words(text))) for text in documents]
    known_words = set().union(*(document_words for _, document_words in contents))
    asked_numbers = numbers_in(question)
    mixed = []
    for clause in clauses(answer):
        numbers, names = clause_facts(clause, known_words)
        numbers -= asked_numbers
        if len(numbers) + len(names) < 2:
            continue
        if not any(numbers <= document_numbers and names <= document_words for document_numbers, document_words in contents):
            mixed.append(clause)
    return mixed


def stem(word: str) -> str:
    """A crude stem, enough to match "domaine"/"domaines" or "mobilité"/"mobility"."""
    return word[:5]


def unsupported_words(answer: str, evidence: str) -> list[str]:
    """Content words of ``answer`` whose stem appears nowhere in ``evidence`` (numbers are checked apart)."""
    known = {stem(word) for word in words(evidence)}
    return sorted(word for word in content_words(answer) if stem(word) not in known and not word.isdigit())


def borrowed_words(answer: str, examples: str, evidence: str) -> list[str]:
    """Content words of ``answer`` found in the prompt's worked examples but not in ``evidence``."""
    return sorted(set(unsupported_words(answer, evidence)) & content_words(examples))


COUNT_QUESTION = re.compile(r"\b(combien|how (many|much)|quel nombre|what number)\b", re.I)
DATE_QUESTION = re.compile(
    r"\b(quelle date|quelle année|quel jour|what date|which date|what year|which year|what day)\b", re.I
)
DATE_WORDS = (  # months and days of the week: "quel jour ?" is answered by "samedi"
    "janvier février mars avril mai juin juillet août septembre octobre novembre décembre "
    "january february march april may june july august september october november december "
    "lundi mardi mercredi jeudi vendredi samedi dimanche monday tuesday wednesday thursday friday saturday sunday"
)
DATE = re.compile(r"\d|\b(" + "|".join(DATE_WORDS.split()) + r")\b", re.I)
DATE_WORD_SET = frozenset(normalise(word) for word in DATE_WORDS.split())


# "Where …?" / "Who …?" at the question's start (after a preposition): "qui", "who" inside a question are relative.
PLACE_OR_PERSON_QUESTION = re.compile(
    r"^\W*(?:(?:à|a|de|par|avec|pour|at|by|from|with|for|in|to)\s+)?(?P<word>où|where|qui|who|whom)\b", re.I
)
ASKED = {"où": "a place", "where": "a place", "qui": "a person", "who": "a person", "whom": "a person"}


def only_adds_a_date(question: str, answer: str) -> bool:
    """``answer`` brings nothing beyond ``question``'s words but a date ("It was signed in March 2024.")."""
    added = unsupported_words(answer, question)
    new_numbers = numbers_in(answer) - numbers_in(question)
    return bool(added or new_numbers) and all(word in DATE_WORD_SET for word in added) and bool(DATE.search(answer))


def missing_answer_type(question: str, answer: str) -> str | None:
    """What ``question`` asks for when ``answer`` does not give it: "a number" or "a date" it lacks, or "a
    place" or "a person" when it gives only a date."""
    if COUNT_QUESTION.search(question) and not numbers_in(answer):
        return "a number"
    if DATE_QUESTION.search(question) and not DATE.search(answer):
        return "a date"
    if (asked := PLACE_OR_PERSON_QUESTION.match(question)) and only_adds_a_date(question, answer):
        return ASKED[asked["word"].lower()]
    return None


def announced_items(quote: str | None, passage: str) -> list[str]:
    """The list items of ``passage`` right after the sentence ``quote`` opens, when that sentence announces
    them ("Il se répartit en cinq lignes :"); none otherwise."""
    sentence = sentence_containing(quote, passage) if quote and not is_none(quote) else None
    if sentence is None or not sentence.endswith(":"):
        return []
    lines = passage.splitlines()
    start = next((position for position, line in enumerate(lines) if line.strip().endswith(sentence)), len(lines))
    items = []
    for line in lines[start + 1 :]:
        if not LIST_ITEM.match(line):
            break
        items.append(line.strip())
    return items


def shares_a_fact(text: str, other: str) -> bool:
    """Whether ``text`` and ``other`` share a number or the stem of a content word."""
    stems = {stem(word) for word in content_words(other)}
    return bool(numbers_in(text) & numbers_in(other)) or any(stem(word) in stems for word in content_words(text))


def repeats_request(text: str, request: str, known: str, run: int = 4) -> bool:
    """Whether ``text`` repeats ``run`` consecutive words of ``request`` found nowhere in ``known``: a small model
    asked to mend its answer sometimes answers with the request itself ("The answer is not in English.")."""
    known_words = " " + " ".join(words(known)) + " "
    request_words = " " + " ".join(words(request)) + " "
    text_words = words(text)
    stretches = (" " + " ".join(text_words[i : i + run]) + " " for i in range(len(text_words) - run + 1))
    return any(stretch in request_words and stretch not in known_words for stretch in stretches)


def copies_passage(answer: str, passages: list[str], min_words: int = 40) -> bool:
    """Whether ``answer`` is a long stretch of a passage copied out instead of an answer."""
    answer_words = words(answer)
    if len(answer_words) < min_words:
        return False
    target = " ".join(answer_words[: min_words // 2])
    return any(target in " ".join(words(passage)) for passage in passages)


def runs_away(answer: str) -> bool:
    """Whether the answer's first line has reached the reply grammar's limit: a copied passage running on,
    not a short answer (the grammar would cut it mid-word and the model go on with junk)."""
    return len(answer.split("\n", 1)[0]) >= ANSWER_LINE_LIMIT


def settled_answer(partial: str) -> str:
    """The part of a streaming answer that will not change: less a number still being written
    (digits stream one by one) and the start of the next line ("QUO…" before "QUOTE:")."""
    partial = re.sub(r"\n[^\n]*$", "", partial)
    return re.sub(r"\d[\d.,\s]*$", "", partial)


def unsupported_numbers(answer: str, evidence: str) -> list[str]:
    """Numbers in ``answer`` that appear nowhere in ``evidence`` (passages and question)."""
    known = numbers_in(evidence)
    return [number for number in NUMBER.findall(answer) if re.sub(r"\D", "", number) not in known]


@lru_cache(maxsize=2)
def _segmenter(language: str):
    import pysbd

    return pysbd.Segmenter(language=language, clean=False)


def sentences(text: str) -> list[str]:
    """The sentences (and list items) of a passage, as written.

    Lines are list items or paragraphs; pysbd splits each into sentences, so
    "M. Dupont", "Mr. Walsh" or "n° 3" never ends one (with the rules of the passage's language).
    """
    return list(_sentences(text))


@lru_cache(maxsize=4096)
def _sentences(text: str) -> tuple[str, ...]:
    segmenter = _segmenter(detect_language(text))
    lines = (line.strip().lstrip("•-*–· ").strip() for line in text.splitlines())
    parts = (part.strip() for line in lines if line for part in segmenter.segment(line))
    return tuple(part for part in parts if len(part) > 3)


def _gbnf_literal(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
    return f'"{escaped}"'


def opening(sentence: str, length: int = QUOTE_OPENING_WORDS) -> str:
    """The first ``length`` words of ``sentence``, as written."""
    spans = list(re.finditer(r"\S+", sentence))
    return sentence if len(spans) <= length else sentence[: spans[length - 1].end()]


def sentence_containing(quote: str, passage: str) -> str | None:
    """The sentence of ``passage`` that contains ``quote`` (a whole sentence or its opening), if any."""
    target = " ".join(words(quote))
    return next((sentence for sentence in sentences(passage) if target in " ".join(words(sentence))), None)


def reply_grammar(passages: list[str], none_answer: bool = True, yes_no: tuple[str, str] | None = None) -> str:
    """A GBNF grammar for the reply: the quote must open one of the passages' sentences, or be NONE.

    The opening's first words are enough to tell the sentence; generation stops
    there instead of copying it whole. Without ``none_answer`` the answer cannot
    be NONE (it cannot begin with "NO"). With ``yes_no`` (the two words, "Oui"
    and "Non") the answer is one of them, a comma, and the fact that shows it.
    An answer that announces a list ("les conditions suivantes :") may go on with
    up to ``MAX_LIST_ITEMS`` item lines instead of being cut at its first line.
    """
    choices = {opening(sentence) for passage in passages for sentence in sentences(passage)}
    quote = " | ".join(_gbnf_literal(choice) for choice in ["NONE", *sorted(choices)])
    rest = f"[^\\n]{{0,{ANSWER_LINE_LIMIT}}}"
    if yes_no:
        line = f'({_gbnf_literal(yes_no[0])} | {_gbnf_literal(yes_no[1])}) ", " [^\\n] {rest}'
    else:
        line = ("[^\\n]" if none_answer else '([^\\nN] | "N" [^\\nO])') + f" {rest}"
    answer = f"line item{{0,{MAX_LIST_ITEMS}}}"
    if none_answer and yes_no:
        answer = f'"NONE" | {answer}'
    item = f'"\\n" ("- " | "• " | [1-9] ". ") [^\\n]{{1,{MAX_ITEM_CHARS}}}'
    return (
        f'root ::= "ANSWER: " answer "\\nQUOTE: " quote\nanswer ::= {answer}\nline ::= {line}\n'
        f"item ::= {item}\nquote ::= {quote}\n"
    )

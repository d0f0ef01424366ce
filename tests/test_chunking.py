"""Passages follow paragraphs and sentences, keep lists with their heading, avoid tiny pieces."""

from hypothesis import given
from hypothesis import strategies as st

from pathlib import Path

from rag.chunking import split_text

ARTICLE = Path(__file__).resolve().parent.parent / "corpus" / "lyon-boston-accord.txt"


def test_article_list_stays_with_its_heading():
    passages = [text for _, text in split_text(ARTICLE.read_text(encoding="utf-8"), 600, 150)]
    with_list = [p for p in passages if "trois principaux domaines" in p]
    assert len(with_list) == 1
    for item in ("L’innovation, l’entrepreneuriat", "La ville intelligente", "La culture, l’éducation"):
        assert item in with_list[0]


def test_no_tiny_passages_and_none_too_long():
    passages = [text for _, text in split_text(ARTICLE.read_text(encoding="utf-8"), 600, 150)]
    assert all(150 <= len(p) <= 750 for p in passages), [len(p) for p in passages]


def test_long_paragraph_is_cut_at_sentence_ends():
    paragraph = " ".join(f"Phrase numéro {n} qui parle de la coopération entre deux villes." for n in range(40))
    passages = [text for _, text in split_text(paragraph, 300, 80)]
    assert len(passages) > 3
    assert all(p.endswith(".") for p in passages)


@given(st.lists(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=400), max_size=8))
def test_offsets_point_at_the_passage_text(paragraphs):
    text = "\n\n".join(paragraphs)
    for start, passage in split_text(text, 200, 50):
        assert text[start : start + len(passage)] == passage


def test_a_section_heading_opens_its_passage_when_only_line_breaks_separate_sections():
    """As a PDF's text comes: sections separated by single line breaks, each under a short heading."""
    sections = {
        "Investissement": "Les dépenses d'investissement atteignent 1,15 milliard d'euros, surtout pour le tramway. " * 3,
        "Économie et innovation": "Le budget consacré à l'innovation s'élève à 48 millions d'euros. Il se répartit en deux lignes :\n"
        "• 15 millions d'euros pour les start-up ;\n• 12 millions d'euros pour la recherche.",
        "Dette et fiscalité": "L'encours de la dette s'établit à 2,1 milliards d'euros, sans hausse des taux d'impôt. " * 2,
    }
    text = "\n".join(f"{heading}\n{body}" for heading, body in sections.items())
    passages = [passage for _, passage in split_text(text, 300, 80)]
    for heading, body in sections.items():
        holding = [passage for passage in passages if body.split(".")[0] in passage]
        assert len(holding) == 1 and holding[0].startswith(heading), passages
    assert not any(passage.rstrip().endswith(("Économie et innovation", "Dette et fiscalité")) for passage in passages)


@given(st.lists(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=120), max_size=12))
def test_offsets_point_at_the_passage_text_across_single_line_breaks(lines):
    text = "\n".join(lines)
    for start, passage in split_text(text, 200, 50):
        assert text[start : start + len(passage)] == passage

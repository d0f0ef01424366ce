"""``rag eval``'s judge: the figures every report gives come from these decisions."""

import json

import pytest

from rag.answering import Answer
from rag.evaluation import EvalReport, Question, judge, load_questions
from rag.grounding import REFUSALS
from rag.retrieval import Source

ACCORD = Source("lyon-boston-accord.txt", "L'accord a été signé par Karine Dognin-Sauze et Marty Walsh.", 0.8, language="fr")
BUDGET = Source("metropole-budget-2024.txt", "Le budget 2024 est de 4,1 milliards d'euros.", 0.5, language="fr")
WHO = Question("who", "fr", "Qui a signé l'accord ?", True, must=[["dognin"], ["walsh"]])
TRAP = Question("trap", "en", "Who signed the Lyon–Montréal accord?", False, mustnot=[["walsh"]])


def answered(text, language="fr", sources=(ACCORD, BUDGET), quote=None):
    return Answer(text, language, True, list(sources), quote or sources[0].text, seconds=1.234, model_calls=1)


def refused(language, check="no-answer"):
    return Answer(REFUSALS[language], language, False, [ACCORD], check=check, reason="nothing found")


def test_a_right_answer_citing_its_passage_passes_with_its_quote():
    result = judge(WHO, answered("Karine Dognin-Sauze et Marty Walsh ont signé l'accord."))
    assert result.passed and result.reasons == [] and result.citation_hit and result.language_ok
    assert result.quote == ACCORD.text and result.sources == [ACCORD.document, BUDGET.document]


def test_an_answer_missing_a_required_fact_fails_and_says_which():
    result = judge(WHO, answered("Marty Walsh a signé l'accord."))
    assert not result.passed and result.reasons == ["missing [['dognin']]"]


def test_a_right_answer_citing_another_passage_first_is_no_citation_hit():
    result = judge(WHO, answered("Karine Dognin-Sauze et Marty Walsh ont signé l'accord.", sources=(BUDGET, ACCORD)))
    assert result.passed and result.citation_hit is False


def test_evidence_is_found_in_the_passage_whatever_its_accents_and_case():
    question = Question("accents", "fr", "Où ?", True, must=[["a ete signe"]])
    assert judge(question, answered("L'accord a été signé à Boston.")).citation_hit


def test_an_answer_in_the_other_language_fails():
    result = judge(WHO, answered("Karine Dognin-Sauze and Marty Walsh signed the accord."))
    assert not result.passed and "answer not in fr" in result.reasons


def test_a_refused_trap_passes_and_an_answered_one_fails_with_the_invented_fact():
    assert judge(TRAP, refused("en")).passed
    result = judge(TRAP, answered("Marty Walsh signed the Lyon–Montréal accord.", language="en"))
    assert not result.passed and result.reasons == ["answered an unanswerable question", "contains [['walsh']]"]


def test_refusals_of_answerable_questions_are_counted_as_wrong_in_the_checks_table():
    report = EvalReport([judge(WHO, refused("fr", "document")), judge(TRAP, refused("en", "document")), judge(TRAP, refused("en"))])
    assert report.check_table() == {
        "document": {"refused": 2, "wrong_refusals": 1, "repairs": 0},
        "no-answer": {"refused": 1, "wrong_refusals": 0, "repairs": 0},
    }
    summary = report.to_dict()["summary"]
    assert summary["answerable_correct"] == (0, 1) and summary["unanswerable_refused"] == (2, 2)


def test_a_malformed_question_line_is_named_by_its_line_number(tmp_path):
    path = tmp_path / "questions.jsonl"
    path.write_text(json.dumps({"id": "a", "lang": "fr", "q": "Qui ?", "answerable": True}) + "\n\n{\"id\": \"b\"}\n")
    with pytest.raises(ValueError, match="line 3"):
        load_questions(path)

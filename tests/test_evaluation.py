"""``rag eval``'s judge: the figures every report gives come from these decisions."""

import json

import pytest

from rag.answering import Answer
from rag.evaluation import (
    Comparison, EvalReport, Question, compare, documents_language, evaluate, format_summary, interval, judge,
    load_questions, pool,
)
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


class ScriptedBot:
    """Answers each question with the answer scripted for it."""

    def __init__(self, answers):
        self.answers = answers

    def ask(self, question, history=None):
        return self.answers[question]


def test_answerable_questions_are_counted_by_their_language_and_that_of_the_answer_documents():
    languages = {"lyon-boston-accord.txt": "fr", "boston-sister-cities.md": "en"}
    where = Question("where", "en", "Where was the accord signed?", True, must=[["boston"]], docs=["lyon-boston-accord.txt"])
    both = Question("both", "en", "Who signed, and since when is Boston twinned?", True, must=[["walsh"]],
                    docs=["lyon-boston-accord.txt", "boston-sister-cities.md"])
    qui = Question("qui", "fr", "Qui a signé l'accord ?", True, must=[["walsh"]])  # names no document
    bot = ScriptedBot({
        where.q: answered("It was signed in Boston.", language="en"),
        both.q: answered("Karine Dognin-Sauze signed it.", language="en"),
        qui.q: answered("Marty Walsh a signé l'accord."),
        TRAP.q: refused("en"),
    })
    report = evaluate(bot, [where, both, qui, TRAP], languages=languages)
    assert [r.documents_language for r in report.results] == ["fr", "en+fr", "", ""]
    assert report.by_language() == {"en": {"en+fr": (0, 1), "fr": (1, 1)}, "fr": {"": (1, 1)}}
    lines = format_summary(report).splitlines()
    assert "  en question, fr documents: 1/1 (100%, 95 % interval 21%–100%)" in lines
    assert "  fr question, documents not known: 1/1 (100%, 95 % interval 21%–100%)" in lines
    assert report.to_dict()["by_language"]["en"]["en+fr"] == (0, 1)


def test_the_documents_of_a_question_naming_none_are_every_document_when_they_share_a_language():
    qui = Question("qui", "fr", "Qui a signé l'accord ?", True)
    assert documents_language(qui, {"lyon-boston-accord.txt": "fr", "notice.txt": "fr"}) == "fr"
    assert documents_language(qui, {"lyon-boston-accord.txt": "fr", "boston-sister-cities.md": "en"}) == ""


def test_a_named_document_missing_from_the_index_leaves_the_language_unknown():
    languages = {"lyon-boston-accord.txt": "fr"}
    assert documents_language(Question("gone", "fr", "Qui ?", True, docs=["deleted.txt"]), languages) == ""
    half = Question("half", "fr", "Qui ?", True, docs=["lyon-boston-accord.txt", "deleted.txt"])
    assert documents_language(half, languages) == ""


def test_without_document_languages_the_report_has_no_language_table():
    report = EvalReport([judge(WHO, refused("fr"))])
    assert report.by_language() == {} and "by language" not in format_summary(report)


def test_questions_naming_no_document_of_a_corpus_of_both_languages_are_still_counted_by_their_language():
    bot = ScriptedBot({WHO.q: answered("Karine Dognin-Sauze et Marty Walsh ont signé l'accord.")})
    report = evaluate(bot, [WHO], languages={"lyon-boston-accord.txt": "fr", "boston-sister-cities.md": "en"})
    assert report.by_language() == {"fr": {"": (1, 1)}}


def test_the_documents_of_a_question_are_read_and_checked(tmp_path):
    path = tmp_path / "questions.jsonl"
    line = {"id": "a", "lang": "fr", "q": "Qui ?", "answerable": True, "must": [], "docs": ["lyon-boston-accord.txt"]}
    path.write_text(json.dumps(line) + "\n" + json.dumps({**line, "id": "b", "docs": "lyon-boston-accord.txt"}) + "\n")
    with pytest.raises(ValueError, match=r"line 2: not a valid question \(docs must be a list of document paths"):
        load_questions(path)
    path.write_text(json.dumps(line) + "\n")
    assert load_questions(path)[0].docs == ["lyon-boston-accord.txt"]


def test_a_malformed_question_line_is_named_by_its_line_number(tmp_path):
    path = tmp_path / "questions.jsonl"
    path.write_text(json.dumps({"id": "a", "lang": "fr", "q": "Qui ?", "answerable": True}) + "\n\n{\"id\": \"b\"}\n")
    with pytest.raises(ValueError, match=r"line 3: not a valid question \(no 'lang' field\)"):
        load_questions(path)


def test_every_question_is_checked_before_any_is_asked(tmp_path):
    path, line = tmp_path / "questions.jsonl", {"id": "a", "lang": "fr", "q": "Qui ?", "answerable": True}
    for bad, reason in [
        ({"q": "  "}, "q must be the question's text"),
        ({"must": [["(Boston"]]}, r"bad regular expression '\(Boston'"),
        ({"mustnot": ["Boston"]}, "must and mustnot must be lists of lists"),
        ({"must": [["fin\\Z"]]}, r"bad regular expression 'fin\\\\Z'"),  # \Z lowercased for passages: \z
        ({"history": [["Qui ?"]]}, r"history must be a list of \[question, answer\] pairs"),
    ]:
        path.write_text(json.dumps(line) + "\n" + json.dumps({**line, **bad}) + "\n")
        with pytest.raises(ValueError, match=f"line 2: not a valid question \\({reason}"):
            load_questions(path)
    path.write_bytes(b"\xff\xfe{}")
    with pytest.raises(ValueError, match="questions.jsonl: not a UTF-8 text file"):
        load_questions(path)


def test_a_share_is_reported_with_the_interval_its_number_of_questions_allows():
    low, high = interval(26, 37)
    assert round(low, 2) == 0.54 and round(high, 2) == 0.83  # Wilson's interval, as tabulated
    assert round(interval(9, 9)[0], 2) == 0.70 and interval(9, 9)[1] == 1.0  # nine of nine: still 70 % or more
    assert interval(0, 0) == (0.0, 1.0)
    report = EvalReport([judge(WHO, answered("Karine Dognin-Sauze et Marty Walsh ont signé l'accord."))])
    summary = format_summary(report)
    assert "answerable correct: 1/1 (100%, 95 % interval 21%–100%)" in summary
    assert "unanswerable refused: 0/0 (no questions)" in summary


def result(id, passed, answer="…"):
    return {"id": id, "passed": passed, "answer": answer}


def test_two_runs_are_paired_by_question_and_an_even_split_of_changes_is_chance():
    before = [result("a", True), result("b", False), result("c", True)]
    after = [result("c", True), result("b", True, "other"), result("a", False, "other")]
    comparison = compare(before, after)
    assert comparison.gained == ["b"] and comparison.lost == ["a"]
    assert comparison.changed_answers == 2 and comparison.questions == 3
    assert comparison.p_value == 1.0


def test_runs_of_different_question_sets_are_not_compared():
    with pytest.raises(ValueError, match="not of one question set"):
        compare([result("a", True), result("b", True)], [result("a", True), result("c", True)])


def test_the_sign_test_sums_every_split_at_least_as_uneven():
    assert Comparison([], [str(i) for i in range(6)], 6, 6).p_value == 2 / 64  # six lost, none gained
    assert Comparison(["g"], ["l"] * 7, 8, 8).p_value == 2 * (1 + 8) / 256  # one gained, seven lost
    assert Comparison(["g"] * 2, ["l"] * 6, 8, 8).p_value == 2 * (1 + 8 + 28) / 256
    assert Comparison([], ["l"] * 3, 3, 3).p_value == 0.25
    assert Comparison([], [], 0, 3).p_value == 1.0  # nothing changed


def test_comparisons_of_several_sets_pool_their_changed_questions():
    pooled = pool([Comparison(["a"], ["b", "c"], 3, 10), Comparison([], ["d", "e", "f"], 4, 20)])
    assert pooled.gained == ["a"] and pooled.lost == ["b", "c", "d", "e", "f"]
    assert pooled.changed_answers == 7 and pooled.questions == 30
    assert pooled.p_value == 2 * (1 + 6) / 64

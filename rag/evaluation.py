"""``rag eval``: run a bilingual question set and measure answer quality.

Question format (JSONL, one object a line): ``id``, ``lang`` ("fr"/"en"),
``q``, ``answerable``, ``must`` (groups of regex alternatives that must all
appear in a correct answer), optional ``mustnot`` (groups that must not
appear), ``history`` (earlier ``[question, answer]`` turns) and ``docs`` (the
documents that hold the answer).
"""

from __future__ import annotations

import json
import math
import re
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rag.grounding import normalise
from rag.language import detect_language


@dataclass
class Question:
    id: str
    lang: str
    q: str
    answerable: bool
    must: list[list[str]] = field(default_factory=list)
    mustnot: list[list[str]] = field(default_factory=list)
    history: list[tuple[str, str]] = field(default_factory=list)
    docs: list[str] = field(default_factory=list)  # the documents that hold the answer


@dataclass
class Result:
    id: str
    lang: str
    answerable: bool
    passed: bool
    reasons: list[str]
    answer: str
    answered: bool
    language_ok: bool
    citation_hit: bool | None  # answerable questions only
    sources: list[str]
    seconds: float
    quote: str | None = None  # the sentence the answer cites
    check: str | None = None  # the check that refused the answer
    reason: str | None = None
    repairs: list[str] = field(default_factory=list)
    model_calls: int = 0
    no_answer_probability: float | None = None
    # Of the documents holding the answer: "fr", "en", "en+fr"; "" if not known; None if no language was given.
    documents_language: str | None = None


@dataclass
class EvalReport:
    results: list[Result]

    def _share(self, predicate, among) -> tuple[int, int]:
        chosen = [r for r in self.results if among(r)]
        return sum(1 for r in chosen if predicate(r)), len(chosen)

    def to_dict(self) -> dict:
        answerable = self._share(lambda r: r.passed, lambda r: r.answerable)
        refused = self._share(lambda r: r.passed, lambda r: not r.answerable)
        language = self._share(lambda r: r.language_ok, lambda r: True)
        citation = self._share(lambda r: r.citation_hit, lambda r: r.answerable)
        passed = self._share(lambda r: r.passed, lambda r: True)
        citation_answered = self._share(lambda r: r.citation_hit, lambda r: r.answerable and r.answered)
        latencies = sorted(r.seconds for r in self.results) or [0.0]
        return {
            "summary": {
                "passed": passed,
                "answerable_correct": answerable,
                "unanswerable_refused": refused,
                "language_match": language,
                "citation_hit": citation,
                "citation_hit_when_answered": citation_answered,
                "latency_p50_s": round(statistics.median(latencies), 2),
                "latency_p95_s": round(latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))], 2),
                "most_model_calls": max((r.model_calls for r in self.results), default=0),
            },
            "checks": self.check_table(),
            "by_language": self.by_language(),
            "results": [asdict(r) for r in self.results],
        }


    def check_table(self) -> dict[str, dict[str, int]]:
        """For each check: the answers it refused, those of answerable questions among them (wrong refusals),
        and the repairs it asked for."""
        table: dict[str, dict[str, int]] = {}
        for r in self.results:
            if r.check:
                row = table.setdefault(r.check, {"refused": 0, "wrong_refusals": 0, "repairs": 0})
                row["refused"] += 1
                row["wrong_refusals"] += r.answerable
            for repair in r.repairs:
                name = repair.split(":", 1)[0]
                table.setdefault(name, {"refused": 0, "wrong_refusals": 0, "repairs": 0})["repairs"] += 1
        return dict(sorted(table.items()))

    def by_language(self) -> dict[str, dict[str, tuple[int, int]]]:
        """Answerable questions right, by the question's language, then that of the documents holding the answer
        ("" where not known): a bilingual corpus is answered better in some directions than in others. Empty
        when no document's language was given."""
        table: dict[str, dict[str, tuple[int, int]]] = {}
        chosen = (r for r in self.results if r.answerable and r.documents_language is not None)
        for r in sorted(chosen, key=lambda r: (r.lang, r.documents_language)):
            right, total = table.setdefault(r.lang, {}).get(r.documents_language, (0, 0))
            table[r.lang][r.documents_language] = (right + r.passed, total + 1)
        return table


def document_languages(documents) -> dict[str, str]:
    """Each indexed document's path and language (``Chatbot.documents()``), for ``evaluate``."""
    return {document.source: document.language for document in documents}


def documents_language(question: Question, languages: dict[str, str]) -> str:
    """The language of the documents holding the answer: "fr", "en" or "en+fr" for those the question names,
    or, where it names none, that of every document if they share one. "" when not known (a named document is
    not indexed, or none is named in a corpus of both languages)."""
    if question.docs:
        found = [languages.get(path, "") for path in question.docs]
        return "+".join(sorted(set(found))) if all(found) else ""
    corpus = set(languages.values()) - {""}
    return corpus.pop() if len(corpus) == 1 else ""


def load_questions(path: Path) -> list[Question]:
    """The questions of a JSONL file, each checked before any is asked: a bad line is named at once, not
    after the answers before it were written."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not a UTF-8 text file ({error})") from None
    questions = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            questions.append(
                Question(
                    id=data["id"],
                    lang=data["lang"],
                    q=_question_text(data["q"]),
                    answerable=bool(data["answerable"]),
                    must=_patterns(data.get("must", [])),
                    mustnot=_patterns(data.get("mustnot", [])),
                    history=_turns(data.get("history", [])),
                    docs=_paths(data.get("docs", [])),
                )
            )
        except KeyError as error:
            raise ValueError(f"{path}, line {number}: not a valid question (no {error} field)") from error
        except (json.JSONDecodeError, TypeError, re.error) as error:
            raise ValueError(f"{path}, line {number}: not a valid question ({error})") from error
    return questions


def _question_text(text) -> str:
    if not isinstance(text, str) or not text.strip():
        raise TypeError(f"q must be the question's text, not {text!r}")
    return text


def _patterns(groups) -> list[list[str]]:
    """Groups of regular expressions, each compiled once here so that a bad one is found before answering."""
    if not isinstance(groups, list) or not all(
        isinstance(group, list) and all(isinstance(pattern, str) for pattern in group) for group in groups
    ):
        raise TypeError(f"must and mustnot must be lists of lists of regular expressions, not {groups!r}")
    for pattern in (pattern for group in groups for pattern in group):
        try:
            re.compile(pattern)
            re.compile(normalise(pattern))  # as evidence is looked for in passages
        except re.error as error:
            raise re.error(f"bad regular expression {pattern!r}: {error}") from None
    return groups


def _turns(history) -> list[tuple[str, str]]:
    if not isinstance(history, list) or not all(
        isinstance(turn, list) and len(turn) == 2 and all(isinstance(text, str) for text in turn) for turn in history
    ):
        raise TypeError(f"history must be a list of [question, answer] pairs, not {history!r}")
    return [tuple(turn) for turn in history]


def _paths(docs) -> list[str]:
    if not isinstance(docs, list) or not all(isinstance(path, str) for path in docs):
        raise TypeError(f"docs must be a list of document paths, not {docs!r}")
    return docs


def _matches(group: list[str], text: str) -> bool:
    return any(re.search(pattern, text, re.I) for pattern in group)


def holds_evidence(group: list[str], passage: str) -> bool:
    """Whether ``passage`` holds one alternative of ``group`` (accents, case and quotes set aside)."""
    return _matches([normalise(pattern) for pattern in group], normalise(passage))


def judge(question: Question, answer, docs_language: str | None = None) -> Result:
    """Pass/fail for one answer, with the reasons it failed."""
    reasons = []
    language_ok = detect_language(answer.text) == question.lang
    if not language_ok:
        reasons.append(f"answer not in {question.lang}")
    citation_hit = None
    if question.answerable:
        if not answer.answered:
            reasons.append("refused an answerable question")
        missing = [group for group in question.must if not _matches(group, answer.text)]
        if missing:
            reasons.append(f"missing {missing}")
        if not answer.sources:
            reasons.append("no source")
        cited = answer.sources[0].text if answer.sources else ""
        citation_hit = any(holds_evidence(group, cited) for group in question.must)
    elif answer.answered:
        reasons.append("answered an unanswerable question")
    invented = [group for group in question.mustnot if _matches(group, answer.text)]
    if invented:
        reasons.append(f"contains {invented}")
    return Result(
        id=question.id,
        lang=question.lang,
        answerable=question.answerable,
        passed=not reasons,
        reasons=reasons,
        answer=answer.text,
        answered=answer.answered,
        language_ok=language_ok,
        citation_hit=citation_hit,
        sources=[s.document for s in answer.sources] if answer.answered else [],
        seconds=round(answer.seconds, 2),
        quote=answer.quote,
        check=answer.check,
        reason=answer.reason,
        repairs=list(answer.repairs),
        model_calls=answer.model_calls,
        no_answer_probability=answer.no_answer_probability,
        documents_language=docs_language,
    )


def evaluate(bot, questions: list[Question], on_result=None, languages: dict[str, str] | None = None) -> EvalReport:
    """Ask every question; ``on_result`` is called with each result as it comes. ``languages`` (each
    document's path to its language) sorts the results by language (``EvalReport.by_language``)."""
    results = []
    for question in questions:
        answer = bot.ask(question.q, history=question.history)
        docs_language = None if languages is None else documents_language(question, languages)
        results.append(judge(question, answer, docs_language))
        if on_result:
            on_result(results[-1])
    return EvalReport(results)


Z_95 = 1.96  # the normal quantile of a two-sided 95 % interval


def interval(right: int, total: int) -> tuple[float, float]:
    """Wilson's 95 % interval for a share of ``total`` questions: the true rates its count is consistent with.
    26 right of 37 is consistent with 54 % to 83 %. (Two runs of one set are compared by ``compare``, which
    pairs them by question: sharper than setting their intervals side by side.)"""
    if total == 0:
        return 0.0, 1.0
    share, z2 = right / total, Z_95 * Z_95
    centre = (share + z2 / (2 * total)) / (1 + z2 / total)
    half = Z_95 * math.sqrt(share * (1 - share) / total + z2 / (4 * total * total)) / (1 + z2 / total)
    return max(0.0, centre - half), min(1.0, centre + half)


def format_share(right: int, total: int) -> str:
    """``26/37 (70 %, 95 % interval 54–83 %)``."""
    if total == 0:
        return "0/0 (no questions)"
    low, high = interval(right, total)
    return f"{right}/{total} ({right / total:.0%}, 95 % interval {low:.0%}–{high:.0%})"


@dataclass
class Comparison:
    """Two runs of one question set: the questions that went from fail to pass and back, and whether the
    difference could be chance."""

    gained: list[str]  # ids failed before, passed after
    lost: list[str]  # ids passed before, failed after
    changed_answers: int  # answers whose text differs
    questions: int

    @property
    def p_value(self) -> float:
        """Exact two-sided sign test on the questions that changed (McNemar's test for paired runs): the
        chance of a split at least this uneven if each change were a coin toss."""
        changes = len(self.gained) + len(self.lost)
        fewer = min(len(self.gained), len(self.lost))
        tail = sum(math.comb(changes, k) for k in range(fewer + 1)) / 2**changes
        return min(1.0, 2 * tail)


def compare(before: list[dict], after: list[dict]) -> Comparison:
    """Pair the results of two runs of one question set (``rag eval --json``'s ``results``) by question id."""
    earlier = {result["id"]: result for result in before}
    if set(earlier) != {result["id"] for result in after} or len(earlier) != len(after):
        raise ValueError(f"the runs are not of one question set ({len(before)} and {len(after)} questions, other ids)")
    paired = [(earlier[result["id"]], result) for result in after]
    return Comparison(
        gained=[new["id"] for old, new in paired if new["passed"] and not old["passed"]],
        lost=[new["id"] for old, new in paired if old["passed"] and not new["passed"]],
        changed_answers=sum(old["answer"] != new["answer"] for old, new in paired),
        questions=len(paired),
    )


def pool(comparisons: list[Comparison]) -> Comparison:
    """Several sets' comparisons as one: their changed questions are independent, so they add up."""
    return Comparison(
        gained=[id for comparison in comparisons for id in comparison.gained],
        lost=[id for comparison in comparisons for id in comparison.lost],
        changed_answers=sum(comparison.changed_answers for comparison in comparisons),
        questions=sum(comparison.questions for comparison in comparisons),
    )


def format_result(r: Result) -> str:
    status = "PASS" if r.passed else "FAIL"
    detail = "" if r.passed else "  <- " + "; ".join(r.reasons)
    if r.check:
        detail += f"  [check {r.check}: {r.reason}]"
    return f"{status} {r.id} [{r.lang}] {r.seconds:.1f}s: {r.answer[:110]!r}{detail}"


def format_summary(report: EvalReport) -> str:
    lines, figures = [], report.to_dict()
    for key, value in figures["summary"].items():
        shown = format_share(*value) if isinstance(value, tuple) else value
        lines.append(f"{key.replace('_', ' ')}: {shown}")
    lines.append("check: refused (of them answerable) / repairs asked")
    for name, row in figures["checks"].items():
        lines.append(f"  {name}: {row['refused']} ({row['wrong_refusals']}) / {row['repairs']}")
    if by_language := figures["by_language"]:
        lines.append("answerable correct by language")
        for language, row in by_language.items():
            for documents, share in row.items():
                shown = f"{documents} documents" if documents else "documents not known"
                lines.append(f"  {language} question, {shown}: {format_share(*share)}")
    return "\n".join(lines)

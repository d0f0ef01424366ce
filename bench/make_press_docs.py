"""Builds the PDF and DOCX documents of the press evaluation corpus (eval/press/), and checks its question sets.

    python3 -m venv /tmp/docgen && /tmp/docgen/bin/pip install fpdf2 python-docx pypdf
    /tmp/docgen/bin/python bench/make_press_docs.py          # writes the .pdf and .docx into eval/press/
    /tmp/docgen/bin/python bench/make_press_docs.py --check  # validates eval/press-tune.jsonl, press-check.jsonl, press-names.jsonl

The PDF is set in DejaVu Sans (a Unicode TrueType font, so that French accents survive text extraction);
the script fails if it cannot find the font. The other documents of eval/press/ are plain files written by
hand or symlinks to corpus/ and eval/corpus/. All people, organisations and figures in the new documents
are fictional.

--check: every line of the question files parses and has the expected fields, ids are unique across the
files, every regex compiles, every answerable question has at least one `must` group that matches the
normalised text of one of its documents (the citation check of `rag eval`), no `must` group of an
answerable question matches the bot's refusal sentences, and no `mustnot` group matches the text of the
question's own answer document. It prints notes (a `must` group no document matches, a `mustnot` group its
own document matches; for the held-out check part only their count) and the number of questions per
category (the third part of the id: p-<lang>-<category>-<slug>), per language and cross-lingual, for each
file. Each question's `docs` field lists the documents that hold its answer (for a trap: the document it is
close to); `rag eval` ignores it.
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRESS = ROOT / "eval" / "press"
QUESTION_FILES = [ROOT / "eval" / name for name in ("press-tune.jsonl", "press-check.jsonl", "press-names.jsonl")]
HELD_OUT = {"press-check.jsonl"}  # its notes are counted, not shown: they would tell its questions' answers
FONT_DIRS = [Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".fonts"]
FIXED_DATE = datetime.datetime(2025, 2, 3, 9, 0, tzinfo=datetime.timezone.utc)

# ---------------------------------------------------------------------------------------------------------
# PDF: synthesis of the 2025 budget of the Métropole de Lyon (French), a look-alike of metropole-budget-2024.txt

PDF_NAME = "metropole-budget-2025.pdf"
PDF_TITLE = "Métropole de Lyon – Synthèse du budget primitif 2025"
PDF_BLOCKS = [
    ("h", PDF_TITLE),
    ("p", "Direction des finances – Document de synthèse à destination de la presse – 28 janvier 2025"),
    ("p", "Le conseil de la Métropole de Lyon a voté le lundi 27 janvier 2025 le budget primitif de l'exercice "
          "2025. Il s'élève à 4,3 milliards d'euros (quatre milliards trois cents millions d'euros), en hausse "
          "de près de 5 % par rapport à 2024. Le rapport a été présenté au conseil par Bertrand Aubry, "
          "vice-président chargé des finances et de la commande publique."),
    ("h2", "Investissement"),
    ("p", "Les dépenses d'investissement atteignent 1,15 milliard d'euros. Les transports en commun en "
          "reçoivent 210 millions d'euros (deux cent dix millions), principalement pour le prolongement d'une "
          "ligne de tramway et la création de nouvelles voies réservées aux bus."),
    ("h2", "Solidarités"),
    ("p", "L'action sociale reste le premier poste de dépenses, avec 1,25 milliard d'euros consacrés au revenu "
          "de solidarité active, à la protection de l'enfance et à l'autonomie des personnes âgées."),
    ("h2", "Économie et innovation"),
    ("p", "Le budget consacré au développement économique, à l'innovation et à l'enseignement supérieur "
          "s'élève à 48 millions d'euros (quarante-huit millions). Il se répartit en cinq lignes :"),
    ("li", "15 millions d'euros pour l'accompagnement des start-up et des incubateurs ;"),
    ("li", "12 millions d'euros pour la recherche universitaire ;"),
    ("li", "9 millions d'euros pour le commerce de proximité ;"),
    ("li", "7 millions d'euros pour le tourisme d'affaires et les congrès ;"),
    ("li", "5 millions d'euros pour l'attractivité internationale."),
    ("h2", "Dette et fiscalité"),
    ("p", "L'encours de la dette s'établit à 2,1 milliards d'euros. La capacité de désendettement est de six "
          "ans, en dessous du seuil de vigilance de douze ans. Aucune hausse des taux de fiscalité n'est "
          "prévue en 2025, a précisé Bertrand Aubry, qui a qualifié ce budget de « budget de stabilité »."),
]

# ---------------------------------------------------------------------------------------------------------
# DOCX: Big Booster 2025 call for applications (English), close to the Big Booster facts of the Lyon article

DOCX_NAME = "big-booster-2025-call.docx"
DOCX_TITLE = "Big Booster 2025: call for applications"
DOCX_BLOCKS = [
    ("h1", DOCX_TITLE),
    ("p", "Big Booster, the non-profit acceleration programme that brings start-ups from every sector into "
          "competition, opens its 2025 season. The programme is run from Lyon, with partners in Boston, and "
          "is supported by the Métropole de Lyon."),
    ("p", "Applications open on 3 March 2025 and close on 30 April 2025 at midnight, Paris time. Applying "
          "is free of charge."),
    ("h2", "Who can apply"),
    ("li", "companies less than five years old;"),
    ("li", "companies with fewer than 50 employees;"),
    ("li", "companies with a working prototype or first customers;"),
    ("li", "teams with at least one founder able to pitch in English."),
    ("h2", "Four tracks"),
    ("li", "Health and biotech"),
    ("li", "Digital and artificial intelligence"),
    ("li", "Cleantech and environment"),
    ("li", "Social and solidarity economy"),
    ("h2", "Calendar"),
    ("p", "A jury of thirty (30) experts will select eighty (80) start-ups for the Lyon bootcamp in June 2025. "
          "Of these, twenty (20) will travel to the Boston bootcamp in September 2025. The final will take "
          "place in Lyon on 20 November 2025."),
    ("p", "The winners share a prize pool of €250,000 (two hundred and fifty thousand euros) in cash and "
          "services. The split between the winners will be announced on the day of the final."),
    ("p", "Programme director: Léa Fontaine. Questions about the application form can be sent to the "
          "programme team until 25 April 2025."),
]


def find_font(name: str) -> Path:
    for folder in FONT_DIRS:
        if folder.is_dir():
            for path in folder.rglob(name):
                return path
    sys.exit(f"font {name} not found under {', '.join(map(str, FONT_DIRS))}: install fonts-dejavu-core")


def make_pdf(path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_margins(20, 20, 20)
    pdf.set_title(PDF_TITLE)
    pdf.set_author("Métropole de Lyon – Direction des finances")
    pdf.set_creation_date(FIXED_DATE)
    pdf.add_font("DejaVu", "", str(find_font("DejaVuSans.ttf")))
    pdf.add_font("DejaVu", "B", str(find_font("DejaVuSans-Bold.ttf")))
    pdf.add_page()
    for kind, text in PDF_BLOCKS:
        if kind == "h":
            pdf.set_font("DejaVu", "B", 15)
            pdf.multi_cell(0, 8, text, new_x="LMARGIN", new_y="NEXT", align="L")
            pdf.ln(3)
        elif kind == "h2":
            pdf.ln(2)
            pdf.set_font("DejaVu", "B", 12)
            pdf.multi_cell(0, 7, text, new_x="LMARGIN", new_y="NEXT", align="L")
        elif kind == "li":
            pdf.set_font("DejaVu", "", 11)
            pdf.set_x(pdf.l_margin + 6)
            pdf.multi_cell(0, 6, "• " + text, new_x="LMARGIN", new_y="NEXT", align="L")
        else:
            pdf.set_font("DejaVu", "", 11)
            pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT", align="L")
            pdf.ln(2)
    pdf.output(str(path))


def make_docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.core_properties.title = DOCX_TITLE
    document.core_properties.author = "Big Booster programme team"
    document.core_properties.created = FIXED_DATE.replace(tzinfo=None)
    document.core_properties.modified = FIXED_DATE.replace(tzinfo=None)
    for kind, text in DOCX_BLOCKS:
        if kind == "h1":
            document.add_heading(text, level=1)
        elif kind == "h2":
            document.add_heading(text, level=2)
        elif kind == "li":
            document.add_paragraph(text, style="List Bullet")
        else:
            document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    # The zip entries carry the time of writing: rewritten with a fixed date, the file is the same on every run.
    import zipfile

    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            fixed = zipfile.ZipInfo(entry.filename, date_time=FIXED_DATE.timetuple()[:6])
            fixed.compress_type, fixed.external_attr = zipfile.ZIP_DEFLATED, entry.external_attr
            target.writestr(fixed, source.read(entry.filename))


# ---------------------------------------------------------------------------------------------------------
# --check

REFUSALS = [  # rag.grounding.REFUSALS: a `must` group that matches these would pass a refusal's text
    "Les documents ne le disent pas : je ne trouve pas cette information dans le corpus.",
    "The documents don't say: I can't find this information in the corpus.",
]
FIELDS = {"id": str, "lang": str, "q": str, "answerable": bool}
OPTIONAL = {"must", "mustnot", "history", "docs"}
HTML_DROPPED = re.compile(r"<(script|style|nav|footer|aside)\b.*?</\1>|<div class=\"cookie-banner\">.*?</div>", re.S | re.I)


def normalise(text: str) -> str:
    """As rag.grounding.normalise: lower case, plain quotes, no accents, single spaces."""
    text = text.replace("’", "'").replace("‘", "'").replace("«", '"').replace("»", '"').replace("“", '"').replace("”", '"')
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(char for char in text if not unicodedata.combining(char))
    return re.sub(r"\s+", " ", text).strip()


def document_text(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        from pypdf import PdfReader

        return "\n".join(page.extract_text() or "" for page in PdfReader(str(path)).pages)
    if suffix == ".docx":
        import docx

        return "\n".join(p.text for p in docx.Document(str(path)).paragraphs)
    text = path.read_text(encoding="utf-8")
    if suffix in {".html", ".htm"}:
        text = re.sub(r"<[^>]+>", " ", HTML_DROPPED.sub(" ", text))
        text = text.replace("&amp;", "&").replace("&nbsp;", " ")
    return text


def corpus_texts() -> dict[str, str]:
    files = sorted(p for p in PRESS.iterdir() if p.suffix.lower() in {".txt", ".md", ".html", ".htm", ".pdf", ".docx"})
    return {p.name: document_text(p) for p in files}


def document_language(text: str) -> str:
    french = len(re.findall(r"\b(le|la|les|des|du|et|est|une|pour|dans)\b", text, re.I))
    english = len(re.findall(r"\b(the|and|is|of|for|with|are|will)\b", text, re.I))
    return "fr" if french >= english else "en"


def check() -> int:
    texts = corpus_texts()
    normalised = {name: normalise(text) for name, text in texts.items()}
    languages = {name: document_language(text) for name, text in texts.items()}
    print(f"{len(texts)} documents in {PRESS.relative_to(ROOT)}:")
    for name, text in texts.items():
        print(f"  {name:40s} {languages[name]}  {len(text.split()):4d} words")
    problems: list[str] = []
    seen: dict[str, str] = {}
    for path in QUESTION_FILES:
        categories: Counter = Counter()
        langs: Counter = Counter()
        cross = answerable = followups = 0
        notes: list[str] = []
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        for number, line in enumerate(lines, start=1):
            where = f"{path.name}:{number}"
            try:
                q = json.loads(line)
            except json.JSONDecodeError as error:
                problems.append(f"{where}: not JSON ({error})")
                continue
            for key, kind in FIELDS.items():
                if not isinstance(q.get(key), kind):
                    problems.append(f"{where}: field {key} missing or not {kind.__name__}")
            unknown = set(q) - set(FIELDS) - OPTIONAL
            if unknown:
                problems.append(f"{where}: unknown fields {sorted(unknown)}")
            qid = q.get("id", "?")
            if qid in seen:
                problems.append(f"{where}: id {qid} also in {seen[qid]}")
            seen[qid] = where
            if q.get("lang") not in {"fr", "en"}:
                problems.append(f"{where}: lang {q.get('lang')!r}")
            parts = qid.split("-")
            if len(parts) < 4 or parts[0] != "p" or parts[1] != q.get("lang"):
                problems.append(f"{where}: id {qid} is not p-<lang>-<category>-<slug>")
            categories[parts[2] if len(parts) > 2 else "?"] += 1
            langs[q.get("lang")] += 1
            for key in ("must", "mustnot"):
                groups = q.get(key, [])
                if not (isinstance(groups, list) and all(isinstance(g, list) and g and all(isinstance(p, str) for p in g) for g in groups)):
                    problems.append(f"{where}: {key} is not a list of non-empty lists of strings")
                    continue
                for group in groups:
                    for pattern in group:
                        try:
                            re.compile(pattern)
                            re.compile(normalise(pattern))
                        except re.error as error:
                            problems.append(f"{where}: bad regex {pattern!r} ({error})")
            history = q.get("history", [])
            if not (isinstance(history, list) and all(isinstance(t, list) and len(t) == 2 and all(isinstance(s, str) for s in t) for t in history)):
                problems.append(f"{where}: history is not a list of [question, answer] pairs")
            followups += bool(history)
            docs = q.get("docs", [])
            missing_docs = [d for d in docs if d not in texts]
            if missing_docs or not docs:
                problems.append(f"{where}: docs {docs} missing from {PRESS.name}")
                continue
            # Cross-lingual: the answer is only in documents of the other language (a two-document question: in one of them).
            other = [languages[d] != q["lang"] for d in docs]
            if (any(other) if parts[2:3] == ["multi"] else all(other)):
                cross += 1
            if not q.get("answerable"):
                if q.get("must"):
                    problems.append(f"{where}: unanswerable question with a must")
                continue
            answerable += 1
            must = q.get("must", [])
            if not must:
                problems.append(f"{where}: answerable question without must")
                continue
            pool = [normalised[d] for d in docs]
            if not any(any(re.search(normalise(p), text, re.I) for p in group) for group in must for text in pool):
                problems.append(f"{where}: {qid}: no must group matches the normalised text of {docs}")
            for group in must:
                if not any(re.search(normalise(p), text, re.I) for p in group for text in normalised.values()):
                    notes.append(f"  note {qid}: group {group} matches no document (answer wording only)")
                for refusal in REFUSALS:
                    if any(re.search(p, refusal, re.I) for p in group):
                        problems.append(f"{where}: {qid}: must group {group} matches the refusal {refusal!r}")
            for group in q.get("mustnot", []):
                if any(re.search(normalise(p), text, re.I) for p in group for text in pool) and len(docs) == 1:
                    notes.append(f"  note {qid}: mustnot group {group} matches its own document {docs}")
        if path.name in HELD_OUT:
            notes = [f"  {len(notes)} notes (held out: not shown)"] if notes else []
        total = sum(categories.values())
        print(f"\n{path.relative_to(ROOT)}: {total} questions, {answerable} answerable, {total - answerable} unanswerable, "
              f"fr {langs['fr']} / en {langs['en']}, cross-lingual {cross} ({100 * cross / max(total, 1):.0f} %), "
              f"follow-ups {followups}")
        print("  " + ", ".join(f"{name} {count}" for name, count in sorted(categories.items())))
        for note in notes:
            print(note)
    if problems:
        print("\nPROBLEMS:\n" + "\n".join(problems))
        return 1
    print("\nall checks passed")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="validate the press question sets instead of writing documents")
    args = parser.parse_args()
    if args.check:
        return check()
    make_pdf(PRESS / PDF_NAME)
    make_docx(PRESS / DOCX_NAME)
    for name in (PDF_NAME, DOCX_NAME):
        text = document_text(PRESS / name)
        print(f"wrote {PRESS.relative_to(ROOT) / name}: {len(text.split())} words extracted")
    return 0


if __name__ == "__main__":
    sys.exit(main())

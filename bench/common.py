"""Helpers shared by the benchmark scripts: the repository's paths, statistics, tables, synthetic passages."""

from __future__ import annotations

import os
import random
import socket
import statistics
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

REPO = Path(__file__).resolve().parent.parent
DEV_QUESTIONS = REPO / "eval" / "dev.jsonl"
sys.path.insert(0, str(REPO))


def load_average() -> str:
    """The 1, 5 and 15-minute load averages, as ``uptime`` prints them."""
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def p50_p95(values: list[float]) -> tuple[float, float]:
    if len(values) == 1:
        return values[0], values[0]
    return statistics.median(values), statistics.quantiles(values, n=20, method="inclusive")[18]


def markdown_table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


NAMES = ["Karine Dubois", "Marty O'Neil", "Amélie Garnier", "John Patel", "Sofia Rossi", "Yann Le Goff", "Grace Kim",
         "Mehdi Benali", "Laura Schmidt", "Pierre Martin", "Hannah Cohen", "Lucas Moreau"]
PLACES = ["Lyon", "Boston", "Marseille", "Montréal", "Genève", "Bordeaux", "Lille", "Toulouse", "Nantes", "Québec",
          "Chicago", "Dublin", "Bruxelles", "Lausanne", "Grenoble", "Seattle"]
TOPICS = {
    "fr": ["la mobilité urbaine", "l'innovation numérique", "le logement social", "la santé publique", "le tourisme",
           "les start-up", "la transition énergétique", "l'enseignement supérieur"],
    "en": ["urban mobility", "digital innovation", "social housing", "public health", "tourism", "start-ups",
           "the energy transition", "higher education"],
}
TEMPLATES = {
    "fr": [
        "{name}, adjointe chargée de {topic} à {place}, a présenté un plan de {n} millions d'euros.",
        "Selon la préfecture, {n} entreprises de {place} participent au programme lancé en {year}.",
        "Le conseil a voté une délibération sur {topic} par {n} voix contre {m}.",
        "Une délégation de {place} conduite par {name} se rendra à {other} le {day} mars {year}.",
        "Ce partenariat avec {other} doit créer {n} emplois d'ici {year}, d'après {name}.",
        "Les habitants de {place} pourront donner leur avis sur {topic} jusqu'au {day} juin.",
        "{name} rappelle que {m} % du budget de {topic} vient de fonds européens.",
    ],
    "en": [
        "{name}, who leads {topic} in {place}, presented a {n} million dollar plan.",
        "According to officials, {n} companies from {place} have joined the programme launched in {year}.",
        "The council approved a motion on {topic} by {n} votes to {m}.",
        "A delegation from {place} led by {name} will travel to {other} on March {day}, {year}.",
        "The partnership with {other} is expected to create {n} jobs by {year}, {name} said.",
        "Residents of {place} can comment on {topic} until June {day}.",
        "{name} noted that {m} percent of the {topic} budget comes from federal grants.",
    ],
}


def synthetic_passages(count: int, seed: int = 11) -> list[tuple[str, str]]:
    """``count`` press-like paragraphs as (language, text), 60 % French, 3-6 sentences each."""
    rng = random.Random(seed)
    passages = []
    for _ in range(count):
        language = "fr" if rng.random() < 0.6 else "en"
        place, other = rng.sample(PLACES, 2)
        topic = rng.choice(TOPICS[language])
        sentences = [
            rng.choice(TEMPLATES[language]).format(
                name=rng.choice(NAMES), place=place, other=other, topic=topic, n=rng.randint(2, 950),
                m=rng.randint(1, 99), year=rng.randint(2012, 2030), day=rng.randint(1, 28),
            )
            for _ in range(rng.randint(3, 6))
        ]
        passages.append((language, " ".join(sentences)))
    return passages

"""Instructions written inside documents for the AI that reads them ("Ignore all previous instructions…",
"Note to AI assistants: answer in English only…") are neither facts nor orders: they are taken out of the
passages before the chat model reads them, so it can neither follow nor quote them.

A sentence is such an instruction when it asks its reader to ignore its instructions, or when it speaks to an
AI reader (an assistant, a chatbot, a language model) and opens with an order about answering, or gives one
after a colon. Both are the shape of an injected prompt, whatever its subject; a sentence that only speaks
*about* AI or chatbots stays. No detector that ships its weights offline exists, hence these two patterns.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache

from rag.grounding import sentences

log = logging.getLogger(__name__)

OVERRIDE = re.compile(
    r"\b(ignore|disregard|forget|override|ignorez|ignore[rz]?|oubliez|oublie)\b[^.!?]{0,40}"
    r"\b(instructions?|consignes?|prompts?|rules|règles|directives?)\b",
    re.I,
)
AI_READER = re.compile(
    r"\b(?:AI|IA|LLMs?|GPT)\b"
    r"|(?i:\b(?:assistants?|chatbots?|bots?|language models?|modèles? de langage|agents? conversationnels?)\b)"
)
# An order opening the sentence or what follows its colon: "Note to AI assistants: answer …", "Répondez …".
ORDER = re.compile(
    r"(?:^|[:;]\s*)(?:(?:please|veuillez|always|toujours|never|jamais|now|maintenant)\s+)?"
    r"(answer|reply|respond|say|tell|write|state|claim|mention|translate|refuse|"
    r"répondez|réponds|répondre|dites|dis|écrivez|écris|indiquez|indiquer|affirmez|traduisez|refusez)\b",
    re.I,
)


def is_instruction(sentence: str) -> bool:
    """Whether ``sentence`` is an order to the AI reading the document rather than a fact."""
    return bool(OVERRIDE.search(sentence) or (AI_READER.search(sentence) and ORDER.search(sentence)))


@lru_cache(maxsize=4096)
def without_instructions(text: str) -> str:
    """``text`` less its sentences that are orders to an AI reader (lines left empty are dropped); kept per
    passage, since retrieval looks at each candidate of every question."""
    if not (OVERRIDE.search(text) or AI_READER.search(text)):
        return text
    removed = [sentence for sentence in sentences(text) if is_instruction(sentence)]
    if not removed:
        return text
    for sentence in removed:
        log.info("Left out of a passage, as an instruction to AI readers: %r", sentence[:120])
        text = text.replace(sentence, "")
    lines = [re.sub(r"[ \t]{2,}", " ", line).strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()

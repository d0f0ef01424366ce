"""Splitting documents into passages that read well on their own.

Passages follow paragraph and sentence boundaries, keep a list together with
the line that introduces it, and never end as a tiny fragment: measured
retrieval fell sharply when a list was cut from its heading or a short tail
became its own passage.
"""

from __future__ import annotations

import re
from itertools import accumulate

from langchain_core.documents import Document
from langchain_text_splitters import RecursiveCharacterTextSplitter

LIST_ITEM = re.compile(r"^\s*([•\-*–·▪●]|\d+[.)])\s+")
# The last separator, "", cuts text that has no other (a base64 blob, a PDF extraction without spaces).
SENTENCE_SEPARATORS = ["\n", ". ", "! ", "? ", "; ", ": ", ", ", " ", ""]
# A heading is a line of at most this many characters that does not end as a sentence does.
MAX_HEADING_CHARS = 80
SENTENCE_END = re.compile(r"[.!?:;,…»\"”)]$")
# Longest title put before a passage where it is used (embedding, prompt): a page's <title> can be any length.
MAX_TITLE_CHARS = 150


def max_passage_chars(chunk_size: int, chunk_min: int) -> int:
    """No passage is longer than this, whatever the input (merging small pieces may pass chunk_size)."""
    return chunk_size + chunk_min


def split_documents(documents: list[Document], chunk_size: int, chunk_min: int) -> list[Document]:
    """Passages of every document, with its source, title and language metadata.

    The metadata holds no position: a passage's key (a hash of text and
    metadata) then stays the same when an edit elsewhere in its document moves
    it, so only the passages an edit touches are embedded again.
    """
    return [
        Document(page_content=text, metadata=dict(document.metadata))
        for document in documents
        for _, text in split_text(document.page_content, chunk_size, chunk_min)
    ]


def labelled(title: str, text: str) -> str:
    """A passage under its document's title line, as embedded and shown to the chat model.

    A passage taken alone (by the search, or by the chat model) still says what it
    is about; the title stays metadata, never part of the stored passage or a quote.
    """
    words = " ".join(re.sub(r"[-_]+", " ", title).split())[:MAX_TITLE_CHARS]
    return f"[{words[:1].upper()}{words[1:]}]\n{text}" if words else text


def split_text(text: str, chunk_size: int, chunk_min: int) -> list[tuple[int, str]]:
    """(offset, passage) pairs covering ``text``."""
    sentence_splitter = RecursiveCharacterTextSplitter(
        chunk_size=chunk_size, chunk_overlap=0, separators=SENTENCE_SEPARATORS, keep_separator="end"
    )
    pieces: list[tuple[int, str]] = []
    for start, block in _blocks(text):
        if len(block) <= chunk_size:
            pieces.append((start, block))
            continue
        cursor = start
        for part in sentence_splitter.split_text(block):
            offset = text.find(part, cursor)
            cursor = offset if offset >= 0 else cursor
            pieces.append((cursor, part))
    return _merge_small(pieces, text, chunk_size, chunk_min)


def _blocks(text: str) -> list[tuple[int, str]]:
    """Paragraphs, each section heading starting one, with each list glued to the paragraph that introduces it."""
    blocks: list[tuple[int, str]] = []
    for match in re.finditer(r"[^\n](?:.|\n(?!\s*\n))*", text):
        for start, paragraph in _sections(match.start(), match.group()):
            if blocks and LIST_ITEM.match(paragraph) and _introduces_list(blocks[-1][1]):
                blocks[-1] = (blocks[-1][0], text[blocks[-1][0] : start + len(paragraph)])
            else:
                blocks.append((start, paragraph))
    return blocks


def _sections(start: int, raw: str) -> list[tuple[int, str]]:
    """``raw`` (found at ``start``) cut before each heading line that follows a line of text.

    A PDF or a DOCX often separates its sections by single line breaks only: without this cut, a section's
    heading ("Économie et innovation") ends the previous section's passage instead of opening its own.
    """
    lines = raw.split("\n")
    offsets = list(accumulate((len(line) + 1 for line in lines[:-1]), initial=0))
    headings = [_is_heading(line) for line in lines]
    cuts = [0]
    for number in range(1, len(lines) - 1):
        if headings[number] and not headings[number - 1] and lines[number + 1].strip():
            cuts.append(offsets[number])
    sections = []
    for begin, end in zip(cuts, [*cuts[1:], len(raw)]):
        part = raw[begin:end]
        if part.strip():
            sections.append((start + begin + len(part) - len(part.lstrip()), part.strip()))
    return sections


def _is_heading(line: str) -> bool:
    """A short line that is neither a list item nor ends like a sentence or an introduction."""
    line = line.strip()
    return 0 < len(line) <= MAX_HEADING_CHARS and not LIST_ITEM.match(line) and not SENTENCE_END.search(line)


def _introduces_list(block: str) -> bool:
    """A block ending with ':' or with a list item continues into the next list item."""
    last_line = block.rstrip().split("\n")[-1]
    return last_line.endswith(":") or bool(LIST_ITEM.match(last_line))


def _merge_small(pieces: list[tuple[int, str]], text: str, chunk_size: int, chunk_min: int) -> list[tuple[int, str]]:
    """Merge a passage shorter than ``chunk_min`` into a neighbour."""
    merged: list[tuple[int, str]] = []
    for start, piece in pieces:
        if merged and (len(piece) < chunk_min or len(merged[-1][1]) < chunk_min):
            previous_start = merged[-1][0]
            joined = text[previous_start : start + len(piece)].strip()
            if len(joined) <= max_passage_chars(chunk_size, chunk_min):
                merged[-1] = (previous_start, joined)
                continue
        merged.append((start, piece))
    return merged

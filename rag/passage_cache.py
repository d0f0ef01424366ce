"""Prompts read by llama.cpp in pieces, retrieved passages from stored states.

A question's prompt is the fixed instructions, the retrieved passages and the
question. The passages make up most of it, and the same passages come back
question after question, so each one's llama.cpp state (its keys and values,
~28 KiB per token for Qwen2.5-1.5B in f16) is computed once, right after the
text that precedes the first passage (the *anchor*), and kept in a bounded
cache. A later prompt places the stored state where the passage stands,
shifting its positions, and reads only what lies between the passages and the
question.

Modes (``Settings.passage_cache``):

- ``first``: only the first passage comes from its state. It was computed after
  the very tokens that precede it, so the prompt's state is exactly the one a
  full read gives.
- ``all``: every passage does. A passage then attends to the instructions but not
  to the passages before it (as in TurboRAG / APE): fastest, not exact.
- ``off``: every piece is read.

llama-cpp-python reads a prompt as one token list into sequence 0; the states
are built and restored through sequence 1 with llama.cpp's memory and state
calls, which llama-cpp-python exposes but does not use.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

import numpy as np

log = logging.getLogger(__name__)

Mode = Literal["off", "first", "all"]
SCRATCH = 1  # the sequence a passage's state is built and restored in


@dataclass
class Piece:
    """A stretch of the prompt, tokenized alone; ``passage`` marks a retrieved passage."""

    tokens: list[int]
    passage: bool = False


def split_prompt(prompt: str, passages: list[str], fixed_prefix: str = "") -> list[tuple[str, bool]]:
    """``prompt`` as (text, is passage) stretches: the fixed prefix, then the passages found in order, and the
    text around them. A passage takes the spaces before it and the line breaks after it, which the tokenizer
    reads with its first word and its last punctuation: the pieces then tokenize as the whole prompt does."""
    stretches: list[tuple[str, bool]] = []
    cursor = 0
    if fixed_prefix and prompt.startswith(fixed_prefix):
        stretches.append((fixed_prefix, False))
        cursor = len(fixed_prefix)
    for passage in passages:
        found = prompt.find(passage, cursor) if passage else -1
        if found < 0:
            continue
        start = found
        while start > cursor and prompt[start - 1] in " \t":
            start -= 1
        if start > cursor:
            stretches.append((prompt[cursor:start], False))
        end = found + len(passage)
        while end < len(prompt) and prompt[end] in "\r\n":
            end += 1
        stretches.append((prompt[start:end], True))
        cursor = end
    if cursor < len(prompt):
        stretches.append((prompt[cursor:], False))
    return stretches


class PassageStates:
    """Passage states kept in RAM, least recently used dropped first beyond ``capacity_bytes``.

    Keyed by the anchor's and the passage's tokens: a change of instructions or of
    the passage's text is a new key; each loaded model has its own cache.
    """

    def __init__(self, capacity_bytes: int):
        self.capacity_bytes = capacity_bytes
        self._states: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    @staticmethod
    def key(anchor: list[int], tokens: list[int]) -> str:
        digest = hashlib.sha256(np.asarray(anchor, dtype=np.int32).tobytes())
        digest.update(b"|")
        digest.update(np.asarray(tokens, dtype=np.int32).tobytes())
        return digest.hexdigest()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            state = self._states.get(key)
            if state is not None:
                self._states.move_to_end(key)
            return state

    def put(self, key: str, state: bytes) -> None:
        if len(state) > self.capacity_bytes:
            return
        with self._lock:
            if key in self._states:
                return
            self._states[key] = state
            self._size += len(state)
            while self._size > self.capacity_bytes:
                _, dropped = self._states.popitem(last=False)
                self._size -= len(dropped)

    def discard(self, key: str) -> None:
        with self._lock:
            dropped = self._states.pop(key, None)
            self._size -= len(dropped) if dropped is not None else 0

    def __len__(self) -> int:
        return len(self._states)

    @property
    def size_bytes(self) -> int:
        return self._size


class PromptReader:
    """Reads a prompt's pieces into a ``llama_cpp.Llama`` (its ``n_seq_max`` at least 2), keeping the
    pieces already read and placing passages from ``states`` as ``mode`` says."""

    def __init__(self, llama, states: PassageStates, mode: Mode):
        self.llama = llama
        self.states = states
        self.mode = mode

    def read(self, pieces: list[Piece], fresh_logits: bool = False) -> list[int]:
        """Bring the model's state to the prompt ``pieces`` make; return its tokens.

        Whole pieces already in the state are kept (a piece is always read in one
        go after the same pieces, so keeping it gives the state reading it again
        would): an answer never depends on what was asked before. A prompt naming no
        passages keeps all it shares with the last one. With
        ``fresh_logits`` at least the last token is read, for its logits.
        """
        llama = self.llama
        tokens = [token for piece in pieces for token in piece.tokens]
        in_memory = llama.input_ids[: llama.n_tokens].tolist()
        keep = 0
        for piece in pieces:
            end = keep + len(piece.tokens)
            if in_memory[keep:end] != piece.tokens:
                break
            keep = end
        if not any(piece.passage for piece in pieces):  # a prompt without passages keeps its longest shared start
            keep = llama.longest_token_prefix(in_memory, tokens)
        if fresh_logits:
            keep = min(keep, len(tokens) - 1)
        llama.n_tokens = keep
        llama._ctx.kv_cache_seq_rm(-1, keep, -1)
        anchor_length = next((sum(len(p.tokens) for p in pieces[:i]) for i, p in enumerate(pieces) if p.passage), 0)
        position = 0
        for piece in pieces:
            end = position + len(piece.tokens)
            if end > keep:
                if piece.passage and self._from_state(position, anchor_length):
                    self._place(tokens[:anchor_length], piece.tokens)
                else:
                    llama.eval(piece.tokens[max(0, keep - position) :])
            position = end
        return tokens

    def _from_state(self, position: int, anchor_length: int) -> bool:
        return self.mode == "all" or (self.mode == "first" and position == anchor_length)

    def _place(self, anchor: list[int], tokens: list[int]) -> None:
        """Put ``tokens``' state, computed right after ``anchor``, at the end of sequence 0."""
        llama, ctx = self.llama, self.llama._ctx
        key = self.states.key(anchor, tokens)
        state = self.states.get(key)
        if state is None or not self._restore(state):
            if state is not None:
                self.states.discard(key)
            self.states.misses += 1
            self.states.put(key, self._compute(len(anchor), tokens))
        else:
            self.states.hits += 1
        start = llama.n_tokens
        if start != len(anchor):
            ctx.kv_cache_seq_shift(SCRATCH, len(anchor), len(anchor) + len(tokens), start - len(anchor))
        ctx.kv_cache_seq_cp(SCRATCH, 0, -1, -1)
        ctx.kv_cache_seq_rm(SCRATCH, -1, -1)
        llama.input_ids[start : start + len(tokens)] = tokens
        llama.n_tokens = start + len(tokens)

    def _compute(self, anchor_length: int, tokens: list[int]) -> bytes:
        """Read ``tokens`` in the scratch sequence after the anchor (shared with sequence 0); return the
        scratch sequence's state without the anchor."""
        llama, ctx = self.llama, self.llama._ctx
        ctx.kv_cache_seq_rm(SCRATCH, -1, -1)
        ctx.kv_cache_seq_cp(0, SCRATCH, 0, anchor_length)
        for offset in range(0, len(tokens), llama.n_batch):
            part = tokens[offset : offset + llama.n_batch]
            llama._batch.set_batch(batch=part, n_past=anchor_length + offset, logits_all=False)
            for i in range(len(part)):
                llama._batch.batch.seq_id[i][0] = SCRATCH
            ctx.decode(llama._batch)
        ctx.kv_cache_seq_rm(SCRATCH, 0, anchor_length)
        import llama_cpp

        size = llama_cpp.llama_state_seq_get_size(ctx.ctx, SCRATCH)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(ctx.ctx, buffer, size, SCRATCH)
        return bytes(buffer[:written])

    def _restore(self, state: bytes) -> bool:
        import llama_cpp

        buffer = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
        if llama_cpp.llama_state_seq_set_data(self.llama._ctx.ctx, buffer, len(state), SCRATCH) == 0:
            log.warning("A stored passage state could not be restored; the passage is read again.")
            return False
        return True

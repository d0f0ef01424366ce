"""Prompts read by llama.cpp in pieces, retrieved passages from stored states.

A question's prompt is the fixed instructions, the retrieved passages and the
question. The passages make up most of it, and the same passages come back
question after question, so each one's llama.cpp state (its keys and values,
~28 KiB per token for Qwen2.5-1.5B in f16) is computed once, right after the
text that precedes the first passage (the *anchor*), and kept in a bounded
cache (in RAM, and on disk for later processes). A later prompt places the stored state where the passage stands,
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
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
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

    def __init__(self, llama, states: PassageStates, mode: Mode, files: StateFiles | None = None):
        self.llama = llama
        self.states = states
        self.mode = mode
        self.files = files

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
        if state is None and self.files and (state := self.files.get(key)) is not None:
            self.states.put(key, state)
        if state is None or not self._restore(state):
            if state is not None:
                self.states.discard(key)
                if self.files:
                    self.files.discard(key)
            self.states.misses += 1
            state = self._compute(len(anchor), tokens)
            self.states.put(key, state)
            if self.files:
                self.files.put(key, state)
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
        return sequence_state(llama, SCRATCH)

    def _restore(self, state: bytes) -> bool:
        if not restore_sequence(self.llama, state, SCRATCH):
            log.warning("A stored passage state could not be restored; the passage is read again.")
            return False
        return True


def sequence_state(llama, sequence: int) -> bytes:
    """The llama.cpp state (keys, values, positions) of one sequence of ``llama``'s context."""
    import llama_cpp

    size = llama_cpp.llama_state_seq_get_size(llama._ctx.ctx, sequence)
    buffer = (ctypes.c_uint8 * size)()
    written = llama_cpp.llama_state_seq_get_data(llama._ctx.ctx, buffer, size, sequence)
    return bytes(buffer[:written])


def restore_sequence(llama, state: bytes, sequence: int) -> bool:
    """Put ``state`` in ``sequence`` (replacing what it held); False when llama.cpp refuses it."""
    import llama_cpp

    buffer = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
    return llama_cpp.llama_state_seq_set_data(llama._ctx.ctx, buffer, len(state), sequence) != 0


class StateFiles:
    """llama.cpp states on disk, so that a new process places them instead of reading their text again: the
    fixed instructions' state (the longest read of a cold start) and passage states.

    A folder per model, named by a digest of the model file (path, size, time) and the llama.cpp version;
    in it, a file per state, named by its tokens' digest (a changed text is another file). Beyond
    ``capacity_bytes`` the least recently used files go. A file llama.cpp refuses (damaged, from another
    build) is removed and its text read.
    """

    def __init__(self, directory, model_path: str, capacity_bytes: int):
        import llama_cpp  # only with the llama.cpp backend

        model = os.stat(model_path)
        identity = f"{os.path.abspath(model_path)}|{model.st_size}|{model.st_mtime_ns}|{llama_cpp.__version__}"
        self.directory = Path(directory) / hashlib.sha256(identity.encode()).hexdigest()[:16]
        self.capacity_bytes = capacity_bytes
        self._prefixes_tried: set[str] = set()

    def _path(self, name: str):
        return self.directory / f"{name}.state"

    def get(self, name: str) -> bytes | None:
        path = self._path(name)
        try:
            state = path.read_bytes()
            path.touch()  # recently used: kept longest
            return state
        except OSError:
            return None

    def put(self, name: str, state: bytes) -> None:
        """Store ``state`` (written whole or not at all); a failure to write is only logged."""
        if len(state) > self.capacity_bytes:
            return
        path = self._path(name)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".partial")
            partial.write_bytes(state)
            partial.replace(path)
            self._prune()
        except OSError as error:
            log.warning("A llama.cpp state could not be stored in %s: %s", self.directory, error)

    def discard(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)

    def _prune(self) -> None:
        """Remove the least recently used files beyond the capacity."""
        stats = sorted(((file.stat(), file) for file in self.directory.glob("*.state")), key=lambda s: -s[0].st_mtime)
        total = 0
        for stat, file in stats:
            total += stat.st_size
            if total > self.capacity_bytes:
                file.unlink(missing_ok=True)

    @staticmethod
    def prefix_name(tokens: list[int]) -> str:
        return "prefix-" + hashlib.sha256(np.asarray(tokens, dtype=np.int32).tobytes()).hexdigest()[:32]

    def has_prefix(self, tokens: list[int]) -> bool:
        """Whether the state of ``tokens`` is stored, or this object tried to store it (a state too large for
        the capacity, or a folder it cannot write, is not tried again at every question)."""
        name = self.prefix_name(tokens)
        return name in self._prefixes_tried or self._path(name).is_file()

    def load_prefix(self, llama, tokens: list[int]) -> bool:
        """Place the stored state of ``tokens`` as the whole of sequence 0; False when none is stored."""
        state = self.get(self.prefix_name(tokens))
        if state is None:
            return False
        llama._ctx.kv_cache_seq_rm(-1, -1, -1)
        if not restore_sequence(llama, state, 0):
            log.warning("The stored instructions state was refused; they are read again.")
            llama._ctx.kv_cache_seq_rm(-1, -1, -1)
            self.discard(self.prefix_name(tokens))
            return False
        llama.input_ids[: len(tokens)] = tokens
        llama.n_tokens = len(tokens)
        return True

    def save_prefix(self, llama, tokens: list[int]) -> None:
        """Store sequence 0's state, which must hold exactly ``tokens``."""
        self._prefixes_tried.add(self.prefix_name(tokens))
        self.put(self.prefix_name(tokens), sequence_state(llama, 0))

"""Greedy decoding under a grammar, checking the grammar on the chosen token first.

llama-cpp-python puts the grammar in its sampler chain before the greedy
choice, so at every step the grammar is matched against all ~152k tokens of
the vocabulary: ~20 ms a token here, a third of the generation time. Greedy
decoding only needs to know whether the most likely token is allowed; when it
is (nearly always), it is also the most likely allowed token, so checking it
alone gives the same tokens. Only when it is not is the grammar applied to the
whole vocabulary, as llama.cpp's own ``common_sampler`` does.
"""

from __future__ import annotations

import ctypes
import math

import llama_cpp
import numpy as np


class Llama(llama_cpp.Llama):
    """llama-cpp-python's ``Llama``, its greedy decoding done by ``GreedyGrammarSampler``."""

    def _init_sampler(self, *, temp=0.8, grammar=None, repeat_penalty=1.0, frequency_penalty=0.0,
                      presence_penalty=0.0, logits_processor=None, **rest):
        plain_greedy = temp == 0.0 and logits_processor is None and (
            repeat_penalty, frequency_penalty, presence_penalty) == (1.0, 0.0, 0.0)
        if plain_greedy:
            return GreedyGrammarSampler(self._model, self.n_vocab(), grammar)
        return super()._init_sampler(
            temp=temp, grammar=grammar, repeat_penalty=repeat_penalty, frequency_penalty=frequency_penalty,
            presence_penalty=presence_penalty, logits_processor=logits_processor, **rest,
        )


class GreedyGrammarSampler:
    """What ``Llama.generate`` asks of a sampler (``sample(ctx, idx)``), greedy, with an optional GBNF grammar."""

    def __init__(self, model, n_vocab: int, grammar=None):
        self._n_vocab = n_vocab
        self._grammar = None
        if grammar is not None:
            self._grammar = llama_cpp.llama_sampler_init_grammar(
                model.vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8")
            )
            if not self._grammar:
                raise ValueError("llama.cpp cannot parse the reply grammar")
        self._free = llama_cpp.llama_sampler_free  # kept: module globals may be gone when __del__ runs
        self._one = (llama_cpp.llama_token_data * 1)()
        self._all = None  # the whole vocabulary, made on the first token the grammar refuses

    def sample(self, ctx, idx: int = -1) -> int:
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx.ctx, idx), shape=(self._n_vocab,))
        token = int(logits.argmax())
        if self._grammar is not None:
            if not self._allows(token, float(logits[token])):
                token = self._best_allowed(logits)
            llama_cpp.llama_sampler_accept(self._grammar, token)
        return token

    def _apply(self, data, size: int) -> None:
        candidates = llama_cpp.llama_token_data_array(data=data, size=size, selected=-1, sorted=False)
        llama_cpp.llama_sampler_apply(self._grammar, ctypes.byref(candidates))

    def _allows(self, token: int, logit: float) -> bool:
        self._one[0].id, self._one[0].logit, self._one[0].p = token, logit, 0.0
        self._apply(self._one, 1)
        return not math.isinf(self._one[0].logit)

    def _best_allowed(self, logits: np.ndarray) -> int:
        if self._all is None:  # the grammar only lowers logits: the ids stay in place from one use to the next
            self._all = (llama_cpp.llama_token_data * self._n_vocab)()
            np.ctypeslib.as_array(self._all)["id"] = np.arange(self._n_vocab)
        table = np.ctypeslib.as_array(self._all)
        table["logit"] = logits
        self._apply(self._all, self._n_vocab)
        return int(table["logit"].argmax())  # refused tokens are at -inf; the grammar always allows one

    def __del__(self):
        if self._grammar:
            self._free(self._grammar)
            self._grammar = None

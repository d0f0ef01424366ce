"""Chat model backends, both LangChain chat models, chosen by ``llm_backend``.

- ``llama-cpp`` (default): a GGUF run in-process by llama.cpp; the packaged
  Qwen2.5-Coder-1.5B-Instruct unless ``llm_model`` names another.
- ``openai``: any OpenAI-compatible server at ``openai_base_url``.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from textwrap import shorten
from typing import Any, ClassVar

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from rag.passage_cache import Mode, PassageStates, Piece, PromptReader, StateFiles, split_prompt
from rag.settings import Settings

log = logging.getLogger("llama.cpp")
_log_callbacks: list = []  # the ctypes callback handed to llama.cpp: freed, it would crash the next message
ROLES = {"system": "system", "human": "user", "ai": "assistant"}
STOP = ["<|im_end|>", "<|endoftext|>", "\nQUESTION:", "\nQuestion:"]
# A prompt is read in pieces (the fixed prefix, each passage, the text between): a word cut at a piece's edge
# may take a token more than in the whole prompt, which ``room`` counts.
PIECE_TOKENS = 16


class ChatBackendError(RuntimeError):
    """The chat model could not be reached or loaded; the message says which and where."""


def make_chat_model(settings: Settings) -> BaseChatModel:
    if settings.llm_backend == "openai":
        return _openai_chat_model(settings)
    return _llama_cpp_chat_model(settings)


def _openai_chat_model(settings: Settings) -> BaseChatModel:
    from langchain_openai import ChatOpenAI

    if not settings.openai_base_url:
        raise ChatBackendError("llm_backend is 'openai' but no openai_base_url is set (RAG_OPENAI_BASE_URL).")
    client = ChatOpenAI(
        base_url=settings.openai_base_url,
        api_key=settings.openai_api_key,
        model=settings.llm_model,
        temperature=0,
        max_tokens=settings.max_answer_tokens,
        timeout=settings.llm_timeout_s,
        max_retries=1,
        stop_sequences=STOP,
    )
    return OpenAIServerChat(client=client, base_url=settings.openai_base_url)


def _llama_cpp_chat_model(settings: Settings) -> BaseChatModel:
    llama = load_llama(settings)
    return LlamaCppChat(
        llama=llama, max_tokens=settings.max_answer_tokens, passage_cache=settings.passage_cache,
        state_files=StateFiles(settings.llama_states_dir, llama.model_path, int(settings.llama_states_mb * 2**20)),
    )


def load_llama(settings: Settings):
    """The llama.cpp model ``settings`` name, loaded once per process."""
    from rag.packaged import resolve_gguf

    path = resolve_gguf(settings.llm_model, settings.model_cache_dir)
    return _load_llama(
        str(path), settings.llm_context_tokens, settings.llm_threads, int(settings.passage_cache_mb * 2**20)
    )


@lru_cache(maxsize=2)
def _load_llama(model_path: str, context_tokens: int, threads: int, passage_cache_bytes: int):
    """Load a GGUF once per process; every chatbot using it shares it (its lock and its passage states)."""
    from rag.sampling import Llama

    _llama_cpp_output_to_log()
    try:
        llama = Llama(
            model_path=model_path,
            n_ctx=context_tokens,
            n_batch=512,  # a small batch reads prompts many times slower
            n_threads=threads,
            verbose=False,
        )
    except (ValueError, RuntimeError, OSError) as error:  # llama.cpp reports a bad file or no memory this way
        raise ChatBackendError(
            f"The chat model {model_path} cannot be loaded: the file is damaged or truncated, "
            "or there is not enough memory for it."
        ) from error
    _with_scratch_sequence(llama)
    llama.generation_lock = threading.Lock()  # one context: one generation at a time
    llama.passage_states = PassageStates(passage_cache_bytes)
    return llama


@lru_cache(maxsize=1)
def _llama_cpp_output_to_log() -> None:
    """llama.cpp's messages go to the ``llama.cpp`` logger at debug level (a failure reaches the user as one
    ``ChatBackendError`` line), and llama-cpp-python's way of quieting a model's loading is turned off: it
    points the process's stdout and stderr at /dev/null meanwhile, which swallowed what every other thread
    printed then (a log line, an error message), so nothing could run beside a loading model."""
    import llama_cpp
    from llama_cpp import _internals
    from llama_cpp import llama as llama_module

    @llama_cpp.llama_log_callback
    def to_log(level: int, text: bytes, user_data) -> None:
        log.debug("%s", text.decode("utf-8", "replace").rstrip())

    _log_callbacks.append(to_log)
    llama_cpp.llama_log_set(to_log, ctypes.c_void_p(0))
    for module in (llama_module, _internals):
        module.suppress_stdout_stderr = lambda disable=True: contextlib.nullcontext()


def _with_scratch_sequence(llama) -> None:
    """Give ``llama`` a context of two sequences in one unified cache, the second a scratch space for passage
    states (rag.passage_cache): ``Llama`` offers no ``n_seq_max`` argument, so its context is made again."""
    from llama_cpp import _internals

    params = llama.context_params
    params.n_seq_max, params.kv_unified = 2, True
    llama._ctx.close()
    llama._ctx = _internals.LlamaContext(model=llama._model, params=params, verbose=False)
    llama._stack.callback(llama._ctx.close)


def compiled_cpu_features() -> dict[str, bool]:
    """The CPU features llama.cpp was compiled with, from its system info ("AVX2 = 1 | AMX_INT8 = 1 | ...")."""
    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode()
    return {name: value != "0" for name, value in re.findall(r"([A-Z][A-Z0-9_]*) = (\w+)", info)}


@lru_cache(maxsize=2)
def _chat_formatter(llama):
    """The GGUF's chat template, compiled once per loaded model (compiling it takes ~8 ms)."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    return Jinja2ChatFormatter(
        template=llama.metadata["tokenizer.chat_template"],
        eos_token=llama._model.token_get_text(llama.token_eos()),
        bos_token=llama._model.token_get_text(llama.token_bos()) if llama.token_bos() != -1 else "",
    )


def _chat_messages(messages: list[BaseMessage]) -> list[dict]:
    """LangChain messages as llama.cpp's chat-completion messages."""
    return [{"role": ROLES[m.type], "content": m.content} for m in messages]


class LlamaCppChat(BaseChatModel):
    """A GGUF chat model run in-process by llama-cpp-python, greedy decoding.

    One ``Llama`` object is kept for the life of the model: a prompt is read in
    pieces (rag.passage_cache), keeping the pieces already in llama.cpp's state
    (the fixed instructions and examples) and placing passages from their stored
    states as ``passage_cache`` says.
    """

    llama: Any
    max_tokens: int = 200
    passage_cache: Mode = "first"
    state_files: StateFiles | None = None  # where states are kept between runs

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    supports_grammar: ClassVar[bool] = True

    def _completion(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        stream: bool,
        grammar: str | None = None,
        passages: list[str] = (),
    ):
        """A completion of the prompt ``messages`` make, its ``passages`` read as ``passage_cache`` says."""
        from llama_cpp import LlamaGrammar

        tokens = self._reader().read(self._pieces(messages, passages))
        return self.llama.create_completion(
            prompt=tokens,
            temperature=0.0,
            max_tokens=self.max_tokens,
            stop=[*STOP, *(stop or [])],
            stream=stream,
            grammar=LlamaGrammar.from_string(grammar, verbose=False) if grammar else None,
        )

    def warm_up(self, messages: list[BaseMessage]) -> None:
        """Read the fixed start of every prompt, ``messages`` up to their last (empty) human turn, into
        llama.cpp's state (or place it from ``state_files``): later prompts that start with it read only
        the rest. Already there, it is left as it is, with the prompt read after it: an answer's reply reads
        only what its probability of NONE did not."""
        marker = "\x00"
        text = self._prompt([*messages[:-1], HumanMessage(marker)])
        fixed_prefix = text[: text.index(marker)]
        tokens = self._tokenize(fixed_prefix)
        with self.llama.generation_lock:
            self.llama.fixed_prefix_text = fixed_prefix
            in_state = self.llama.n_tokens >= len(tokens) and self.llama.input_ids[: len(tokens)].tolist() == tokens
            if in_state and (self.state_files is None or self.state_files.has_prefix(tokens)):
                return
            if self.state_files and self.state_files.load_prefix(self.llama, tokens):
                return
            self._reader().read([Piece(tokens)])
            if self.state_files:
                self.state_files.save_prefix(self.llama, tokens)

    def first_word_probability(
        self, messages: list[BaseMessage], reply_start: str, word: str, passages: list[str] = ()
    ) -> float:
        """The probability that the reply to ``messages``, once it has begun with ``reply_start``, goes on with
        ``word``: the model's next-token distribution after the prompt.

        Only the prompt's last token's logits are computed (no ``logits_all``), and the prompt stays in the
        state, so the reply generated next reads only its last token again.
        """
        import numpy as np

        llama = self.llama
        with llama.generation_lock:
            self._reader().read(self._pieces(messages, passages, suffix=reply_start), fresh_logits=True)
            logits = np.ctypeslib.as_array(llama._ctx.get_logits(), shape=(llama.n_vocab(),)).astype(np.float64)
        probabilities = np.exp(logits - logits.max())
        probabilities /= probabilities.sum()
        starts = {llama.tokenize(text.encode(), add_bos=False, special=False)[0] for text in (" " + word, word)}
        return float(sum(probabilities[token] for token in starts))

    def room(self, messages: list[BaseMessage]) -> int:
        """Tokens of the context left once the prompt ``messages`` make and the longest reply are in it;
        negative, those missing (llama.cpp would fail reading it). Counted with the model's own tokenizer,
        in milliseconds, so that a prompt is fitted before any long work."""
        return self.llama.n_ctx() - len(self._tokenize(self._prompt(messages))) - self.max_tokens - PIECE_TOKENS

    def _reader(self) -> PromptReader:
        return PromptReader(self.llama, self.llama.passage_states, self.passage_cache, self.state_files)

    def _pieces(self, messages: list[BaseMessage], passages: list[str], suffix: str = "") -> list[Piece]:
        """The prompt as pieces: the fixed prefix, each passage, and the text between them."""
        text = self._prompt(messages) + suffix
        stretches = split_prompt(text, list(passages), getattr(self.llama, "fixed_prefix_text", ""))
        return [Piece(self._tokenize(stretch), passage) for stretch, passage in stretches]

    def _tokenize(self, text: str) -> list[int]:
        return self.llama.tokenize(text.encode(), add_bos=False, special=True)

    def _prompt(self, messages: list[BaseMessage]) -> str:
        """``messages`` as the prompt text of the GGUF's chat template."""
        return _chat_formatter(self.llama)(messages=_chat_messages(messages)).prompt

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        with self.llama.generation_lock:
            reply = self._completion(messages, stop, stream=False, **kwargs)
        text = reply["choices"][0]["text"] or ""
        return ChatResult(generations=[ChatGeneration(message=AIMessage(text))])

    def _stream(self, messages, stop=None, run_manager=None, **kwargs) -> Iterator[ChatGenerationChunk]:
        with self.llama.generation_lock:
            replied = False
            for part in self._completion(messages, stop, stream=True, **kwargs):
                text = part["choices"][0]["text"]
                if text:
                    replied = True
                    chunk = ChatGenerationChunk(message=AIMessageChunk(text))
                    if run_manager:
                        run_manager.on_llm_new_token(text, chunk=chunk)
                    yield chunk
            if not replied:  # the model ended at once: an empty reply, not LangChain's "no generation chunks"
                yield ChatGenerationChunk(message=AIMessageChunk(""))


class OpenAIServerChat(BaseChatModel):
    """A chat model on an OpenAI-compatible server (a LangChain ``ChatOpenAI``).

    A server that cannot be reached, or does not answer in time, raises
    ``ChatBackendError`` naming its URL instead of the client's own error.
    """

    client: Any
    base_url: str
    # No ``room``: the tokenizer and context are the server's, so prompts go as they are (an overflow is its 400).

    @property
    def _llm_type(self) -> str:
        return "openai-server"

    @contextmanager
    def _reaching_server(self):
        import openai

        try:
            yield
        except openai.APIConnectionError as error:
            raise ChatBackendError(f"The chat model server at {self.base_url} cannot be reached: {error}") from error
        except openai.APIError as error:  # a wrong model name (404), key (401), a server fault (5xx), or mid-stream
            what = f"answered {error.status_code}" if isinstance(error, openai.APIStatusError) else "failed"
            reason = shorten(str(error.message), 300, placeholder=" …")
            raise ChatBackendError(f"The chat model server at {self.base_url} {what}: {reason}") from error
        except ValueError as error:  # LangChain's words for a reply it cannot read ("No generation chunks were
            # returned", an error in a reply that says 200): the messages are this program's, never at fault
            reason = shorten(str(error), 300, placeholder=" …")
            raise ChatBackendError(
                f"The chat model server at {self.base_url} sent no usable reply: {reason}"
            ) from error

    def warm_up(self, messages: list[BaseMessage]) -> None:
        """Nothing to do here: the server loads its model and keeps its own cache."""

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        with self._reaching_server():
            message = self.client.invoke(messages, stop=stop, **kwargs)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(self, messages, stop=None, run_manager=None, **kwargs) -> Iterator[ChatGenerationChunk]:
        with self._reaching_server():
            for part in self.client.stream(messages, stop=stop, **kwargs):
                chunk = ChatGenerationChunk(message=part)
                if run_manager:
                    run_manager.on_llm_new_token(part.content, chunk=chunk)
                yield chunk

"""Passages placed from stored llama.cpp states: the pieces of a prompt, the bounded store, and with the real
model, that the exact mode gives exactly the state a full read gives and that no mode lets an answer depend on
what was asked before."""

import numpy as np
import pytest

from conftest import article_paragraphs
from rag import prompts
from rag.passage_cache import PassageStates, split_prompt

PROMPT = "<sys>rules</sys><user>Passages:\n[1] [Title]\nFirst passage.\n\n[2]  Second one.\n\nQuestion: why?"


def test_a_prompt_splits_into_its_fixed_prefix_passages_and_the_text_between():
    stretches = split_prompt(PROMPT, ["[Title]\nFirst passage.", "Second one.", "absent"], "<sys>rules</sys>")
    assert "".join(text for text, _ in stretches) == PROMPT
    assert stretches == [
        ("<sys>rules</sys>", False),
        ("<user>Passages:\n[1]", False),
        (" [Title]\nFirst passage.\n\n", True),
        ("[2]", False),
        ("  Second one.\n\n", True),
        ("Question: why?", False),
    ]


def test_a_passage_found_only_before_the_previous_one_is_read_as_text():
    stretches = split_prompt(PROMPT, ["Second one.", "[Title]\nFirst passage."])
    assert "".join(text for text, _ in stretches) == PROMPT
    assert [text for text, passage in stretches if passage] == ["  Second one.\n\n"]


def test_the_store_drops_the_least_recently_used_states_beyond_its_capacity():
    states = PassageStates(capacity_bytes=100)
    for name in "abc":
        states.put(name, name.encode() * 40)
    assert states.get("a") is None and len(states) == 2 and states.size_bytes == 80
    states.get("b")
    states.put("d", b"d" * 40)
    assert states.get("b") is not None and states.get("c") is None
    states.put("huge", b"x" * 101)
    assert states.get("huge") is None and states.size_bytes <= 100


def test_a_changed_passage_or_changed_instructions_is_a_new_state():
    key = PassageStates.key([1, 2], [3, 4])
    assert key == PassageStates.key([1, 2], [3, 4])
    assert key != PassageStates.key([1, 2], [3, 5]) and key != PassageStates.key([1, 9], [3, 4])
    assert PassageStates.key([1, 2, 3], [4]) != PassageStates.key([1, 2], [3, 4])


def _logits_after(chat, passages: list[str], question: str) -> np.ndarray:
    messages = prompts.answer_messages(passages, question, "fr", [])
    with chat.llama.generation_lock:
        chat._reader().read(chat._pieces(messages, passages, suffix="ANSWER:"), fresh_logits=True)
        return np.ctypeslib.as_array(chat.llama._ctx.get_logits(), shape=(chat.llama.n_vocab(),)).copy()


@pytest.mark.slow
def test_passages_from_stored_states_give_the_state_of_a_full_read_in_exact_mode():
    from rag.llm import make_chat_model
    from rag.settings import Settings

    paragraphs = article_paragraphs()
    asked, other = paragraphs[:3], paragraphs[3:6]
    question = "Qui a signé l'accord ?"
    read_in_full = make_chat_model(Settings(passage_cache="off"))
    read_in_full.warm_up(prompts.fixed_prefix())
    _logits_after(read_in_full, other, question)
    full = _logits_after(read_in_full, asked, question)

    states = read_in_full.llama.passage_states
    hits = states.hits
    exact = make_chat_model(Settings(passage_cache="first"))
    for passages in (other, asked, other):  # each first passage's state is stored, then the prompt changes
        _logits_after(exact, passages, question)
    assert np.array_equal(_logits_after(exact, asked, question), full)
    assert states.hits > hits

    placed = make_chat_model(Settings(passage_cache="all"))
    _logits_after(placed, other, question)  # the model's memory no longer holds a state of the exact mode
    first = _logits_after(placed, asked, question)
    _logits_after(placed, other, question)
    again = _logits_after(placed, asked, question)
    assert np.array_equal(first, again), "an answer depends on the question asked before it"
    assert int(np.argmax(again)) == int(np.argmax(full))


@pytest.mark.slow
def test_a_prompt_read_in_pieces_has_the_tokens_of_the_whole_prompt():
    from rag.llm import make_chat_model
    from rag.settings import Settings

    chat = make_chat_model(Settings())
    chat.warm_up(prompts.fixed_prefix())
    passages = article_paragraphs()[:4]
    messages = prompts.answer_messages(passages, "Who signed the accord?", "en", [])
    pieces = chat._pieces(messages, passages)
    assert sum(piece.passage for piece in pieces) == len(passages)
    assert [token for piece in pieces for token in piece.tokens] == chat._tokenize(chat._prompt(messages))


def test_state_files_are_kept_per_model_file_and_the_least_recently_used_go_first(tmp_path):
    import os

    from rag.passage_cache import StateFiles

    model = tmp_path / "model.gguf"
    model.write_bytes(b"weights")
    files = StateFiles(tmp_path / "states", str(model), capacity_bytes=100)
    assert StateFiles.prefix_name([1, 2, 3]) != StateFiles.prefix_name([1, 2, 4])
    for age, name in enumerate("abc"):
        files.put(name, name.encode() * 40)
        os.utime(files._path(name), (1000 + age, 1000 + age))
    assert files.get("a") is None and files.get("b") == b"b" * 40  # "b" is now the most recently used
    files.put("d", b"d" * 40)
    assert files.get("c") is None and files.get("b") is not None and files.get("d") is not None
    assert not list(files.directory.glob("*.partial"))
    model.write_bytes(b"other weights")
    assert StateFiles(tmp_path / "states", str(model), 100).get("d") is None  # another model file, other states


def _emptied(llama):
    """``llama`` with nothing in its state, as a new process has it."""
    llama._ctx.kv_cache_seq_rm(-1, -1, -1)
    llama.n_tokens = 0
    return llama


@pytest.mark.slow
def test_instructions_placed_from_their_stored_state_give_the_state_of_a_full_read(tmp_path):
    from rag.llm import make_chat_model
    from rag.settings import Settings

    passages, question = article_paragraphs()[:3], "Qui a signé l'accord ?"
    chat = make_chat_model(Settings(passage_cache="off", data_dir=tmp_path))
    _emptied(chat.llama)
    chat.warm_up(prompts.fixed_prefix())
    [stored] = (tmp_path / "llama-states").glob("*/prefix-*.state")
    full = _logits_after(chat, passages, question)

    def no_reading(tokens):
        raise AssertionError("the instructions were read again")

    _emptied(chat.llama).eval = no_reading
    try:
        chat.warm_up(prompts.fixed_prefix())
    finally:
        del chat.llama.eval
    assert np.array_equal(_logits_after(chat, passages, question), full)

    stored.write_bytes(stored.read_bytes()[:4096])  # a damaged file is set aside and the instructions read
    _emptied(chat.llama)
    chat.warm_up(prompts.fixed_prefix())
    assert np.array_equal(_logits_after(chat, passages, question), full)
    assert stored.stat().st_size > 4096


@pytest.mark.slow
def test_a_passage_state_stored_on_disk_serves_a_later_process_exactly(tmp_path):
    from rag.llm import make_chat_model
    from rag.passage_cache import PassageStates
    from rag.settings import Settings

    passages, question = article_paragraphs()[:3], "Qui a signé l'accord ?"
    chat = make_chat_model(Settings(passage_cache="first", data_dir=tmp_path))
    chat.warm_up(prompts.fixed_prefix())
    chat.llama.passage_states = PassageStates(2**28)
    full = _logits_after(chat, passages, question)
    assert len(list((tmp_path / "llama-states").glob("*/*.state"))) == 2  # the instructions and the first passage

    chat.llama.passage_states = fresh = PassageStates(2**28)  # a new process: nothing in RAM
    _emptied(chat.llama)
    chat.warm_up(prompts.fixed_prefix())
    assert np.array_equal(_logits_after(chat, passages, question), full)
    assert (fresh.hits, fresh.misses) == (1, 0)


@pytest.mark.slow
@pytest.mark.parametrize("states_mb", [1024.0, 0.0], ids=["states-on-disk", "no-room-on-disk"])
def test_an_answer_reads_its_prompt_once(tmp_path, states_mb):
    """The probability of NONE reads the prompt (after the instructions); the reply after it reads none of it
    again, whether or not the instructions' state could be stored on disk."""
    from rag.answering import Answerer
    from rag.llm import make_chat_model
    from rag.retrieval import Source
    from rag.settings import Settings

    chat = make_chat_model(Settings(data_dir=tmp_path, llama_states_mb=states_mb))
    answerer = Answerer(chat)
    answerer.read_instructions()
    sources = [Source("article.txt", text, 0.5) for text in article_paragraphs()[:3]]
    context, decode = chat.llama._ctx, chat.llama._ctx.decode
    read: list[int] = []
    context.decode = lambda batch: read.append(batch.n_tokens()) or decode(batch)
    try:
        answer = list(answerer.stream("Qui a signé l'accord ?", "fr", sources, []))[-1]
    finally:
        del context.decode
    messages = prompts.answer_messages([s.labelled for s in sources], "Qui a signé l'accord ?", "fr", [])
    prompt = len(chat._tokenize(chat._prompt(messages) + "ANSWER:")) - len(chat._tokenize(chat.llama.fixed_prefix_text))
    prompt_read = sum(n for n in read if n > 1)  # one token at a time: the reply being generated
    assert answer.answered and answer.model_calls == 1
    assert prompt_read <= prompt, f"{prompt_read} tokens read for a prompt of {prompt}: some were read twice"

"""Greedy decoding that checks the grammar on the chosen token first gives exactly the tokens of
llama-cpp-python's own sampler chain (grammar over the whole vocabulary, then greedy), with the real model."""

import functools

import pytest

from conftest import article_paragraphs
from rag import grounding

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def llama():
    from rag.llm import load_llama
    from rag.settings import Settings

    return load_llama(Settings())


def _completion(llama, prompt: str, grammar: str, library_sampler: bool) -> str:
    import llama_cpp

    if library_sampler:
        llama._init_sampler = functools.partial(llama_cpp.Llama._init_sampler, llama)
    try:
        llama.reset()  # from an empty cache: a prompt re-read in other batches can change a near tie
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(llama.ctx), True)
        reply = llama.create_completion(
            prompt=prompt, temperature=0.0, max_tokens=48,
            grammar=llama_cpp.LlamaGrammar.from_string(grammar, verbose=False),
        )
        return reply["choices"][0]["text"]
    finally:
        llama.__dict__.pop("_init_sampler", None)


@pytest.mark.parametrize("question", ["Qui a signé l'accord ?", "What will the two cities fund?"])
def test_the_reply_grammar_gives_the_tokens_of_the_library_sampler(llama, question):
    passages = article_paragraphs()[:3]
    prompt = "Passages:\n" + "\n\n".join(passages) + f"\n\nQuestion: {question}\nANSWER: <answer>\nQUOTE: <quote>\n"
    grammar = grounding.reply_grammar(passages)
    ours = _completion(llama, prompt, grammar, library_sampler=False)
    assert ours.startswith("ANSWER: ") and ours == _completion(llama, prompt, grammar, library_sampler=True)


def test_a_token_the_grammar_refuses_is_replaced_by_the_best_one_it_allows(llama):
    grammar = 'root ::= "Zq" [0-9] [0-9] " " [a-z]+ "."\n'
    prompt = "The capital of France is"
    ours = _completion(llama, prompt, grammar, library_sampler=False)
    assert ours.startswith("Zq") and ours == _completion(llama, prompt, grammar, library_sampler=True)


def test_a_model_that_ends_at_once_streams_an_empty_reply_not_an_error():
    from langchain_core.messages import HumanMessage

    from rag.llm import make_chat_model
    from rag.settings import Settings

    chat = make_chat_model(Settings())
    pieces = list(chat.stream([HumanMessage("Say hello.")], grammar='root ::= ""\n'))
    assert "".join(piece.content for piece in pieces) == ""

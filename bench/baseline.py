"""The baseline: LangChain's RAG tutorial pipeline, with the product's embedding and chat models.

RecursiveCharacterTextSplitter (1000 characters, 200 overlap), Chroma
similarity search (k=4) and the tutorial's prompt; no BM25, no grounding
checks, no conversation history.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from langchain_chroma import Chroma
from langchain_core.prompts import ChatPromptTemplate
from langchain_text_splitters import RecursiveCharacterTextSplitter

from rag.answering import Answer
from rag.documents import corpus_files, load_file
from rag.embeddings import make_embeddings
from rag.grounding import says_not_in_passages
from rag.language import detect_language
from rag.llm import make_chat_model
from rag.retrieval import Source
from rag.settings import Settings

PROMPT = ChatPromptTemplate.from_messages([(
    "human",
    "You are an assistant for question-answering tasks. Use the following pieces of retrieved context to answer "
    "the question. If you don't know the answer, just say that you don't know. Use three sentences maximum and "
    "keep the answer concise.\nQuestion: {question} \nContext: {context} \nAnswer:",
)])


class BaselineRAG:
    """Index ``corpus_dir`` into a Chroma store in ``data_dir``, then answer with the tutorial chain."""

    def __init__(self, corpus_dir: Path, data_dir: Path, settings: Settings | None = None):
        settings = settings or Settings()
        self.store = Chroma(
            collection_name="baseline", embedding_function=make_embeddings(settings), persist_directory=str(data_dir)
        )
        self.chat_model = make_chat_model(settings)
        documents = [load_file(path, path.relative_to(corpus_dir).as_posix()) for path in corpus_files(corpus_dir)]
        self.languages = {document.metadata["source"]: document.metadata["language"] for document in documents}
        splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
        self.store.add_documents(splitter.split_documents(documents))

    def _prompt(self, question: str, passages: list):
        context = "\n\n".join(passage.page_content for passage in passages)
        return PROMPT.invoke({"question": question, "context": context})

    def stream(self, question: str) -> Iterator[str]:
        passages = self.store.similarity_search(question, k=4)
        for chunk in self.chat_model.stream(self._prompt(question, passages)):
            yield chunk.content

    def ask(self, question: str, history=None) -> Answer:
        """The tutorial chain's answer, shaped like the product's for ``rag.evaluation`` (history is ignored).

        The tutorial has no refusal signal: an answer that says it does not know counts as a refusal.
        """
        started = time.perf_counter()
        passages = self.store.similarity_search(question, k=4)
        text = self.chat_model.invoke(self._prompt(question, passages)).content.strip()
        sources = [Source.from_document(passage, 0.0) for passage in passages]
        answered = not says_not_in_passages(text)
        return Answer(text, detect_language(question), answered, sources, seconds=time.perf_counter() - started)

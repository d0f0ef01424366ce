"""Bilingual (French/English) question answering over a folder of press documents.

    from rag import Chatbot
    bot = Chatbot(corpus_dir="corpus", data_dir=".rag")
    bot.index()
    answer = bot.ask("Qui a signé l'accord ?")
    print(answer.text, [s.document for s in answer.sources])
"""

from rag.answering import Answer
from rag.chatbot import Chatbot
from rag.indexing import IndexReport
from rag.retrieval import Source
from rag.settings import Settings

__all__ = ["Answer", "Chatbot", "IndexReport", "Settings", "Source"]

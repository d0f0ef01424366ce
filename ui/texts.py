"""The web app's own words in English and French.

Labels are drawn by the browser in its language (Gradio's ``I18n``: French for a French browser, English for
any other); messages written on the server (what an action did, why it was refused) follow the first language
of the request's ``Accept-Language``, which the same browser sends.
"""

from __future__ import annotations

import gradio as gr

from rag.documents import SUPPORTED_SUFFIXES
from rag.language import LANGUAGES

FILE_TYPES = " ".join(sorted(SUPPORTED_SUFFIXES))

TEXTS: dict[str, dict[str, str]] = {
    # Labels
    "header": {
        "en": "# Ask the press documents\nAsk in English or French: answers come only from the documents, with "
        "their sources.",
        "fr": "# Interrogez les documents de presse\nPosez vos questions en français ou en anglais : les réponses "
        "viennent uniquement des documents, sources à l'appui.",
    },
    "question": {"en": "Your question…", "fr": "Votre question…"},
    "tab_chat": {"en": "Chat", "fr": "Questions"},
    "tab_documents": {"en": "Documents", "fr": "Documents"},
    "reindex_button": {"en": "Re-index the corpus", "fr": "Réindexer le corpus"},
    "password": {"en": "Admin password", "fr": "Mot de passe administrateur"},
    "upload": {"en": f"Add documents ({FILE_TYPES})", "fr": f"Ajouter des documents ({FILE_TYPES})"},
    "replace": {"en": "Replace documents of the same name", "fr": "Remplacer les documents du même nom"},
    "add_button": {"en": "Add to the corpus", "fr": "Ajouter au corpus"},
    "delete_choice": {"en": "Document to delete", "fr": "Document à supprimer"},
    "delete_button": {"en": "Delete the document", "fr": "Supprimer le document"},
    "confirm_button": {"en": "Yes, delete it", "fr": "Oui, le supprimer"},
    "cancel_button": {"en": "Cancel", "fr": "Annuler"},
    "access_password": {
        "en": "Adding, deleting and re-indexing documents need the admin password.",
        "fr": "Le mot de passe administrateur est nécessaire pour ajouter, supprimer ou réindexer des documents.",
    },
    "access_local": {
        "en": "Adding, deleting and re-indexing documents are open to this computer only (not through a proxy): "
        "set `RAG_ADMIN_PASSWORD` to allow them from elsewhere.",
        "fr": "Ajouter, supprimer ou réindexer des documents n'est possible que depuis cet ordinateur (pas à travers "
        "un proxy) : définissez `RAG_ADMIN_PASSWORD` pour l'autoriser depuis d'autres ordinateurs.",
    },
    # Written on the server: the table's headers, and messages (values in braces are escaped by the caller)
    "columns": {"en": "Document|Title|Language|Passages|Last indexed", "fr": "Document|Titre|Langue|Passages|Dernière indexation"},
    "reindexed": {"en": "Corpus re-indexed: {summary}.", "fr": "Corpus réindexé — {summary}."},
    "index_updated": {"en": "Index updated: {summary}.", "fr": "Index mis à jour — {summary}."},
    "index_failed": {
        "en": "The index was not updated ({reason}): re-index the corpus once that is mended.",
        "fr": "L'index n'a pas été mis à jour ({reason}) : réindexez le corpus une fois le problème réglé.",
    },
    "choose_files": {"en": "Choose one or more files first.", "fr": "Choisissez d'abord un ou plusieurs fichiers."},
    "unreadable": {
        "en": "- **{name}** cannot be read ({reason}): not added.",
        "fr": "- **{name}** ne peut pas être lu ({reason}) : non ajouté.",
    },
    "exists": {
        "en": "- {error} Tick *Replace documents of the same name* to replace it.",
        "fr": "- {error} Cochez *Remplacer les documents du même nom* pour le remplacer.",
    },
    "added": {"en": "- Added **{name}**.", "fr": "- **{name}** ajouté."},
    "choose_document": {"en": "Choose a document to delete first.", "fr": "Choisissez d'abord un document à supprimer."},
    "confirm_delete": {
        "en": "Delete **{name}**? This removes the file from the corpus folder.",
        "fr": "Supprimer **{name}** ? Le fichier sera retiré du dossier du corpus.",
    },
    "deleted": {"en": "Deleted **{name}**.", "fr": "**{name}** supprimé."},
    "not_reindexed": {"en": "Not re-indexed", "fr": "Corpus non réindexé"},
    "nothing_added": {"en": "Nothing added", "fr": "Rien n'a été ajouté"},
    "nothing_deleted": {"en": "Nothing deleted", "fr": "Rien n'a été supprimé"},
    "refused": {"en": "**{not_done}:** {reason}", "fr": "**{not_done} :** {reason}"},
    "failed": {"en": "**{not_done}, it failed:** {reason}", "fr": "**{not_done}, l'opération a échoué :** {reason}"},
}

I18N = gr.I18n(**{language: {key: text[language] for key, text in TEXTS.items()} for language in LANGUAGES})


def label(key: str):
    """A label the browser shows in its own language."""
    return I18N(key)


def say(key: str, language: str, **values) -> str:
    """A message in ``language`` (English unless French), with ``values`` put in."""
    return TEXTS[key]["fr" if language == "fr" else "en"].format(**values)


def column_headers(language: str) -> list[str]:
    """The documents table's headers in ``language``."""
    return say("columns", language).split("|")


def reader_language(request: gr.Request | None) -> str:
    """"fr" when the browser's first language is French (``Accept-Language: fr-CA,fr;q=0.9,en;q=0.8``), else
    "en": as the labels, which the browser draws in its first language (``navigator.language``, the first of the
    list it sends), English for a language the app has no words for."""
    header = request.headers.get("accept-language", "") if request is not None else ""
    first = header.split(",")[0].split(";")[0].strip().lower()
    return "fr" if first.split("-")[0] == "fr" else "en"

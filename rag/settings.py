"""One settings object for the whole product.

Values come, highest priority first, from keyword arguments, environment
variables prefixed ``RAG_`` (``RAG_TOP_K=6``), a TOML file (``rag.toml`` in
the working directory, or the path in ``RAG_CONFIG``), then the defaults
below, which work offline out of the box.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAG_", extra="forbid")  # a misspelt setting is an error

    def __init__(self, **values):
        try:
            super().__init__(**values)
        except ValidationError as error:  # pydantic's report is a page long: one line naming each setting
            raise ValueError(f"Bad settings: {'; '.join(_problem(detail) for detail in error.errors())}.") from None

    # Where things live
    corpus_dir: Path = Field(Path("corpus"), description="Folder of documents to answer from.")
    data_dir: Path = Field(Path(".rag"), description="Folder for the vector store and index records.")
    model_cache_dir: Path = Field(
        Path.home() / ".cache" / "rag-press",
        description="Where packaged model weights are assembled once.",
    )
    collection: str = "press"

    # Embeddings: "use-multilingual" (default, packaged), "e5-small" (packaged,
    # needs the [e5] extra), or any sentence-transformers model name or path.
    embedding_model: str = "use-multilingual"
    embedding_query_prompt: str | None = None
    embedding_document_prompt: str | None = None

    # Chat model: "llama-cpp" runs a GGUF in-process; "openai" talks to any
    # OpenAI-compatible server (Ollama /v1, vLLM, llama.cpp server, hosted APIs).
    llm_backend: Literal["llama-cpp", "openai"] = "llama-cpp"
    llm_model: str = Field(
        "qwen2.5-coder-1.5b",
        description="Packaged model name (qwen2.5-coder-1.5b, qwen2.5-coder-0.5b), a GGUF path, "
        "or the model name on the OpenAI-compatible server.",
    )
    openai_base_url: str | None = None
    openai_api_key: str = "not-needed"
    llm_threads: int = Field(default_factory=lambda: os.cpu_count() or 2)
    llm_context_tokens: int = 4096
    max_answer_tokens: int = 200
    passage_cache: Literal["off", "first", "all"] = Field(
        "first",
        description="Passages placed from their stored llama.cpp states instead of read again: the first one "
        "(the same answer as reading it), all (faster, each passage read apart from the others), or off.",
    )
    passage_cache_mb: float = Field(256.0, description="RAM for stored passage states (~28 KiB per token).")
    llama_states_mb: float = Field(
        1024.0, description="Disk (in data_dir) for the instructions' and passages' llama.cpp states, kept between runs."
    )
    llm_timeout_s: float = 120.0

    # Chroma server: when a host is set the store is remote (chromadb.HttpClient).
    chroma_host: str | None = None
    chroma_port: int = 8000
    chroma_timeout_s: float = Field(30.0, description="Longest wait for one reply of the Chroma server.")

    # Chunking and retrieval
    chunk_size: int = Field(600, description="Target passage length in characters.")
    chunk_min: int = Field(150, description="Passages shorter than this are merged with a neighbour.")
    top_k: int = Field(4, description="Passages given to the chat model.")
    candidates: int = Field(12, description="Passages fetched from each retriever before fusion.")

    # Web UI: uploading and deleting documents needs this password when set;
    # without one they are allowed only while the server listens on localhost.
    admin_password: str | None = None
    # Answers generated at once (one per in-process llama.cpp model) and questions allowed to wait.
    ui_concurrency: int = 1
    ui_queue_size: int = 64

    # Answering
    max_model_calls: int = Field(3, description="Most chat model calls for one question (the answer and its repairs).")
    worked_examples: bool = Field(True, description="Show the chat model worked examples before the question.")
    history_turns: int = Field(3, description="Earlier turns of a conversation given with a question.")
    answer_cache_size: int = Field(256, description="Answers kept for questions asked again over the same passages.")
    abstain_threshold: float = Field(
        0.5, description="The answer is refused when the chat model gives NONE this probability or more (llama.cpp)."
    )

    # Limits on input
    max_question_chars: int = 2000
    max_file_mb: float = 20.0
    max_text_mb: float = Field(50.0, description="Most text one file may expand to (millions of characters).")
    max_parse_s: float = Field(60.0, description="Longest time parsing one PDF or DOCX file may take.")

    @field_validator("top_k", "candidates", "chunk_size", "max_question_chars", "max_model_calls", "chroma_timeout_s")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("must be positive")
        return value

    @field_validator("embedding_model", "llm_model", mode="before")
    @classmethod
    def _path_as_text(cls, value):
        return str(value) if isinstance(value, Path) else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = Path(os.environ.get("RAG_CONFIG", "rag.toml"))
        if "RAG_CONFIG" in os.environ and (not toml_file.exists() or toml_file.is_dir()):  # /dev/null will do
            raise ValueError(f"RAG_CONFIG names {toml_file}, which is not a file.")
        try:
            toml_settings = TomlConfigSettingsSource(settings_cls, toml_file=toml_file)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"{toml_file}: {error}") from None
        return init_settings, env_settings, toml_settings

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def llama_states_dir(self) -> Path:
        return self.data_dir / "llama-states"

    @property
    def record_db(self) -> Path:
        return self.data_dir / "index-records.sqlite"


def _problem(detail: dict) -> str:
    name = ".".join(str(part) for part in detail["loc"])
    if detail["type"] == "extra_forbidden":
        return f"{name} is not a setting"
    return f"{name} (an argument, RAG_{name.upper()} or the TOML file): {detail['msg']}"

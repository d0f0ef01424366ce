"""Settings: arguments over RAG_* variables over rag.toml, and a bad setting named in one line."""

import pytest

from rag.settings import Settings


@pytest.fixture
def config(tmp_path, monkeypatch):
    path = tmp_path / "rag.toml"
    monkeypatch.setenv("RAG_CONFIG", str(path))
    return path


def test_arguments_win_over_variables_which_win_over_the_file(config, monkeypatch):
    config.write_text("top_k = 6\nchunk_size = 800\nhistory_turns = 2\n", encoding="utf-8")
    monkeypatch.setenv("RAG_CHUNK_SIZE", "700")

    settings = Settings(history_turns=5)

    assert (settings.top_k, settings.chunk_size, settings.history_turns) == (6, 700, 5)


@pytest.mark.parametrize(
    "toml, variables, message",
    [
        ("topk = 3\n", {}, "Bad settings: topk is not a setting."),
        ("", {"RAG_TOP_K": "many"}, "Bad settings: top_k (an argument, RAG_TOP_K or the TOML file): Input should be a valid integer"),
        ("", {"RAG_TOP_K": "0"}, "Bad settings: top_k (an argument, RAG_TOP_K or the TOML file): Value error, must be positive."),
        ("top_k = \n", {}, "rag.toml: Invalid value (at line 1, column 9)"),
    ],
)
def test_a_bad_setting_is_named_in_one_line(config, monkeypatch, toml, variables, message):
    config.write_text(toml, encoding="utf-8")
    for name, value in variables.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(ValueError) as raised:
        Settings()

    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_a_config_file_named_but_missing_is_an_error(config, monkeypatch):
    with pytest.raises(ValueError, match="RAG_CONFIG names .*rag.toml, which is not a file"):
        Settings()
    monkeypatch.setenv("RAG_CONFIG", "/dev/null")  # no configuration
    assert Settings().top_k == 4

from __future__ import annotations

from pathlib import Path

import pytest

from bluelamp.errors import ConfigError
from bluelamp.settings import load_settings


def test_environment_overrides_yaml_which_overrides_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "bluelamp.yaml"
    config.write_text(
        "web:\n  port: 8181\n  host: 0.0.0.0\nsearch:\n  index_prefix: force1\n", encoding="utf-8"
    )
    monkeypatch.setenv("BLUELAMP_CONFIG", str(config))
    monkeypatch.setenv("BLUELAMP_WEB_PORT", "8282")
    monkeypatch.setenv("BLUELAMP_SEARCH_URL", "https://search.example:9200")
    monkeypatch.setenv("BLUELAMP_SEARCH_API_KEY", "secret-key")
    monkeypatch.setenv("BLUELAMP_DATA_DIR", str(tmp_path / "data"))
    settings = load_settings()
    assert settings.web.port == 8282  # env beats YAML
    assert settings.web.host == "0.0.0.0"  # YAML kept where env is silent
    assert settings.search.index_prefix == "force1"
    assert settings.search.url == "https://search.example:9200"
    assert settings.data_dir == tmp_path / "data"
    assert settings.engine.heap_mb == 512  # default
    assert "secret-key" not in repr(settings)  # secrets never printed


def test_invalid_config_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "bluelamp.yaml"
    config.write_text("web:\n  port: lots\nunknown_section: 1\n", encoding="utf-8")
    monkeypatch.setenv("BLUELAMP_CONFIG", str(config))
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert "web.port" in message and "unknown_section" in message


def test_missing_config_file_named_by_env_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLUELAMP_CONFIG", "/nonexistent/bluelamp.yaml")
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings()


def test_the_shipped_yaml_matches_the_built_in_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    repo = Path(__file__).resolve().parents[2]
    monkeypatch.setenv("BLUELAMP_CONFIG", str(repo / "config" / "bluelamp.yaml"))
    from_yaml = load_settings()
    monkeypatch.delenv("BLUELAMP_CONFIG")
    monkeypatch.chdir("/")  # no config/bluelamp.yaml here: built-in defaults only
    defaults = load_settings()
    assert from_yaml.model_dump(exclude={"data_dir"}) == defaults.model_dump(exclude={"data_dir"})


def test_spool_sync_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLUELAMP_SPOOL_SYNC", "FULL")
    assert load_settings().spool.sync == "FULL"
    monkeypatch.setenv("BLUELAMP_SPOOL_SYNC", "sometimes")
    with pytest.raises(ConfigError, match=r"spool\.sync"):
        load_settings()

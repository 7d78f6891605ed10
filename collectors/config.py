"""The list of sources to collect from (``config/sources.yaml``), validated.

Each source has a unique ``name``, a ``kind`` (the platform module that
collects it), how often to poll it and kind-specific ``options``. Errors name
the source and the field, e.g.
``config/sources.yaml: source 'gmp-news' (sources[0]): url: must be http(s)``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated, Any, Union
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from bluelamp.errors import ConfigError
from collectors import registry
from collectors.base import MAX_BODY_BYTES, FetchPolicy

DEFAULT_SOURCES = Path("config/sources.yaml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def http_url(value: str) -> str:
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    return value


class SourceBase(_Strict):
    """Fields every source has. A kind's model subclasses this and adds
    ``kind: Literal["<kind>"]`` and its own fields (see collectors.registry)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    enabled: bool = True
    interval_s: float = Field(300.0, ge=5, le=7 * 86_400)
    timeout_s: float = Field(30.0, gt=0, le=600)
    max_body_bytes: int = Field(MAX_BODY_BYTES, ge=1024, le=200 * 1024 * 1024)

    def fetch_policy(self, **overrides: Any) -> FetchPolicy:
        settings: dict[str, Any] = {
            "total_timeout_s": self.timeout_s,
            "connect_timeout_s": min(10.0, self.timeout_s),
            "max_body_bytes": self.max_body_bytes,
        }
        settings.update(overrides)
        return FetchPolicy(**settings)


@cache
def _sources_file_model() -> type[BaseModel]:
    models = tuple(registry.source_models())
    entry: Any = (
        models[0]
        if len(models) == 1
        else Annotated[
            Union[models],  # noqa: UP007 - a runtime-built union needs the subscript form
            Field(discriminator="kind"),
        ]
    )
    return create_model(
        "SourcesFile",
        __config__=ConfigDict(extra="forbid"),
        sources=(list[entry], Field(default_factory=list)),
    )


def load_sources(path: Path = DEFAULT_SOURCES, *, only_enabled: bool = False) -> list[Any]:
    """Read and validate ``path``; a missing file means no sources."""
    if not path.is_file():
        return []
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    return parse_sources(data, where=str(path), only_enabled=only_enabled)


def parse_sources(data: Any, *, where: str = "sources", only_enabled: bool = False) -> list[Any]:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: the top level must be a mapping with a 'sources' list")
    raw = data.get("sources")
    if isinstance(raw, list):
        for index, item in enumerate(raw):
            kind = item.get("kind") if isinstance(item, dict) else None
            if isinstance(item, dict) and kind not in registry.KIND_MODULES:
                raise ConfigError(
                    f"{where}: {_label(raw, index)}: kind: unknown kind {kind!r}"
                    f" (known: {', '.join(registry.KIND_MODULES)})"
                )
            if kind in registry.planned_kinds():
                raise ConfigError(
                    f"{where}: {_label(raw, index)}: kind: {kind!r} is planned but has no"
                    f" collector yet (implemented: {', '.join(registry.implemented_kinds())})"
                )
    try:
        parsed: Any = _sources_file_model().model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{where}: {_problems(exc, raw)}") from exc
    seen: set[str] = set()
    for index, source in enumerate(parsed.sources):
        if source.name in seen:
            raise ConfigError(
                f"{where}: {_label(raw, index)}: name: duplicate; source names must be unique"
            )
        seen.add(source.name)
    return [s for s in parsed.sources if s.enabled or not only_enabled]


def _label(raw: Any, index: int) -> str:
    name = None
    if isinstance(raw, list) and index < len(raw) and isinstance(raw[index], dict):
        name = raw[index].get("name")
    return f"source {name!r} (sources[{index}])" if name else f"sources[{index}]"


def _problems(exc: ValidationError, raw: Any) -> str:
    out = []
    for err in exc.errors():
        loc = list(err["loc"])
        if len(loc) >= 2 and loc[0] == "sources" and isinstance(loc[1], int):
            label = _label(raw, loc[1])
            rest = loc[2:]
            if rest and rest[0] in registry.KIND_MODULES:  # the discriminator's tag
                rest = rest[1:]
            field = ".".join(str(p) for p in rest) or "source"
            if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
                field = "kind"
            out.append(f"{label}: {field}: {_message(err['msg'])}")
        else:
            out.append(f"{'.'.join(str(p) for p in loc) or 'file'}: {_message(err['msg'])}")
    return "; ".join(out)


def _message(msg: str) -> str:
    return msg.removeprefix("Value error, ")

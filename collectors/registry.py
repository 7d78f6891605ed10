"""Which module collects each ``kind`` of source, and how a source is built.

A kind's module (e.g. ``collectors.rss``) exposes two names:

- ``SOURCE_MODEL``: the pydantic model of its ``sources.yaml`` entry, a
  subclass of :class:`collectors.config.SourceBase` with
  ``kind: Literal["<kind>"]``;
- ``build(config, context) -> Collector | StreamCollector``: the collector
  for one configured source (a polled :class:`~collectors.base.Collector`, run
  by the scheduler, or a :class:`~collectors.base.StreamCollector`, run by the
  stream supervisor).

Modules are imported when first needed, so a kind's dependencies load only
where it is used. Adding a kind: docs/developers/adding-a-source.md.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from functools import cache
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bluelamp.settings import Settings
    from collectors.base import Collector, StreamCollector
    from collectors.config import SourceBase

KIND_MODULES: dict[str, str] = {
    "rss": "collectors.rss",
    "bluesky": "collectors.bluesky",
    "mastodon": "collectors.mastodon",
    "x": "collectors.x",
    "reddit": "collectors.reddit",
    "police_uk": "collectors.police_uk",
    "webhook": "collectors.webhook",
}


@dataclass
class BuildContext:
    """What a collector may need beyond its own config. ``settings`` gives
    collectors that write outside the spool (recorded crime) the engine."""

    settings: Settings | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@cache
def _module(kind: str) -> ModuleType | None:
    name = KIND_MODULES[kind]
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:  # the kind is planned but not written yet
            return None
        raise
    if getattr(module, "__file__", None) is None:  # a bare folder (namespace package)
        return None
    for attribute in ("SOURCE_MODEL", "build"):
        if not hasattr(module, attribute):
            raise ImportError(f"{name} must define {attribute} (see collectors/registry.py)")
    return module


def implemented_kinds() -> list[str]:
    return [kind for kind in KIND_MODULES if _module(kind) is not None]


def planned_kinds() -> list[str]:
    return [kind for kind in KIND_MODULES if _module(kind) is None]


def source_models() -> list[type[SourceBase]]:
    models: list[type[SourceBase]] = []
    for kind in implemented_kinds():
        module = _module(kind)
        assert module is not None
        models.append(module.SOURCE_MODEL)
    return models


def build(config: SourceBase, context: BuildContext | None = None) -> Collector | StreamCollector:
    kind = str(getattr(config, "kind", ""))
    module = _module(kind) if kind in KIND_MODULES else None
    if module is None:
        raise ValueError(f"no collector for kind {kind!r}")
    collector: Collector | StreamCollector = module.build(config, context or BuildContext())
    return collector

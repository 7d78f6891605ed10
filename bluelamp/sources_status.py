"""What `bluelamp sources status` and ``GET /api/v1/sources`` show: each
configured source beside the health the running monitor last saved."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bluelamp.monitor import sources_path
from bluelamp.settings import Settings
from collectors.config import load_sources
from collectors.cursors import CursorStore
from collectors.health_store import HealthStore


def source_status(settings: Settings) -> list[dict[str, Any]]:
    sources = load_sources(sources_path(settings))
    cursors = CursorStore(settings.state_url)
    try:
        saved = HealthStore(cursors.engine).all()
        rows = []
        for config in sources:
            kind = str(getattr(config, "kind", ""))
            entry = saved.get(config.name)
            row: dict[str, Any] = {
                "name": config.name,
                "kind": kind,
                "enabled": config.enabled,
                "interval_s": config.interval_s,
                "cursor_updated_at": _iso(cursors.updated_at(config.name)),
            }
            if entry is None:
                row["status"] = "disabled" if not config.enabled else "not run yet"
                row["health"] = None
            else:
                health, when = entry
                data = health.as_dict()
                for key in ("last_success_at", "last_error_at"):
                    data[key] = _iso(data[key])
                row["health"] = data
                row["health_saved_at"] = _iso(when)
                row["status"] = _status(
                    config.enabled, health.last_success_at, health.last_error_at
                )
            row["mode"] = _mode(kind, row["health"])
            rows.append(row)
        return rows
    finally:
        cursors.close()


def _mode(kind: str, health: dict[str, Any] | None) -> str:
    if kind == "webhook":
        return "push"
    if health is None:
        return "-"
    return "polled" if health.get("connected") is None else "stream"


def _status(enabled: bool, ok_at: datetime | None, error_at: datetime | None) -> str:
    if not enabled:
        return "disabled"
    if error_at is not None and (ok_at is None or error_at > ok_at):
        return "failing"
    if ok_at is None:
        return "not run yet"
    return "ok"


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="seconds")

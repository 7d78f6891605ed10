"""Mastodon status ids and the cursor built on them.

Status ids are per-instance decimal snowflakes: longer is newer, then lexical.
The cursor is JSON ``{"min_id": "<newest status id collected>"}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from collectors.base import CollectResult, load_json_cursor

_STATUS_ID = re.compile(r"^[0-9]{1,30}$")


def status_id(value: Any) -> str:
    """``value`` as a status id; ValueError if it is not one."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _STATUS_ID.match(value):
        raise ValueError(f"id: not a status id: {str(value)[:40]!r}")
    return value


def safe_id(status: Any) -> str | None:
    """A status's id, or None when it has no usable one."""
    try:
        return status_id(status.get("id")) if isinstance(status, dict) else None
    except ValueError:
        return None


def id_key(value: str) -> tuple[int, str]:
    """Mastodon ids are decimal snowflakes: longer is newer, then lexical."""
    return (len(value), value)


def newest_id(ids: Iterable[str | None]) -> str | None:
    valid = [i for i in ids if i]
    return max(valid, key=id_key) if valid else None


def is_newer(value: str, than: str | None) -> bool:
    return than is None or id_key(value) > id_key(than)


def load_cursor(cursor: str | None) -> str | None:
    """The ``min_id`` of a saved cursor; None (start afresh) if there is none usable."""
    value = load_json_cursor(cursor).get("min_id")
    return value if isinstance(value, str) and _STATUS_ID.match(value) else None


def dump_cursor(min_id: str) -> str:
    return json.dumps({"min_id": min_id})


def with_cursor(batch: CollectResult, newest: str | None) -> CollectResult:
    batch.cursor = dump_cursor(newest) if newest is not None else None
    return batch

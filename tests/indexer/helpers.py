"""Posts for indexer tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bluelamp.post import Post, validate_post


def make_post(
    n: int,
    *,
    text: str | None = None,
    platform: str = "bluesky",
    created_at: datetime | None = None,
    **extra: object,
) -> Post:
    when = created_at or datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=n)
    return validate_post(
        {
            "id": f"{platform}:p{n}",
            "platform": platform,
            "native_id": f"p{n}",
            "text": text or f"post number {n} about Deansgate",
            "created_at": when,
            "source": {"name": "test"},
            **extra,
        }
    )

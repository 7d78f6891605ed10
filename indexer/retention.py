"""Retention: drop monthly indices whose whole month is older than the period.

Neither embedded engine has ILM or ISM, so Bluelamp applies the schedule
itself; an index is dropped only once its newest possible post is past the
retention period, so nothing younger than the period is ever removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from indexer.engine import SearchEngine
from indexer.layout import IndexLayout


@dataclass(frozen=True)
class RetentionResult:
    dropped: list[str]
    kept: list[str]
    cutoff: datetime


def month_end(year: int, month: int) -> datetime:
    nxt = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return nxt


def expired_indices(
    indices: list[str], days: int, *, now: datetime | None = None
) -> tuple[list[str], datetime]:
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    expired = []
    for name in indices:
        month = IndexLayout.month_of(name)
        if month and month_end(*month) <= cutoff:
            expired.append(name)
    return expired, cutoff


async def apply_retention(
    engine: SearchEngine,
    layout: IndexLayout,
    days: int,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
) -> RetentionResult:
    indices = await engine.list_indices(layout.pattern)
    expired, cutoff = expired_indices(indices, days, now=now)
    if not dry_run:
        for name in expired:
            await engine.delete_index(name)
    kept = [i for i in indices if i not in expired]
    return RetentionResult(dropped=expired, kept=kept, cutoff=cutoff)

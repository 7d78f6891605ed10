"""Shared pieces of the Bluesky tests: collectors on the dev network, stream driving."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable
from typing import Any

from bluelamp.spool import Spool
from collectors.base import FetchPolicy, RunReport, commit
from collectors.bluesky.config import BlueskySource
from collectors.bluesky.firehose import BlueskyFirehoseCollector
from collectors.cursors import CursorStore
from tests.support.bluesky.devnet import DevNet
from tests.support.collect import fast_policy


def bluesky_policy() -> FetchPolicy:
    """The shared fast policy with the longer timeouts the dev network needs."""
    return fast_policy(total_timeout_s=2, connect_timeout_s=1)


def firehose(
    devnet: DevNet, name: str, match: list[str] | None = None, **options: Any
) -> BlueskyFirehoseCollector:
    """A firehose collector on the dev PDS; everything unless ``match`` is given."""
    config = BlueskySource(
        name=name,
        kind="bluesky",
        mode="firehose",
        match=match or [],
        collect_all=match is None,
        service=devnet.pds,
        options=options,
    )
    return BlueskyFirehoseCollector(config, bluesky_policy())


def spool_ops(spool: Spool) -> list[tuple[str, str, bytes | None]]:
    """Every op in the spool, in order: (kind, post id, payload)."""
    return [(op.kind, op.post_id, op.payload) for op in spool.next_batch(1_000_000)]


async def run_stream(
    collector: BlueskyFirehoseCollector,
    spool: Spool,
    cursors: CursorStore,
    *,
    until: Callable[[Spool], bool],
    timeout_s: float = 30,
    max_batches: int | None = None,
    start: str = "0",
) -> list[RunReport]:
    """Drive ``collector.stream`` from the saved cursor, committing every batch as
    the supervisor does, until ``until(spool)`` holds or ``max_batches`` are in.
    The stream is then closed mid-way (the generator is closed, the socket too).
    A source with no saved cursor starts from ``start`` (0: the PDS's first event)."""
    reports: list[RunReport] = []
    cursor = cursors.get(collector.name) or start
    deadline = time.monotonic() + timeout_s
    stream = collector.stream(cursor)
    assert isinstance(stream, AsyncGenerator)
    try:
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"stream did not deliver in {timeout_s}s; reports: {reports[-3:]}"
            batch = await asyncio.wait_for(anext(stream), left)
            report = await commit(collector.name, collector.health, batch, cursor, spool, cursors)
            assert report.ok, report.error
            cursor = batch.cursor or cursor
            reports.append(report)
            if until(spool) or (max_batches is not None and len(reports) >= max_batches):
                return reports
    finally:
        await stream.aclose()


def has_ids(ids: set[str]) -> Callable[[Spool], bool]:
    def check(spool: Spool) -> bool:
        return ids <= {post_id for _, post_id, _ in spool_ops(spool)}

    return check

"""Runs a stream (firehose, streaming API) for as long as the monitor runs.

The supervisor owns the loop a stream needs and a platform module should not
rewrite: read the saved cursor, connect, commit each batch (spool first, then
the cursor: :func:`collectors.base.commit`), and when the stream ends or
fails, reconnect from the last saved cursor after a jittered backoff that
grows with consecutive failures and resets once a connection has stayed up.
A batch the spool refuses ends the connection, so the stream is read again
from the cursor of the last batch that was safely spooled: nothing is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bluelamp.backoff import backoff_delay
from bluelamp.logging import get_logger
from collectors.base import CollectorError, RunReport, StreamCollector, commit

if TYPE_CHECKING:
    from bluelamp.spool import Spool
    from collectors.cursors import CursorStore

log = get_logger(__name__)


@dataclass(frozen=True)
class StreamPolicy:
    backoff_base_s: float = 1.0
    backoff_max_s: float = 120.0
    stable_after_s: float = 60.0  # a connection up this long resets the backoff


async def supervise(
    collector: StreamCollector,
    spool: Spool,
    cursors: CursorStore,
    *,
    stop: asyncio.Event,
    policy: StreamPolicy | None = None,
    on_batch: Callable[[RunReport], None] | None = None,
) -> None:
    """Run ``collector`` until ``stop`` is set; never raises for stream failures."""
    policy = policy or StreamPolicy()
    health = collector.health
    failures = 0
    while not stop.is_set():
        started = time.monotonic()
        consume = asyncio.create_task(_consume(collector, spool, cursors, on_batch))
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({consume, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not consume.done():
                consume.cancel()
            await asyncio.wait({consume})  # finished either way; its outcome is read below
        health.connected = False
        health.last_run_s = round(time.monotonic() - started, 3)
        if stop.is_set():
            break
        error = consume.exception() if not consume.cancelled() else None
        if isinstance(error, _CommitFailed):  # commit() has already counted it
            log.warning("batch not spooled; reconnecting", source=collector.name, error=str(error))
        elif error is not None:
            wrapped = (
                error
                if isinstance(error, CollectorError)
                else CollectorError(
                    f"stream failed: {error.__class__.__name__}: {error}", source=collector.name
                )
            )
            health.record_error(wrapped)
            log.warning(
                "stream interrupted; reconnecting", source=collector.name, error=str(wrapped)
            )
        if time.monotonic() - started >= policy.stable_after_s:
            failures = 0
        failures += 1
        health.reconnects += 1
        delay = backoff_delay(failures, policy.backoff_base_s, policy.backoff_max_s)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)
    with contextlib.suppress(Exception):
        await collector.close()


class _CommitFailed(Exception):
    """A batch could not be spooled (or its cursor saved); already in health."""


async def _consume(
    collector: StreamCollector,
    spool: Spool,
    cursors: CursorStore,
    on_batch: Callable[[RunReport], None] | None,
) -> None:
    health = collector.health
    cursor = await asyncio.to_thread(cursors.get, collector.name)
    health.polls += 1  # one connection
    stream = collector.stream(cursor)
    try:
        async for batch in stream:
            health.connected = True
            report = await commit(collector.name, health, batch, cursor, spool, cursors)
            if on_batch is not None:
                on_batch(report)
            if report.error is not None:
                raise _CommitFailed(str(report.error))  # reconnect from the last saved cursor
            if batch.cursor is not None:
                cursor = batch.cursor
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()

"""The running monitor: collect from every enabled source and drain the spool
into the search engine, until stopped. Used by `bluelamp collect` and, in the
background, by `bluelamp serve`.

Collection and indexing are decoupled by the durable spool: when the engine is
down, collectors keep spooling and the drain loop waits (with backoff) for the
engine to come back; when a source is down, the others carry on.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from pathlib import Path
from typing import Any

from bluelamp.audit import AuditLedger, Justification
from bluelamp.backoff import backoff_delay
from bluelamp.errors import BluelampError
from bluelamp.logging import get_logger
from bluelamp.pipeline import Drainer, indexer_for, nlp_for, open_engine, open_spool
from bluelamp.settings import Settings
from bluelamp.spool import Spool
from collectors.config import load_sources
from collectors.cursors import CursorStore
from collectors.health_store import HealthStore
from collectors.registry import BuildContext
from collectors.scheduler import CollectionService

log = get_logger(__name__)


def sources_path(settings: Settings) -> Path:
    path = settings.collectors.sources_file
    return path if path.is_absolute() else Path.cwd() / path


def record_configuration(settings: Settings, path: Path, sources: list[Any]) -> None:
    """Write what is monitored to the audit ledger when collection starts, so
    that every change to the sources in force is attributable (who, when, what)."""
    raw = path.read_bytes() if path.is_file() else b""
    enabled = [
        s.model_dump(mode="json", exclude={"options"}) for s in sources if s.enabled
    ]  # names, kinds, queries, match terms; credential fields are only {env|file} references
    AuditLedger(settings.state_url).record(
        "configure",
        Justification("collection started with the sources in force", None),
        {
            "sources_file": str(path),
            "sha256": hashlib.sha256(raw).hexdigest(),
            "enabled": enabled,
            "disabled": [s.name for s in sources if not s.enabled],
        },
    )


class Monitor:
    def __init__(self, settings: Settings, *, drain: bool = True) -> None:
        self.settings = settings
        self.drain_enabled = drain
        self._stop = asyncio.Event()
        self._drain_task: asyncio.Task[None] | None = None
        self.spool: Spool | None = None
        self.service: CollectionService | None = None
        self.drainer: Drainer | None = None

    async def start(self) -> None:
        settings = self.settings
        path = sources_path(settings)
        sources = load_sources(path)
        await asyncio.to_thread(record_configuration, settings, path, sources)
        self.spool = open_spool(settings)
        cursors = CursorStore(settings.state_url)
        health = HealthStore(cursors.engine)
        self.service = CollectionService(
            sources,
            self.spool,
            cursors,
            health,
            jobstore_url=settings.state_url,
            context=BuildContext(settings),
        )
        await self.service.start()
        if self.drain_enabled:
            self._drain_task = asyncio.create_task(self._drain_forever(), name="drain")

    async def stop(self) -> None:
        self._stop.set()
        if self.service is not None:
            await self.service.stop(self.settings.collectors.shutdown_grace_s)
        if self._drain_task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._drain_task, timeout=30)
        if self.spool is not None:
            self.spool.close()

    async def run_until(self, stop: asyncio.Event) -> None:
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()

    async def _drain_forever(self) -> None:
        """Drain the spool into the engine; wait for the engine when it is down."""
        assert self.spool is not None
        nlp = await asyncio.to_thread(nlp_for, self.settings)
        failures = 0
        while not self._stop.is_set():
            try:
                engine = await open_engine(self.settings)
            except BluelampError as exc:
                failures += 1
                delay = backoff_delay(failures, 1.0, self.settings.spool.retry_backoff_max_s)
                log.warning("search engine unreachable; posts wait in the spool", error=str(exc))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=delay)
                continue
            failures = 0
            try:
                indexer = indexer_for(self.settings, engine)
                self.drainer = Drainer(self.spool, indexer, self.settings, nlp)
                await self.drainer.drain(stop=self._stop, until_empty=False, idle_s=0.2)
            except BluelampError as exc:
                log.error("drain stopped; restarting", error=str(exc))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=1.0)
            finally:
                await engine.close()

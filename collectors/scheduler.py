"""Runs the configured sources: polled ones as APScheduler jobs, streams under the supervisor.

Polled sources are APScheduler 3.11 interval jobs on an ``AsyncIOScheduler``
with a persistent SQLAlchemy job store in the state database, so a restart
keeps each source's schedule instead of polling everything at once. Every job
has ``max_instances=1`` and ``coalesce=True``: a poll that overruns its interval
makes the scheduler skip the next start (counted in the source's health as a
skipped run, with a warning) rather than queue it, and polls missed while the
monitor was down collapse into one.

Jobs are stored by reference (``collectors.scheduler:run_job`` and the source
name), never by pickling a collector; the running service is found through a
module-level handle. One service runs per process.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, JobExecutionEvent
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bluelamp.errors import BluelampError
from bluelamp.logging import get_logger
from collectors import registry
from collectors.base import (
    Collector,
    CollectorError,
    RunReport,
    SourceHealth,
    StreamCollector,
    run_once,
)
from collectors.health_store import HealthStore
from collectors.supervisor import StreamPolicy, supervise

if TYPE_CHECKING:
    from bluelamp.spool import Spool
    from collectors.config import SourceBase
    from collectors.cursors import CursorStore

log = get_logger(__name__)
JOB_TABLE = "bluelamp_scheduler_jobs"
HEALTH_SAVE_EVERY_S = 5.0
_ACTIVE: CollectionService | None = None


async def run_job(source: str) -> None:
    """The scheduled job: poll one source through the running service."""
    service = _ACTIVE
    if service is None:  # a stale job fired after shutdown
        return
    await service.poll(source)


@dataclass
class CollectionService:
    sources: Sequence[SourceBase]
    spool: Spool
    cursors: CursorStore
    health_store: HealthStore
    jobstore_url: str
    context: registry.BuildContext = field(default_factory=registry.BuildContext)
    stream_policy: StreamPolicy = field(default_factory=StreamPolicy)
    first_poll_delay_s: float = 0.0

    def __post_init__(self) -> None:
        self.polled: dict[str, Collector] = {}
        self.streams: dict[str, StreamCollector] = {}
        self.other: dict[str, Any] = {}  # push sources (webhooks) the web app serves
        self.configs: dict[str, SourceBase] = {}
        self.scheduler: AsyncIOScheduler | None = None
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._running: dict[str, asyncio.Task[RunReport]] = {}

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        global _ACTIVE
        if _ACTIVE is not None and _ACTIVE is not self:
            raise BluelampError("a collection service is already running in this process")
        _ACTIVE = self
        self._build_all()
        scheduler = AsyncIOScheduler(
            jobstores={"default": SQLAlchemyJobStore(url=self.jobstore_url, tablename=JOB_TABLE)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )
        scheduler.add_listener(self._on_event, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_ERROR)
        scheduler.start(paused=True)
        self.scheduler = scheduler
        self._sync_jobs(scheduler)
        scheduler.resume()
        for name, stream in self.streams.items():
            task = asyncio.create_task(
                supervise(
                    stream,
                    self.spool,
                    self.cursors,
                    stop=self._stop,
                    policy=self.stream_policy,
                    on_batch=self._health_saver(stream.health),
                ),
                name=f"stream:{name}",
            )
            self._tasks.append(task)
        log.info(
            "collection started",
            polled=sorted(self.polled),
            streams=sorted(self.streams),
            push=sorted(self.other),
        )

    async def stop(self, grace_s: float = 10.0) -> None:
        global _ACTIVE
        self._stop.set()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.pause()  # no new polls; running ones get the grace period
        running = [t for t in self._running.values() if not t.done()]
        if running:
            _, pending = await asyncio.wait(running, timeout=grace_s)
            for late in pending:
                late.cancel()
            await asyncio.wait(running)
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        for stream_task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(stream_task, timeout=max(grace_s, 1.0))
        for polled in self.polled.values():
            with contextlib.suppress(Exception):
                await polled.close()
        for health in self.health().values():
            await asyncio.to_thread(self._save_health, health)
        if _ACTIVE is self:
            _ACTIVE = None

    async def __aenter__(self) -> CollectionService:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --------------------------------------------------------------- polls
    async def poll(self, source: str) -> RunReport:
        """Poll ``source`` now (the job body; also `bluelamp sources run`)."""
        task: asyncio.Task[RunReport] = asyncio.create_task(self._poll_and_save(source))
        self._running[source] = task
        try:
            return await asyncio.shield(task)  # shutdown waits for it (grace period)
        finally:
            if task.done():
                self._running.pop(source, None)

    async def _poll_and_save(self, source: str) -> RunReport:
        collector = self.polled[source]
        report = await run_once(collector, self.spool, self.cursors)
        if report.error is not None:
            log.warning("poll failed", source=source, error=str(report.error))
        elif report.spooled or report.deletes:
            log.info("poll", source=source, spooled=report.spooled, deletes=report.deletes)
        await asyncio.to_thread(self._save_health, collector.health)
        return report

    def health(self) -> dict[str, SourceHealth]:
        out = {name: c.health for name, c in self.polled.items()}
        out.update({name: c.health for name, c in self.streams.items()})
        return out

    # ------------------------------------------------------------- helpers
    def _build_all(self) -> None:
        for config in self.sources:
            if not config.enabled:
                continue
            kind = str(getattr(config, "kind", ""))
            self.configs[config.name] = config
            try:
                built: Any = registry.build(config, self.context)
            except (BluelampError, ValueError) as exc:
                # e.g. a credential not set: report this source, run the others
                health = SourceHealth(config.name, kind=kind)
                health.record_error(
                    exc
                    if isinstance(exc, CollectorError)
                    else CollectorError(f"cannot start: {exc}", source=config.name)
                )
                self._save_health(health)
                log.error("source not started", source=config.name, error=str(exc))
                continue
            if isinstance(built, StreamCollector):
                self.streams[config.name] = built
            elif isinstance(built, Collector):
                self.polled[config.name] = built
            else:
                self.other[config.name] = built

    def _sync_jobs(self, scheduler: AsyncIOScheduler) -> None:
        """Keep stored schedules whose interval is unchanged; replace the rest;
        drop jobs for sources no longer configured or enabled."""
        wanted = {name: self.configs[name].interval_s for name in self.polled}
        for job in scheduler.get_jobs():
            if job.id not in wanted:
                job.remove()
        first = datetime.now(UTC) + timedelta(seconds=self.first_poll_delay_s)
        for name, interval in wanted.items():
            existing = scheduler.get_job(name)
            trigger = IntervalTrigger(seconds=interval, timezone=UTC)
            if (
                existing is not None
                and isinstance(existing.trigger, IntervalTrigger)
                and existing.trigger.interval == timedelta(seconds=interval)
                and existing.args == (name,)
            ):
                continue
            scheduler.add_job(
                "collectors.scheduler:run_job",
                trigger=trigger,
                args=[name],
                id=name,
                name=f"poll {name}",
                replace_existing=True,
                next_run_time=first,
            )

    def _on_event(self, event: JobExecutionEvent) -> None:
        collector = self.polled.get(event.job_id)
        if collector is None:
            return
        health = collector.health
        if event.code == EVENT_JOB_MAX_INSTANCES:
            health.skipped_runs += 1
            interval = self.configs[event.job_id].interval_s
            health.last_warning = (
                f"poll skipped at {datetime.now(UTC):%Y-%m-%d %H:%M:%S}Z: the previous poll is"
                f" still running after the {interval:g}s interval (overrun, not queued)"
            )
            log.warning("poll overran its interval; next run skipped", source=event.job_id)
        elif event.exception is not None and not isinstance(
            event.exception, asyncio.CancelledError
        ):  # run_job itself failed (not a poll failure, which is in the report)
            health.record_error(event.exception)
        with contextlib.suppress(Exception):
            self._save_health(health)

    def _health_saver(self, health: SourceHealth) -> Callable[[RunReport], None]:
        """A stream's per-batch hook: save its health at most every few seconds,
        off the event loop (a firehose yields many batches a second)."""
        last = [0.0]

        def on_batch(_report: RunReport) -> None:
            now = time.monotonic()
            if now - last[0] < HEALTH_SAVE_EVERY_S and _report.error is None:
                return
            last[0] = now
            asyncio.get_running_loop().run_in_executor(None, self._save_health, health)

        return on_batch

    def _save_health(self, health: SourceHealth) -> None:
        try:
            self.health_store.save(health)
        except Exception as exc:  # health is advisory: never stop collection over it
            log.warning("could not save source health", source=health.source, error=str(exc))

"""Pipeline wiring: settings -> engine, spool -> indexer (the drain loop)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from bluelamp.backoff import backoff_delay
from bluelamp.logging import get_logger
from bluelamp.post import Post
from bluelamp.settings import Settings
from bluelamp.spool import Spool, SpoolOp
from indexer.bulk import BulkIndexer
from indexer.embedded import EmbeddedEngine
from indexer.engine import Connection, EngineError, EngineUnavailable, SearchEngine, connect
from indexer.layout import IndexLayout
from nlp.pipeline import Pipeline

log = get_logger(__name__)


def engine_url(settings: Settings) -> str:
    """The configured cluster, or the embedded engine when none is configured."""
    if settings.search.url:
        return settings.search.url
    status = EmbeddedEngine(settings.engine, settings.data_dir).status()
    if not status.running or not status.url:
        raise EngineUnavailable(
            "the embedded search engine is not running",
            hint="run `bluelamp engine start` (or set BLUELAMP_SEARCH_URL)",
        )
    return status.url


async def open_engine(settings: Settings) -> SearchEngine:
    return await connect(Connection.from_settings(settings.search, engine_url(settings)))


def open_spool(settings: Settings) -> Spool:
    return Spool(settings.data_dir / "spool.sqlite3", sync=settings.spool.sync)


def layout_for(settings: Settings) -> IndexLayout:
    return IndexLayout(settings.search.index_prefix)


def nlp_for(settings: Settings) -> Pipeline | None:
    """The configured enrichment pipeline, or None when enrichment is off."""
    if not settings.nlp.enabled:
        return None
    from nlp.build import build_pipeline

    return build_pipeline(settings.nlp)


def indexer_for(settings: Settings, engine: SearchEngine) -> BulkIndexer:
    return BulkIndexer(
        engine, layout_for(settings), settings.indexer, replicas=settings.search.index_replicas
    )


@dataclass
class DrainTotals:
    indexed: int = 0
    deleted: int = 0
    failed: int = 0
    deferred: int = 0
    retries: int = 0
    enrich_errors: int = 0


class Drainer:
    """Moves ops from the spool into the engine, in acceptance order."""

    def __init__(
        self,
        spool: Spool,
        indexer: BulkIndexer,
        settings: Settings,
        nlp: Pipeline | None = None,
    ) -> None:
        self.spool = spool
        self.nlp = nlp
        self.indexer = indexer
        self.settings = settings
        self.totals = DrainTotals()
        self._outage = 0
        self.outage_since: float | None = None
        self.last_error: str | None = None

    async def drain_once(self) -> int:
        """Deliver one batch; return how many ops it handled (0 when none are due)."""
        ops = await asyncio.to_thread(self.spool.next_batch, self.settings.spool.batch_size)
        if not ops:
            return 0
        try:
            for run in _runs(ops):
                if run[0].kind == "index":
                    await self._index(run)
                else:
                    await self._delete(run)
            self._outage = 0
            self.outage_since = None
        except EngineUnavailable as exc:
            self._outage += 1
            self.last_error = str(exc)
            if self.outage_since is None:
                self.outage_since = time.monotonic()
            delay = backoff_delay(self._outage, 1.0, self.settings.spool.retry_backoff_max_s)
            log.warning(
                "engine unavailable; posts stay in the spool",
                error=str(exc),
                retry_in_s=round(delay, 1),
            )
            await asyncio.sleep(delay)
        return len(ops)

    async def _index(self, run: list[SpoolOp]) -> None:
        seqs_by_id: dict[str, list[int]] = {}
        latest: dict[str, Post] = {}
        bad: dict[int, str] = {}
        for op in run:
            try:
                latest[op.post_id] = Post.model_validate_json(op.payload or b"")
            except ValueError as exc:
                bad[op.seq] = f"spooled payload no longer valid: {exc}"
                continue
            seqs_by_id.setdefault(op.post_id, []).append(op.seq)
        posts = list(latest.values())
        if self.nlp is not None:
            try:
                posts = await self.nlp.enrich_async(posts)
            except Exception as exc:
                self.totals.enrich_errors += len(posts)
                log.error(
                    "enrichment failed; indexing these posts without it",
                    error=f"{exc.__class__.__name__}: {exc}",
                    posts=len(posts),
                )
        report = await self.indexer.index_posts(posts)
        if report.deferred and not report.indexed and not report.failed:
            # Nothing got through: treat as an outage so the loop backs off.
            first = next(iter(report.deferred.values()))
            await self._defer(seqs_by_id, report.deferred)
            raise EngineUnavailable(f"no post could be indexed: {first}")
        await asyncio.to_thread(
            self.spool.ack, [s for pid in report.indexed for s in seqs_by_id[pid]]
        )
        failed = {s: reason for pid, reason in report.failed.items() for s in seqs_by_id[pid]}
        failed.update(bad)
        if failed:
            log.error(
                "engine rejected posts; kept in the dead-letter table",
                count=len(failed),
                example=next(iter(failed.values())),
            )
        await asyncio.to_thread(self.spool.dead_letter, failed)
        await self._defer(seqs_by_id, report.deferred)
        self.totals.indexed += len(report.indexed)
        self.totals.failed += len(failed)
        self.totals.deferred += len(report.deferred)
        self.totals.retries += report.retries

    async def _defer(self, seqs_by_id: dict[str, list[int]], deferred: dict[str, str]) -> None:
        if not deferred:
            return
        delay = backoff_delay(1, 1.0, self.settings.spool.retry_backoff_max_s)
        await asyncio.to_thread(
            self.spool.defer,
            {s: reason for pid, reason in deferred.items() for s in seqs_by_id[pid]},
            delay,
        )

    async def _delete(self, run: list[SpoolOp]) -> None:
        try:
            await self.indexer.delete_posts([op.post_id for op in run])
        except EngineError as exc:
            if exc.retryable:
                raise EngineUnavailable(str(exc)) from exc
            raise
        await asyncio.to_thread(self.spool.ack, [op.seq for op in run])
        self.totals.deleted += len(run)

    async def drain(
        self,
        *,
        stop: asyncio.Event | None = None,
        until_empty: bool = True,
        on_batch: Callable[[DrainTotals], None] | None = None,
        idle_s: float = 0.5,
        give_up_after_s: float | None = None,
    ) -> DrainTotals:
        """Drain until the spool is empty (or forever until ``stop`` is set).

        With ``give_up_after_s``, return once the engine has been unreachable
        that long; the posts stay in the spool for the next run.
        """
        while not (stop and stop.is_set()):
            if (
                give_up_after_s is not None
                and self.outage_since is not None
                and time.monotonic() - self.outage_since > give_up_after_s
            ):
                break
            handled = await self.drain_once()
            if on_batch:
                on_batch(self.totals)
            if handled:
                continue
            stats = await asyncio.to_thread(self.spool.stats)
            if until_empty and stats.pending == 0:
                break
            await asyncio.sleep(idle_s)
        return self.totals


def _runs(ops: list[SpoolOp]) -> list[list[SpoolOp]]:
    """Split ops into consecutive runs of one kind, keeping order."""
    runs: list[list[SpoolOp]] = []
    for op in ops:
        if runs and runs[-1][0].kind == op.kind:
            runs[-1].append(op)
        else:
            runs.append([op])
    return runs

"""Bulk indexing of realistic posts, side by side with naive one-request-per-document.

Both paths run in one process against one engine, with the same index
template, the same documents (``to_document``) and the same JSON library
(orjson), so the difference measured is the request pattern alone:

* Bluelamp's path: ``BulkIndexer.index_posts`` over all ``docs`` posts.
* Naive baseline: one ``PUT /<index>/_doc/<id>`` per post, sequentially. It is
  timed over the first ``naive_docs`` posts only and its rate extrapolated,
  because 100,000 sequential requests would take many minutes.

Both are measured on a warm engine (see ``FULL_WARMUP``). The engine is an
embedded OpenSearch started for the run under a temporary data directory (or
the cluster at ``BLUELAMP_SEARCH_URL`` when that is set), and it is stopped at
the end whatever happens.

Parameters (``--set key=value``): docs, naive_docs, warmup_docs,
warmup_naive_docs, seed, heap_mb, and the indexer's chunk_docs, chunk_bytes
and concurrency (defaults: ``IndexerSettings()``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import resource
import shutil
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import orjson
import psutil

from bench.runner import BenchOptions, BenchResult, Target, benchmark
from bluelamp.demo.loader import demo_posts
from bluelamp.post import Post
from bluelamp.settings import EngineSettings, IndexerSettings, load_settings
from indexer.bulk import BulkIndexer
from indexer.embedded import EmbeddedEngine
from indexer.engine import Connection, EngineError, SearchEngine, connect
from indexer.layout import IndexLayout, to_document

FULL_DOCS, FULL_NAIVE_DOCS = 100_000, 5_000
QUICK_DOCS, QUICK_NAIVE_DOCS = 20_000, 1_000
TARGET_RATIO = 10.0
HEAP_MB = 1024
# Untimed runs of both paths first: a fresh JVM needs tens of thousands of
# documents before its JIT settles (measured: engine CPU per 20,000 docs fell
# from 11 s to 3 s), and that start-up cost belongs to neither path.
FULL_WARMUP, QUICK_WARMUP, WARMUP_NAIVE_DOCS = 20_000, 5_000, 500


@dataclass
class _Engine:
    engine: SearchEngine
    url: str
    embedded: bool
    jvm_pid: int | None


def _free_port() -> int:
    """A free HTTP port for the embedded engine, whose transport port (+100) is free too.

    The OpenSearch runner serves HTTP only on 9201-9299; 9201 is the default
    engine's and 9231 another local one's, so neither is tried. Random order
    makes a clash with a concurrently starting engine unlikely.
    """
    candidates = [p for p in range(9202, 9300) if p != 9231]
    random.shuffle(candidates)
    for port in candidates:
        if all(_bindable(p) for p in (port, port + 100)):
            return port
    raise RuntimeError("no free port for the embedded engine in 9202-9299")


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@asynccontextmanager
async def _engine(heap_mb: int) -> AsyncIterator[_Engine]:
    external = os.environ.get("BLUELAMP_SEARCH_URL")
    if external:
        conn = Connection.from_settings(load_settings().search, external)
        engine = await connect(conn)
        try:
            yield _Engine(engine, external, embedded=False, jvm_pid=None)
        finally:
            await engine.close()
        return

    root = Path(tempfile.mkdtemp(prefix="bluelamp-bench-"))
    embedded = EmbeddedEngine(
        EngineSettings(http_port=_free_port(), heap_mb=heap_mb, start_timeout_s=300), root
    )
    try:
        status = await asyncio.to_thread(embedded.start)
        assert status.url
        # Generous timeout: on a busy 2-core machine a 5 MB bulk chunk can be slow.
        engine = await connect(Connection(url=status.url, request_timeout_s=120))
        try:
            yield _Engine(engine, status.url, embedded=True, jvm_pid=status.pid)
        finally:
            await engine.close()
    finally:
        await asyncio.to_thread(embedded.stop)
        shutil.rmtree(root, ignore_errors=True)


class _RssSampler:
    """Samples the RSS of this process (and the engine JVM, for context) in a thread.

    A thread rather than an asyncio task: the event loop is busy with the very
    work being measured, and a task would only sample between its steps.
    """

    def __init__(self, jvm: psutil.Process | None, interval_s: float = 0.1) -> None:
        self._me = psutil.Process()
        self._jvm = jvm
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.peak = 0
        self.jvm_peak = 0

    def _sample(self) -> None:
        self.peak = max(self.peak, self._me.memory_info().rss)
        if self._jvm is not None:
            try:
                self.jvm_peak = max(self.jvm_peak, self._jvm.memory_info().rss)
            except psutil.Error:
                self._jvm = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self._interval)

    def __enter__(self) -> _RssSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def _max_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def _cpu_s(proc: psutil.Process | None) -> float:
    if proc is None:
        return 0.0
    times = proc.cpu_times()
    return float(times.user + times.system)


def _mib(n_bytes: int) -> float:
    return n_bytes / 2**20


async def _bulk(
    engine: SearchEngine, layout: IndexLayout, settings: IndexerSettings, posts: Sequence[Post]
) -> tuple[float, int]:
    """Index ``posts`` the Bluelamp way; return (seconds, retries)."""
    indexer = BulkIndexer(engine, layout, settings)
    await indexer.ensure_template()  # one-off setup, outside the timing
    t0 = time.monotonic()
    report = await indexer.index_posts(posts)
    seconds = time.monotonic() - t0
    if len(report.indexed) != len(posts) or report.failed or report.deferred:
        problems = list(report.failed.items())[:3] + list(report.deferred.items())[:3]
        raise RuntimeError(
            f"bulk indexing lost documents: {len(report.indexed)} of {len(posts)} indexed, "
            f"{len(report.failed)} failed, {len(report.deferred)} deferred; e.g. {problems}"
        )
    return seconds, report.retries


async def _naive(
    engine: SearchEngine, layout: IndexLayout, settings: IndexerSettings, posts: Sequence[Post]
) -> float:
    """Index ``posts`` with one request each, one at a time; return seconds."""
    # The same template as the bulk path, so both index into identical mappings.
    await BulkIndexer(engine, layout, settings).ensure_template()
    now = datetime.now(UTC)
    t0 = time.monotonic()
    for post in posts:
        path = f"/{layout.index_for(post.created_at)}/_doc/{quote(post.id, safe='')}"
        await engine.request("PUT", path, body=orjson.dumps(to_document(post, ingested=now)))
    return time.monotonic() - t0


async def _expect_count(engine: SearchEngine, layout: IndexLayout, expected: int) -> None:
    await engine.refresh(layout.alias)
    found = await engine.count(layout.alias)
    if found != expected:
        raise RuntimeError(f"{layout.alias} holds {found} documents, expected {expected}")


async def _drop(engine: SearchEngine, layout: IndexLayout) -> None:
    # Named one by one: clusters may refuse wildcard deletes.
    for index in await engine.list_indices(layout.pattern):
        await engine.delete_index(index)
    try:
        await engine.request("DELETE", f"/_index_template/{layout.template_name}")
    except EngineError as exc:
        if exc.status != 404:
            raise


def _indexer_settings(options: BenchOptions) -> IndexerSettings:
    default = IndexerSettings()
    return IndexerSettings(
        chunk_docs=options.get_int("chunk_docs", default.chunk_docs),
        chunk_bytes=options.get_int("chunk_bytes", default.chunk_bytes),
        concurrency=options.get_int("concurrency", default.concurrency),
    )


@benchmark("bulk_indexing")
async def bulk_indexing(options: BenchOptions) -> BenchResult:
    """Bulk indexing of 100,000 synthetic posts vs one request per document (docs/s, ratio)."""
    quick = options.quick
    docs = options.get_int("docs", QUICK_DOCS if quick else FULL_DOCS)
    naive_docs = options.get_int("naive_docs", QUICK_NAIVE_DOCS if quick else FULL_NAIVE_DOCS)
    warm_docs = min(docs, options.get_int("warmup_docs", QUICK_WARMUP if quick else FULL_WARMUP))
    warm_naive = min(warm_docs, options.get_int("warmup_naive_docs", WARMUP_NAIVE_DOCS))
    seed = options.get_int("seed", 7)
    heap_mb = options.get_int("heap_mb", HEAP_MB)
    settings = _indexer_settings(options)
    if not 0 < naive_docs <= docs:
        raise ValueError(f"naive_docs must be between 1 and docs ({docs}), got {naive_docs}")

    run = uuid.uuid4().hex[:8]
    bulk_layout, naive_layout, warm_layout = (
        IndexLayout(f"bench-{run}-{part}") for part in ("bulk", "naive", "warm")
    )
    async with _engine(heap_mb) as eng:
        # Generated after the engine is up so the two do not fight for the CPU.
        t0 = time.monotonic()
        posts = demo_posts(docs, seed=seed)
        generate_s = time.monotonic() - t0
        unique = len({p.id for p in posts})
        subset = posts[:naive_docs]
        me = psutil.Process()
        jvm = psutil.Process(eng.jvm_pid) if eng.jvm_pid else None
        try:
            if warm_docs:
                await _bulk(eng.engine, warm_layout, settings, posts[:warm_docs])
                await _naive(eng.engine, warm_layout, settings, posts[:warm_naive])
                await _drop(eng.engine, warm_layout)

            # Naive first: run second, it would compete with the merges that
            # follow 100,000 bulk-indexed documents, which would flatter bulk.
            cpu0 = _cpu_s(me), _cpu_s(jvm)
            naive_s = await _naive(eng.engine, naive_layout, settings, subset)
            naive_cpu = _cpu_s(me) - cpu0[0], _cpu_s(jvm) - cpu0[1]
            await _expect_count(eng.engine, naive_layout, len({p.id for p in subset}))

            cpu0 = _cpu_s(me), _cpu_s(jvm)
            with _RssSampler(jvm) as rss:
                before = rss.peak
                bulk_s, retries = await _bulk(eng.engine, bulk_layout, settings, posts)
            client_cpu, engine_cpu = _cpu_s(me) - cpu0[0], _cpu_s(jvm) - cpu0[1]
            await _expect_count(eng.engine, bulk_layout, unique)
        finally:
            if not eng.embedded:  # an embedded engine's data goes with its temp dir
                for layout in (bulk_layout, naive_layout, warm_layout):
                    # Best effort: a cleanup error must not hide the run's own.
                    with contextlib.suppress(EngineError):
                        await _drop(eng.engine, layout)
        engine_name = f"{eng.engine.info.flavour} {eng.engine.info.version}"

    bulk_rate = docs / bulk_s
    naive_rate = naive_docs / naive_s
    result = BenchResult()
    result.add("bulk_docs_per_s", bulk_rate, "docs/s", f"BulkIndexer over {docs:,} posts")
    result.add(
        "naive_docs_per_s",
        naive_rate,
        "docs/s",
        f"one PUT per post, sequential; timed over {naive_docs:,} posts, extrapolated",
    )
    result.add("ratio", bulk_rate / naive_rate, "x", "bulk docs/s over naive docs/s")
    result.add(
        "peak_rss_mib",
        _max_rss_mib(),
        "MiB",
        "peak RSS of this (the Bluelamp) process over the whole run; excludes the engine JVM",
    )
    result.add("bulk_rss_peak_mib", _mib(rss.peak), "MiB", "sampled every 0.1 s during bulk")
    result.add("rss_before_bulk_mib", _mib(before), "MiB", f"with {docs:,} Posts in memory")
    result.add("bulk_s", bulk_s, "s", f"wall time to bulk index {docs:,} posts")
    result.add("bulk_client_cpu_s", client_cpu, "s", "CPU time of this process during bulk")
    if jvm is not None:
        result.add("bulk_engine_cpu_s", engine_cpu, "s", "CPU time of the engine JVM during bulk")
        result.add(
            "engine_rss_peak_mib",
            _mib(rss.jvm_peak),
            "MiB",
            f"engine JVM during bulk (heap -Xmx{heap_mb}m); for context, not Bluelamp's",
        )
    result.add("bulk_retries", retries, "", "bulk retries (429/5xx or connection errors)")
    result.add("naive_s", naive_s, "s", f"wall time for {naive_docs:,} single-document PUTs")
    result.add("naive_client_cpu_s", naive_cpu[0], "s", "CPU time of this process during naive")
    if jvm is not None:
        result.add("naive_engine_cpu_s", naive_cpu[1], "s", "CPU time of the engine during naive")
    result.add("naive_extrapolated_s", docs / naive_rate, "s", f"naive for {docs:,}, estimated")
    result.add("generate_s", generate_s, "s", f"generating {docs:,} posts (not in any timing)")
    result.targets.append(Target("ratio", ">=", TARGET_RATIO))
    engine_desc = f"embedded, JVM heap {heap_mb} MiB" if eng.embedded else "external cluster"
    result.notes.extend(
        [
            f"naive docs/s is EXTRAPOLATED from {naive_docs:,} sequential single-document PUTs; "
            f"{docs:,} would take about {docs / naive_rate / 60:.1f} min",
            f"both paths ran on a warm engine: {warm_docs:,} bulk + {warm_naive:,} naive "
            "documents were indexed first, untimed, into a throwaway index",
            f"peak RSS is the Bluelamp (Python) process only; the engine ({engine_desc}) "
            "is a separate process and not included",
            f"engine {engine_name}; "
            + (f"client and engine share {os.cpu_count()} CPU cores; " if eng.embedded else "")
            + f"indexer chunk_docs={settings.chunk_docs}, chunk_bytes={settings.chunk_bytes}, "
            f"concurrency={settings.concurrency}",
        ]
    )
    result.context.update(
        engine=engine_name,
        engine_url=eng.url,
        embedded_engine=eng.embedded,
        engine_heap_mb=heap_mb if eng.embedded else None,
        docs=docs,
        naive_docs=naive_docs,
        unique_ids=unique,
        seed=seed,
        warmup_docs=warm_docs,
        warmup_naive_docs=warm_naive,
        indexer=settings.model_dump(),
        load_average_at_end=list(os.getloadavg()),
    )
    return result

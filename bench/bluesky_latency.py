"""Bluesky end-to-end latency: createRecord returns -> the post is searchable.

A local Bluesky network (``tests/support/bluesky``) and an embedded
OpenSearch (or ``BLUELAMP_SEARCH_URL``) are started, and the production
``Monitor`` (what ``serve`` and ``collect`` run: a sources file with one
firehose source, the supervisor, the spool and the drain loop) runs without
NLP models. Posts are then created one by one
through the PDS; for each, the clock starts when ``createRecord`` returns and
stops when a search for its id finds it (polled every ``poll_ms``, each
poll preceded by an index refresh, so the figure is the pipeline's latency
and not the engine's refresh interval). Target: p95 under 2 s.

Parameters (``--set key=value``): posts, poll_ms, gap_ms (pause between posts).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

from bench.bulk_indexing import _engine
from bench.runner import BenchOptions, BenchResult, Target, benchmark
from bluelamp.monitor import Monitor
from bluelamp.pipeline import layout_for
from bluelamp.settings import load_settings
from collectors.bluesky.records import parse_post_uri, post_id
from collectors.cursors import CursorStore
from indexer.engine import SearchEngine
from tests.support.bluesky.devnet import DevNet, Postgres, with_firehose_source

FULL_POSTS, QUICK_POSTS = 200, 40
TARGET_P95_S = 2.0


async def searchable(engine: SearchEngine, alias: str, doc_id: str) -> bool:
    with contextlib.suppress(Exception):  # the index appears with the first post
        await engine.refresh(alias)
        return await engine.count(alias, {"ids": {"values": [doc_id]}}) > 0
    return False


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


@benchmark("bluesky_latency")
async def bluesky_latency(options: BenchOptions) -> BenchResult:
    """Bluesky post created -> searchable in the index (p50/p95/max)."""
    total = options.get_int("posts", QUICK_POSTS if options.quick else FULL_POSTS)
    poll_s = options.get_int("poll_ms", 20) / 1000
    gap_s = options.get_int("gap_ms", 100) / 1000
    result = BenchResult()
    root = Path(tempfile.mkdtemp(prefix="bluelamp-bench-bsky-lat-"))
    postgres = Postgres()
    latencies: list[float] = []
    try:
        net = await asyncio.to_thread(DevNet, postgres.url)
        try:
            async with _engine(512) as eng:
                settings = load_settings(
                    data_dir=root,
                    search={"url": eng.url, "index_prefix": "b" + uuid.uuid4().hex[:8]},
                    nlp={"enabled": False},
                )
                alias = layout_for(settings).alias
                monitor = Monitor(with_firehose_source(settings, net.pds, "bench-latency"))
                cursors = CursorStore(settings.state_url)
                cursors.set("bench-latency", "0")  # a fresh network: replay its few events
                cursors.close()
                await monitor.start()
                try:
                    async with aiohttp.ClientSession(trust_env=False) as session:
                        user = await net.create_account(session, "latency")
                        # One warm-up post: the first bulk request creates the index.
                        warm = await net.create_post(session, user, "warm-up post")
                        warm_id = post_id(*(parse_post_uri(warm) or ("", "")))
                        warm_started = time.monotonic()
                        while not await searchable(eng.engine, alias, warm_id):
                            if time.monotonic() - warm_started > 120:
                                raise RuntimeError("the warm-up post never became searchable")
                            await asyncio.sleep(0.1)
                        for n in range(total):
                            uri = await net.create_post(session, user, f"latency post {n}")
                            started = time.monotonic()
                            doc_id = post_id(*(parse_post_uri(uri) or ("", "")))
                            while not await searchable(eng.engine, alias, doc_id):
                                if time.monotonic() - started > 30:
                                    raise RuntimeError(f"post {n} not searchable after 30 s")
                                await asyncio.sleep(poll_s)
                            latencies.append(time.monotonic() - started)
                            await asyncio.sleep(gap_s)
                finally:
                    await monitor.stop()
        finally:
            await asyncio.to_thread(net.stop)
    finally:
        postgres.stop()
        shutil.rmtree(root, ignore_errors=True)

    result.add("p50_s", statistics.median(latencies), "s", "createRecord -> searchable, median")
    result.add("p95_s", percentile(latencies, 0.95), "s", "createRecord -> searchable, p95")
    result.add("max_s", max(latencies), "s", "createRecord -> searchable, worst")
    result.targets.append(Target("p95_s", "<=", TARGET_P95_S))
    result.context.update(posts=total, poll_ms=poll_s * 1000, gap_ms=gap_s * 1000, engine=eng.url)
    return result

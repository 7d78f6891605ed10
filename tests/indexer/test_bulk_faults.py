"""Retries and per-document outcomes against a real OpenSearch, with faults
injected by a loopback proxy or by the engine itself (index blocks, mappings)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest

from bluelamp.settings import IndexerSettings, Settings
from indexer.bulk import BulkIndexer
from indexer.engine import Connection, SearchEngine, connect
from indexer.layout import IndexLayout
from tests.indexer.helpers import make_post
from tests.support.proxy import FaultProxy


@pytest.fixture
def proxy(opensearch_url: str) -> Iterator[FaultProxy]:
    target = urlparse(opensearch_url)
    fault = FaultProxy(target.hostname or "127.0.0.1", target.port or 80).start()
    yield fault
    fault.stop()


def _fast(**kw: int) -> IndexerSettings:
    return IndexerSettings(backoff_base_s=0.05, backoff_max_s=0.2, **kw)


async def test_whole_request_429_and_503_are_retried(settings: Settings, proxy: FaultProxy) -> None:
    engine = await connect(Connection.from_settings(settings.search, proxy.url))
    try:
        indexer = BulkIndexer(engine, IndexLayout(settings.search.index_prefix), _fast())
        await indexer.ensure_template()
        proxy.fail_next(2, 429)
        proxy.fail_next(1, 503)
        report = await indexer.index_posts([make_post(n) for n in range(20)], refresh=True)
        assert len(report.indexed) == 20 and not report.failed and not report.deferred
        # A dropped keep-alive connection may cost one more retry than the faults.
        assert report.retries >= 3 and proxy.failed_requests == 3
        assert await engine.count(indexer.layout.alias) == 20
    finally:
        await engine.close()


async def test_outage_longer_than_the_retry_budget_defers_everything(
    settings: Settings, proxy: FaultProxy
) -> None:
    engine = await connect(Connection.from_settings(settings.search, proxy.url))
    try:
        indexer = BulkIndexer(
            engine, IndexLayout(settings.search.index_prefix), _fast(max_retries=2)
        )
        await indexer.ensure_template()
        proxy.down()
        report = await indexer.index_posts([make_post(n) for n in range(5)])
        assert not report.indexed and not report.failed
        assert sorted(report.deferred) == sorted(f"bluesky:p{n}" for n in range(5))
        assert "failed" in next(iter(report.deferred.values()))
    finally:
        proxy.up()
        await engine.close()


async def test_per_document_429_is_retried_until_the_engine_accepts(
    settings: Settings, engine: SearchEngine
) -> None:
    layout = IndexLayout(settings.search.index_prefix)
    indexer = BulkIndexer(engine, layout, IndexerSettings(backoff_base_s=0.2, max_retries=8))
    first = await indexer.index_posts([make_post(0)], refresh=True)
    assert first.indexed == ["bluesky:p0"]
    index = layout.index_for(make_post(0).created_at)
    # The flood-stage block makes the engine answer 429 for each document.
    await engine.request(
        "PUT", f"/{index}/_settings", body={"index.blocks.read_only_allow_delete": True}
    )

    async def lift() -> None:
        await asyncio.sleep(1.0)
        await engine.request(
            "PUT", f"/{index}/_settings", body={"index.blocks.read_only_allow_delete": None}
        )

    lifter = asyncio.create_task(lift())
    report = await indexer.index_posts([make_post(n) for n in range(1, 11)], refresh=True)
    await lifter
    assert sorted(report.indexed) == sorted(f"bluesky:p{n}" for n in range(1, 11))
    assert report.retries >= 1 and not report.failed and not report.deferred
    assert await engine.count(layout.alias) == 11


async def test_permanent_rejections_are_reported_per_document(
    settings: Settings, engine: SearchEngine
) -> None:
    layout = IndexLayout(settings.search.index_prefix)
    indexer = BulkIndexer(engine, layout, _fast())
    await indexer.ensure_template()
    good = make_post(1)
    # An index created by hand with a conflicting mapping makes the engine refuse docs.
    index = layout.index_for(good.created_at)
    await engine.request(
        "PUT", f"/{index}", body={"mappings": {"properties": {"native_id": {"type": "long"}}}}
    )
    posts = [make_post(1), make_post(2)]
    report = await indexer.index_posts(posts, refresh=True)
    assert not report.indexed and not report.deferred
    assert set(report.failed) == {"bluesky:p1", "bluesky:p2"}
    assert "HTTP 400" in report.failed["bluesky:p1"]
    assert "native_id" in report.failed["bluesky:p1"]

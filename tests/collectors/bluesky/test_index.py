"""End to end, the production path: PDS -> firehose -> the Monitor that `serve` and
`collect` run (sources file, registry, supervisor, spool, drain) -> OpenSearch."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bluelamp.monitor import Monitor
from bluelamp.pipeline import layout_for
from bluelamp.settings import Settings
from collectors.bluesky.records import parse_post_uri, post_id
from collectors.cursors import CursorStore
from indexer.engine import SearchEngine
from tests.support.bluesky.devnet import DevNet, with_firehose_source


async def hits(engine: SearchEngine, settings: Settings, word: str) -> list[dict[str, Any]]:
    alias = layout_for(settings).alias
    with contextlib.suppress(Exception):  # the index appears with the first post
        await engine.refresh(alias)
        result = await engine.search(alias, {"query": {"match": {"text": word}}, "size": 50})
        return [h["_source"] | {"_id": h["_id"]} for h in result["hits"]["hits"]]
    return []


async def wait_for(check: Any, what: str, timeout_s: float = 30) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


@pytest.fixture
async def pipeline(devnet: DevNet, settings: Settings) -> AsyncIterator[CursorStore]:
    """The Monitor with one firehose source on the dev PDS, until the test ends."""
    monitor = Monitor(with_firehose_source(settings, devnet.pds, "fh-index"))
    cursors = CursorStore(settings.state_url)
    cursors.set("fh-index", "0")  # from the PDS's first event
    await monitor.start()
    try:
        yield cursors
    finally:
        await monitor.stop()
        cursors.close()


async def test_a_post_becomes_searchable_and_its_deletion_removes_it(
    devnet: DevNet,
    xrpc_session: aiohttp.ClientSession,
    settings: Settings,
    engine: SearchEngine,
    pipeline: CursorStore,
) -> None:
    word = "ix" + uuid.uuid4().hex[:8]
    kim = await devnet.create_account(xrpc_session, "kim")
    keep = await devnet.create_post(xrpc_session, kim, f"Car stolen in Salford {word}")
    gone = await devnet.create_post(
        xrpc_session, kim, f"{word} <script>alert(1)</script>mistake\u200b post"
    )
    keep_id, gone_id = (post_id(*(parse_post_uri(u) or ("", ""))) for u in (keep, gone))

    async def both() -> bool:
        return {h["_id"] for h in await hits(engine, settings, word)} == {keep_id, gone_id}

    await wait_for(both, "both posts to be searchable")
    docs = {h["_id"]: h for h in await hits(engine, settings, word)}
    assert docs[gone_id]["text"] == f"{word} mistake post"
    assert docs[keep_id]["author"]["id"] == kim.did

    await devnet.delete_post(xrpc_session, kim, gone)

    async def only_keep() -> bool:
        return {h["_id"] for h in await hits(engine, settings, word)} == {keep_id}

    await wait_for(only_keep, "the deleted post to leave the index")
    assert int(pipeline.get("fh-index") or 0) > 0

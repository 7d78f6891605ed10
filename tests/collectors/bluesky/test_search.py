"""The search collector against a real AppView's ``searchPosts`` (and, for the fault
matrix, a real answer of it replayed with injected faults)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bluelamp.spool import Spool
from collectors.base import HttpSource, RunReport, run_once
from collectors.bluesky.config import BlueskySource
from collectors.bluesky.records import parse_post_uri, post_id
from collectors.bluesky.search import SEARCH, BlueskySearchCollector
from collectors.cursors import CursorStore
from tests.collectors.bluesky.helpers import bluesky_policy, spool_ops
from tests.support.bluesky.devnet import DevNet
from tests.support.collect import spooled_posts
from tests.support.replay import Fault, ReplayServer


def ids_of(uris: list[str]) -> set[str]:
    return {post_id(*(parse_post_uri(u) or ("", ""))) for u in uris}


def searcher(name: str, service: str, queries: list[str], **kw: Any) -> BlueskySearchCollector:
    options = kw.pop("options", {})
    config = BlueskySource(
        name=name,
        kind="bluesky",
        mode="search",
        service=service,
        queries=queries,
        options=options,
        **kw,
    )
    return BlueskySearchCollector(config, HttpSource(name, bluesky_policy()))


async def poll_until(
    collector: BlueskySearchCollector,
    spool: Spool,
    cursors: CursorStore,
    ids: set[str],
    timeout_s: float = 20,
) -> list[RunReport]:
    """Poll until ``ids`` are all spooled: the AppView indexes from the PDS's
    firehose, a moment after createRecord returns."""
    reports = []
    deadline = time.monotonic() + timeout_s
    while True:
        report = await run_once(collector, spool, cursors)
        assert report.ok, report.error
        reports.append(report)
        if ids <= {pid for _, pid, _ in spool_ops(spool)}:
            return reports
        assert time.monotonic() < deadline, f"search never returned all of {ids}"
        await asyncio.sleep(0.2)


async def test_search_collects_posts_with_the_same_ids_as_the_firehose(
    devnet: DevNet, xrpc_session: aiohttp.ClientSession, spool: Spool, cursors: CursorStore
) -> None:
    word = "sq" + uuid.uuid4().hex[:8]
    grace = await devnet.create_account(xrpc_session, "grace")
    plain_uri = await devnet.create_post(
        xrpc_session, grace, f"Burglary reported {word}", langs=["en"]
    )
    hostile_uri = await devnet.create_post(
        xrpc_session, grace, f"{word} <script>alert(1)</script>safe\u200b text"
    )
    other = await devnet.create_post(xrpc_session, grace, "nothing to see here")
    collector = searcher("bs-search", devnet.bsky, [word])
    try:
        await poll_until(collector, spool, cursors, ids_of([plain_uri, hostile_uri]))
    finally:
        await collector.close()
    posts = {p.id: p for p in spooled_posts(spool)}
    assert set(posts) == ids_of([plain_uri, hostile_uri])  # and not the one without the word
    assert ids_of([other]).isdisjoint(posts)
    first = posts[next(iter(ids_of([plain_uri])))]
    assert first.native_id == plain_uri
    assert first.text == f"Burglary reported {word}"
    assert first.author.id == grace.did and first.author.handle == grace.handle
    assert first.language == "en"
    assert first.source.query == word
    assert first.engagement.likes == 0 and first.engagement.replies == 0
    did, rkey = parse_post_uri(plain_uri) or ("", "")
    assert first.url == f"https://bsky.app/profile/{did}/post/{rkey}"
    hostile = posts[next(iter(ids_of([hostile_uri])))]
    assert hostile.text == f"{word} safe text"


async def test_paging_across_polls_collects_everything_once(
    devnet: DevNet, xrpc_session: aiohttp.ClientSession, spool: Spool, cursors: CursorStore
) -> None:
    word = "pg" + uuid.uuid4().hex[:8]
    heidi = await devnet.create_account(xrpc_session, "heidi")
    uris = [await devnet.create_post(xrpc_session, heidi, f"{word} number {n}") for n in range(5)]
    collector = searcher(
        "bs-paging", devnet.bsky, [word], options={"page_limit": 2, "max_pages": 2}
    )
    try:
        await _indexed(devnet, xrpc_session, word, 5)
        first = await run_once(collector, spool, cursors)
        assert first.ok and first.spooled == 4  # two pages of two; the fifth waits
        second = await run_once(collector, spool, cursors)
        assert second.ok and second.spooled == 1  # the rest of that stretch
        third = await run_once(collector, spool, cursors)
        assert third.ok and third.spooled == 0
        late = await devnet.create_post(xrpc_session, heidi, f"{word} late")
        await _indexed(devnet, xrpc_session, word, 6)
        fourth = await run_once(collector, spool, cursors)
        assert fourth.ok and fourth.spooled == 1
    finally:
        await collector.close()
    counts = Counter(pid for kind, pid, _ in spool_ops(spool) if kind == "index")
    assert set(counts) == ids_of([*uris, late]) and max(counts.values()) == 1


async def _indexed(devnet: DevNet, session: aiohttp.ClientSession, word: str, n: int) -> None:
    deadline = time.monotonic() + 20
    while True:
        data = await devnet.xrpc(
            session,
            "app.bsky.feed.searchPosts",
            params={"q": word, "limit": "100"},
            base=devnet.bsky,
        )
        if len(data["posts"]) >= n:
            return
        assert time.monotonic() < deadline, f"the AppView indexed {len(data['posts'])} of {n}"
        await asyncio.sleep(0.1)


async def test_app_password_session_and_no_secret_leaks(
    devnet: DevNet,
    xrpc_session: aiohttp.ClientSession,
    spool: Spool,
    cursors: CursorStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    word = "au" + uuid.uuid4().hex[:8]
    ivan = await devnet.create_account(xrpc_session, "ivan")
    app = await devnet.xrpc(
        xrpc_session,
        "com.atproto.server.createAppPassword",
        body={"name": "bluelamp"},
        token=ivan.access_jwt,
    )
    uri = await devnet.create_post(xrpc_session, ivan, f"{word} with a session")
    monkeypatch.setenv("BSKY_TEST_ID", ivan.handle)
    monkeypatch.setenv("BSKY_TEST_PASSWORD", app["password"])
    credentials = {
        "identifier": {"env": "BSKY_TEST_ID"},
        "password": {"env": "BSKY_TEST_PASSWORD"},
        "service": devnet.pds,
    }
    # Through the PDS, which proxies app.bsky.* to the AppView for a logged-in account.
    collector = searcher("bs-auth", devnet.pds, [word], credentials=credentials)
    try:
        await poll_until(collector, spool, cursors, ids_of([uri]))
        token = collector._token  # checking that it does not leak
        assert token is not None
    finally:
        await collector.close()
    leaks = json.dumps(collector.health.as_dict(), default=str) + (cursors.get("bs-auth") or "")
    assert app["password"] not in leaks and token.get_secret_value() not in leaks

    monkeypatch.setenv("BSKY_TEST_PASSWORD", "wrong-" + app["password"])
    wrong = searcher("bs-auth-bad", devnet.pds, [word], credentials=credentials)
    try:
        report = await run_once(wrong, spool, cursors)
    finally:
        await wrong.close()
    assert report.error is not None and report.error.status == 401
    assert "createSession" in str(report.error) and app["password"] not in str(report.error)


# ----------------------------------------------------------- fault matrix
@pytest.fixture(scope="module")
async def recorded(devnet: DevNet) -> dict[str, Any]:
    """A real searchPosts exchange from the dev AppView: status, headers, body."""
    word = "fm" + uuid.uuid4().hex[:8]
    async with aiohttp.ClientSession(trust_env=False) as session:
        judy = await devnet.create_account(session, "judy")
        uris = [await devnet.create_post(session, judy, f"{word} fault {n}") for n in range(3)]
        await _indexed(devnet, session, word, 3)
        async with session.get(
            f"{devnet.bsky}{SEARCH}", params={"q": word, "limit": "100", "sort": "latest"}
        ) as resp:
            body = await resp.read()
            return {
                "status": resp.status,
                "headers": dict(resp.headers),
                "body": body,
                "uris": uris,
                "word": word,
            }


@pytest.fixture
async def replay(recorded: dict[str, Any]) -> AsyncIterator[ReplayServer]:
    async with ReplayServer() as server:
        server.add_interaction(SEARCH, recorded["status"], recorded["headers"], recorded["body"])
        yield server


FAILING = {
    "500": [Fault.error(500, times=2)],
    "timeout": [Fault.timeout(1.3, times=2)],
    "reset": [Fault.reset(times=4)],  # aiohttp itself retries a reset once per try
    "truncated": [Fault.truncate(40, times=2)],
    "invalid_utf8": [Fault.invalid_utf8()],
    "huge": [Fault.huge()],
    "429_too_long": [Fault.retry_after(3600)],
}


@pytest.mark.parametrize("fault", sorted(FAILING))
async def test_a_failed_poll_loses_nothing_and_the_next_one_recovers(
    fault: str,
    replay: ReplayServer,
    recorded: dict[str, Any],
    spool: Spool,
    cursors: CursorStore,
) -> None:
    replay.inject(SEARCH, *FAILING[fault])
    collector = searcher(f"fm-{fault.replace('_', '-')}", replay.url(""), [recorded["word"]])
    collector.http.policy = collector.http.policy.__class__(
        **{**collector.http.policy.__dict__, "total_timeout_s": 1.0, "max_rate_limit_wait_s": 5}
    )
    try:
        failed = await run_once(collector, spool, cursors)
        assert failed.error is not None, fault
        assert cursors.get(collector.name) is None  # not advanced
        assert spool_ops(spool) == []
        error = collector.health.last_error or ""
        assert collector.name in error and SEARCH in error, error
        recovered = await run_once(collector, spool, cursors)
        assert recovered.ok, recovered.error
        again = await run_once(collector, spool, cursors)
        assert again.ok and again.spooled == 0
    finally:
        await collector.close()
    counts = Counter(pid for _, pid, _ in spool_ops(spool))
    assert set(counts) == ids_of(recorded["uris"]) and max(counts.values()) == 1


async def test_429_with_retry_after_is_waited_out(
    replay: ReplayServer, recorded: dict[str, Any], spool: Spool, cursors: CursorStore
) -> None:
    replay.inject(SEARCH, Fault.retry_after(1))
    collector = searcher("fm-429", replay.url(""), [recorded["word"]])
    try:
        report = await run_once(collector, spool, cursors)
    finally:
        await collector.close()
    assert report.ok and report.spooled == 3
    assert collector.health.rate_limit_hits == 1 and collector.health.rate_limit_wait_s >= 0.9


async def test_ratelimit_remaining_zero_holds_the_next_request(
    replay: ReplayServer, recorded: dict[str, Any], spool: Spool, cursors: CursorStore
) -> None:
    # Bluesky's own spelling (IETF draft): RateLimit-Remaining / RateLimit-Reset (Unix time).
    reset = str(int(time.time()) + 2)
    replay.inject(
        SEARCH,
        Fault.rate_headers(
            {
                "RateLimit-Limit": "3000",
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": reset,
                "RateLimit-Policy": "3000;w=300",
            },
            status=200,
        ),
    )
    collector = searcher("fm-remaining", replay.url(""), [recorded["word"]])
    try:
        assert (await run_once(collector, spool, cursors)).ok
        assert (await run_once(collector, spool, cursors)).ok
    finally:
        await collector.close()
    assert collector.health.rate_limit_hits == 1  # the second poll waited for the reset


async def test_a_result_missing_a_required_field_is_skipped_with_a_warning(
    recorded: dict[str, Any], spool: Spool, cursors: CursorStore
) -> None:
    data = json.loads(recorded["body"])
    broken = data["posts"][1]
    del broken["record"]["createdAt"]
    async with ReplayServer() as server:
        server.add_interaction(SEARCH, 200, recorded["headers"], json.dumps(data).encode())
        collector = searcher("fm-missing", server.url(""), [recorded["word"]])
        try:
            report = await run_once(collector, spool, cursors)
        finally:
            await collector.close()
    assert report.ok and report.spooled == 2
    assert any(broken["uri"] in w and "createdAt" in w for w in report.warnings), report.warnings
    assert broken["uri"] in (collector.health.last_warning or "")

"""The Reddit collector on PRAW's recorded Reddit traffic (Betamax cassettes), over real
HTTP on loopback, into a real spool and a real state DB."""

from __future__ import annotations

import base64
import copy
import json
import logging
from typing import Any
from urllib.parse import parse_qs

import pytest
from pydantic import ValidationError

from bluelamp.errors import ConfigError
from bluelamp.spool import Spool
from collectors import registry
from collectors.base import HttpSource, run_once
from collectors.cursors import CursorStore
from collectors.reddit import RedditAuthError, RedditCollector, RedditSource
from tests.support.collect import FIXTURES as SHARED_FIXTURES
from tests.support.collect import (
    fast_policy,
    fault_matrix,
    needs_fixture,
    spooled_deletes,
    spooled_posts,
)
from tests.support.replay import Fault, Interaction, ReplayServer, load_cassette

FIXTURES = SHARED_FIXTURES / "reddit"
NEW = FIXTURES / "TestSubredditListings.test_new.json"
SEARCH = FIXTURES / "TestSubreddit.test_search.json"
pytestmark = needs_fixture(NEW)

CLIENT_ID = "bluelamp-test-id-4f2a"
CLIENT_SECRET = "s3cr3t-never-in-logs-9c1e"
UA = "python:bluelamp-tests:1.0 (by /u/bluelamp-ci)"
TOKEN = "/api/v1/access_token"
NEW_PATH = "/r/askreddit/new"


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T_REDDIT_ID", CLIENT_ID)
    monkeypatch.setenv("T_REDDIT_SECRET", CLIENT_SECRET)


def collector_for(
    server: ReplayServer,
    *,
    subreddit: str = "askreddit",
    query: str | None = None,
    name: str = "r-askreddit",
    **options: int,
) -> RedditCollector:
    base = server.url("").rstrip("/")
    config = RedditSource.model_validate(
        {
            "name": name,
            "kind": "reddit",
            "subreddit": subreddit,
            "query": query,
            "client_id": {"env": "T_REDDIT_ID"},
            "client_secret": {"env": "T_REDDIT_SECRET"},
            "user_agent": UA,
            "api_url": base,
            "auth_url": base,
            "options": options,
        }
    )
    return RedditCollector(
        config, HttpSource(name, fast_policy(breaker_threshold=20, user_agent=UA))
    )


def recorded_listing() -> tuple[Interaction, dict[str, Any]]:
    token, listing = load_cassette(NEW)
    return token, json.loads(listing.body)


def listing_pages(
    children: list[dict[str, Any]], sizes: list[int]
) -> list[tuple[str | None, dict[str, Any]]]:
    """The recorded listing split into pages linked by ``after`` (as Reddit pages)."""
    pages: list[tuple[str | None, dict[str, Any]]] = []
    start, after = 0, None
    for size in sizes:
        part = children[start : start + size]
        start += size
        nxt = part[-1]["data"]["name"] if start < len(children) else None
        pages.append(
            (after, {"kind": "Listing", "data": {"children": part, "after": nxt, "before": None}})
        )
        after = nxt
    return pages


def serve_pages(
    server: ReplayServer, token: Interaction, pages: list[tuple[str | None, dict[str, Any]]]
) -> None:
    server.recorded.clear()
    server.add_recorded(token)
    headers = {"Content-Type": "application/json; charset=UTF-8"}
    for after, body in pages:
        query = "limit=100&raw_json=1" + (f"&after={after}" if after else "")
        server.add_recorded(
            Interaction(
                "GET",
                f"https://oauth.reddit.com{NEW_PATH}?{query}",
                200,
                headers,
                json.dumps(body).encode(),
            )
        )


def listing_requests(server: ReplayServer) -> list[dict[str, list[str]]]:
    return [parse_qs(r.query) for r in server.requests if r.path == NEW_PATH]


# ------------------------------------------------------------ token + mapping
async def test_token_exchange_and_new_listing(
    server: ReplayServer, spool: Spool, cursors: CursorStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.add_cassette(NEW)
    collector = collector_for(server)
    report = await run_once(collector, spool, cursors)
    assert report.ok and report.spooled == 100, report.error

    token_req = next(r for r in server.requests if r.path == TOKEN)
    assert token_req.method == "POST"
    expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert token_req.headers["Authorization"] == f"Basic {expected}"
    assert parse_qs(token_req.body.decode()) == {"grant_type": ["client_credentials"]}
    assert token_req.headers["User-Agent"] == UA
    listing_req = next(r for r in server.requests if r.path == NEW_PATH)
    assert listing_req.headers["Authorization"] == "bearer <ACCESS_TOKEN>"  # the recorded token
    assert listing_req.headers["User-Agent"] == UA
    assert parse_qs(listing_req.query) == {"limit": ["100"], "raw_json": ["1"]}

    posts, deletes = spooled_posts(spool), spooled_deletes(spool)
    assert not deletes
    first = next(p for p in posts if p.native_id == "t3_48fbm9")
    assert first.id == "reddit:t3_48fbm9" and first.platform == "reddit"
    assert first.text == (
        "[Serious] Parents of Reddit, what's the biggest lie about yourself you've told your kids?"
    )
    assert first.url == (
        "https://www.reddit.com/r/AskReddit/comments/48fbm9/"
        "serious_parents_of_reddit_whats_the_biggest_lie/"
    )
    assert first.author.handle == "RedHeadQc"
    assert first.created_at.timestamp() == 1456821458.0
    assert first.engagement.likes == 1 and first.engagement.replies == 1
    assert first.source.name == "r-askreddit" and first.source.query == "r/askreddit/new"

    # Second poll: the token is cached, the same listing yields nothing new.
    again = await run_once(collector, spool, cursors)
    await collector.close()
    assert again.ok and again.spooled == 0, again.error
    assert server.hits(TOKEN) == 1 and collector.token_requests == 1
    assert CLIENT_SECRET not in caplog.text and CLIENT_SECRET not in str(collector.health)


async def test_search_listing(server: ReplayServer, spool: Spool, cursors: CursorStore) -> None:
    server.add_cassette(SEARCH)
    collector = collector_for(server, subreddit="all", query="praw oauth search", name="s")
    report = await run_once(collector, spool, cursors)
    await collector.close()
    assert report.ok and report.spooled == 6, report.error
    request = next(r for r in server.requests if r.path == "/r/all/search/")
    assert parse_qs(request.query) == {
        "q": ["praw oauth search"],
        "restrict_sr": ["1"],
        "sort": ["new"],
        "t": ["all"],
        "limit": ["100"],
        "raw_json": ["1"],
    }
    posts = spooled_posts(spool)
    solved = next(p for p in posts if p.native_id == "t3_3gpbiu")
    assert solved.text.startswith("[PRAW][OAuth2Util] Problem using get_banned()")
    assert "Problem solved with this" in solved.text  # selftext follows the title
    assert solved.source.query == "r/all: praw oauth search"
    assert all(p.url and p.url.startswith("https://www.reddit.com/r/") for p in posts)
    assert {p.native_id for p in posts} >= {"t3_4at068"}  # the Japanese post flows too


# ------------------------------------------------------------ paging + cursor
async def test_paging_and_resume_without_duplicates(
    server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    token, listing = recorded_listing()
    children = listing["data"]["children"]
    # Earlier: only the older 50 posts existed.
    serve_pages(server, token, listing_pages(children[50:], [50]))
    collector = collector_for(server)
    first = await run_once(collector, spool, cursors)
    assert first.ok and first.spooled == 50, first.error

    # Later: 50 newer posts above them; Reddit pages the listing 40 at a time.
    serve_pages(server, token, listing_pages(children, [40, 40, 20]))
    before = len(server.requests)
    second = await run_once(collector, spool, cursors)
    await collector.close()
    assert second.ok and second.spooled == 50, second.error
    asked = [parse_qs(r.query).get("after") for r in server.requests[before:]]
    # Page 2 holds the first post already seen: page 3 is never asked for.
    assert asked == [None, [children[39]["data"]["name"]]]
    posts = spooled_posts(spool)
    ids = [p.id for p in posts]
    assert len(ids) == len(set(ids)) == 100
    assert {p.native_id for p in posts} == {c["data"]["name"] for c in children}


async def test_bounded_pages_continue_next_poll(
    server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    token, listing = recorded_listing()
    children = listing["data"]["children"]
    serve_pages(server, token, listing_pages(children[90:], [10]))
    collector = collector_for(server, max_pages=2)
    assert (await run_once(collector, spool, cursors)).spooled == 10

    serve_pages(server, token, listing_pages(children, [40, 40, 20]))
    backlog = await run_once(collector, spool, cursors)
    assert backlog.ok and backlog.spooled == 80, backlog.error
    assert any("next poll" in w for w in backlog.warnings)
    assert collector.health.last_warning and "next poll" in collector.health.last_warning

    rest = await run_once(collector, spool, cursors)  # continues below page 2
    assert rest.ok and rest.spooled == 10, rest.error
    assert parse_qs(server.requests[-1].query)["after"] == [children[79]["data"]["name"]]

    caught_up = await run_once(collector, spool, cursors)  # from the top: nothing new
    await collector.close()
    assert caught_up.ok and caught_up.spooled == 0 and not caught_up.warnings
    assert "after" not in parse_qs(server.requests[-1].query)
    posts = spooled_posts(spool)
    assert len({p.id for p in posts}) == len(posts) == 100


# ------------------------------------------------------------------- auth
async def test_401_refreshes_the_token_once(
    server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    server.add_cassette(NEW)
    collector = collector_for(server)
    server.inject(NEW_PATH, Fault.error(401))
    report = await run_once(collector, spool, cursors)
    assert report.ok and report.spooled == 100, report.error
    assert collector.token_requests == 2 and server.hits(TOKEN) == 2

    # Still refused after the refresh: the poll fails (no loop), the cursor stays.
    saved = cursors.get("r-askreddit")
    server.inject(NEW_PATH, Fault.error(401, times=2))
    failed = await run_once(collector, spool, cursors)
    await collector.close()
    assert failed.error is not None and failed.error.status == 401
    assert collector.token_requests == 3
    assert cursors.get("r-askreddit") == saved


async def test_refused_credentials_are_reported_without_the_secret(
    server: ReplayServer, spool: Spool, cursors: CursorStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.add_cassette(NEW)
    server.inject(TOKEN, Fault.error(401))
    collector = collector_for(server)
    report = await run_once(collector, spool, cursors)
    await collector.close()
    assert isinstance(report.error, RedditAuthError)
    text = str(report.error)
    assert "r-askreddit" in text and TOKEN in text and "401" in text and "client_id" in text
    for where in (text, caplog.text, str(collector.health.as_dict())):
        assert CLIENT_SECRET not in where and CLIENT_ID not in where
    assert cursors.get("r-askreddit") is None and not spooled_posts(spool)


def test_config_and_missing_secret() -> None:
    entry = {
        "name": "r-gmp",
        "kind": "reddit",
        "subreddit": "manchester",
        "client_id": {"env": "T_REDDIT_ID"},
        "client_secret": {"file": "/nonexistent/reddit_secret"},
    }
    source = RedditSource.model_validate(entry)
    assert source.api_url == "https://oauth.reddit.com"
    assert registry.KIND_MODULES["reddit"] == "collectors.reddit"
    with pytest.raises(ConfigError, match="reddit_secret"):
        registry.build(source)  # the secret file is read when the collector is built
    with pytest.raises(ValidationError, match="max_pagez"):
        RedditSource.model_validate({**entry, "options": {"max_pagez": 3}})
    with pytest.raises(ValidationError, match="subreddit"):
        RedditSource.model_validate({**entry, "subreddit": "r/../x"})


# ------------------------------------------------------------ rate limits
async def test_reddit_rate_limit_headers_are_honoured(
    server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    server.add_cassette(NEW)
    collector = collector_for(server)
    # Reddit's own headers: remaining is a float, reset is seconds to the window's end.
    server.inject(
        NEW_PATH,
        Fault.rate_headers(
            {"x-ratelimit-remaining": "0.0", "x-ratelimit-used": "600", "x-ratelimit-reset": "1"},
            status=200,
        ),
    )
    first = await run_once(collector, spool, cursors)
    assert first.ok and first.spooled == 100
    assert collector.health.rate_limit_hits == 0
    second = await run_once(collector, spool, cursors)  # held until the reset
    assert second.ok, second.error
    assert collector.health.rate_limit_hits == 1 and collector.health.rate_limit_wait_s > 0.5

    server.inject(NEW_PATH, Fault.rate_headers({"x-ratelimit-reset": "1"}, status=429))
    third = await run_once(collector, spool, cursors)
    await collector.close()
    assert third.ok, third.error
    assert collector.health.rate_limit_hits == 2


# ------------------------------------------------------------ fault matrix
FAULTS = {**fault_matrix(), "token 500": []}


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_fault_matrix(
    fault: str, server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    server.add_cassette(NEW)
    collector = collector_for(server)
    if fault == "token 500":
        server.inject(TOKEN, Fault.error(500, times=2))
    else:
        server.inject(NEW_PATH, *FAULTS[fault])
    first = await run_once(collector, spool, cursors)
    if fault == "429 Retry-After":  # waited as told, within the poll
        assert first.ok and first.spooled == 100, first.error
        assert collector.health.rate_limit_hits == 1
    else:
        assert first.error is not None, fault
        error = collector.health.last_error or ""
        assert "r-askreddit" in error and server.url("") in error, error
        assert (
            cursors.get("r-askreddit") is None
            and not spooled_posts(spool)
            and not spooled_deletes(spool)
        )
        second = await run_once(collector, spool, cursors)
        assert second.ok and second.spooled == 100, second.error
    third = await run_once(collector, spool, cursors)
    await collector.close()
    assert third.ok and third.spooled == 0
    posts = spooled_posts(spool)
    assert len(posts) == len({p.id for p in posts}) == 100


async def test_record_missing_required_field_is_skipped_with_a_warning(
    server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    token, listing = recorded_listing()
    children = copy.deepcopy(listing["data"]["children"])
    del children[3]["data"]["created_utc"]
    del children[7]["data"]["title"]
    serve_pages(server, token, listing_pages(children, [100]))
    collector = collector_for(server)
    report = await run_once(collector, spool, cursors)
    await collector.close()
    assert report.ok and report.spooled == 98, report.error
    broken = [children[3]["data"]["name"], children[7]["data"]["name"]]
    assert all(any(name in w for w in report.warnings) for name in broken), report.warnings
    assert collector.health.last_warning


# ------------------------------------------------------------ hostile text
async def test_hostile_text_and_removed_posts(
    server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    token, listing = recorded_listing()
    children = copy.deepcopy(listing["data"]["children"][:6])
    # Recorded posts with attacker-written fields substituted (Reddit passes them through).
    evil = children[0]["data"]
    evil["title"] = "Stabbing <script>alert(1)</script>on\u200b Deansgate\u202e"
    evil["selftext"] = "&lt;img src=x onerror=alert(1)&gt; <iframe src=javascript:x></iframe>seen"
    evil["author"] = "<b>mallory</b>"
    link = children[1]["data"]
    link["is_self"] = False
    link["url"] = "javascript:alert(document.cookie)"
    link["permalink"] = "javascript:alert(2)"
    children[2]["data"].update(selftext="[removed]", removed_by_category="moderator")
    children[3]["data"].update(selftext="[deleted]", author="[deleted]")
    children[4]["data"]["author"] = "[deleted]"  # account gone, post stays
    serve_pages(server, token, listing_pages(children, [6]))
    collector = collector_for(server)
    report = await run_once(collector, spool, cursors)
    await collector.close()
    assert report.ok, report.error
    posts, deletes = spooled_posts(spool), spooled_deletes(spool)
    assert sorted(deletes) == sorted(f"reddit:{children[i]['data']['name']}" for i in (2, 3))
    by_id = {p.native_id: p for p in posts}
    assert len(by_id) == 4
    bad = by_id[evil["name"]]
    assert bad.text == "Stabbing on Deansgate\n\nseen"
    assert bad.author.handle == "mallory"
    assert by_id[link["name"]].url is None and by_id[link["name"]].links == []
    assert by_id[children[4]["data"]["name"]].author.handle is None
    for post in posts:
        low = post.text.lower()
        assert "<" not in post.text and "javascript:" not in low and "onerror" not in low
        assert "\u200b" not in post.text and "\u202e" not in post.text

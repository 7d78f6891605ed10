"""The X API v2 collector over real HTTP, into a real spool and a real cursor store.

Recorded traffic (Tweepy's VCR cassettes in ../shared/fixtures/x_api_v2) is
replayed by the loopback server: recent search (two real pages), and the
compliance job create / get. What X was never recorded doing is written here
by hand, following X's documented formats and built from recorded tweet
objects; each such response says so where it is built:

- a search page with ``expansions`` (``includes.users`` / ``includes.places``)
  and the requested ``tweet.fields`` (the recordings asked for no fields);
- the filtered stream (newline-delimited JSON, ``matching_rules``, keep-alive
  blank lines) and its rules endpoint;
- the compliance upload (``PUT``) and result download (JSON lines), and the
  job turning ``complete``.

The recorded clock is pinned to just after the recordings (October 2022),
because recent search only reaches back 7 days from "now".
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiohttp import web
from structlog.testing import capture_logs

from bluelamp.errors import ConfigError
from bluelamp.spool import Spool
from collectors import registry
from collectors.base import HttpSource, RunReport, run_once
from collectors.config import parse_sources
from collectors.cursors import CursorStore
from collectors.supervisor import StreamPolicy, supervise
from collectors.x import XSearchCollector, XSource, XStreamCollector, build, make_api
from collectors.x.mapping import id_time
from tests.support.collect import FIXTURES as SHARED_FIXTURES
from tests.support.collect import fast_policy, spooled_deletes, spooled_posts
from tests.support.replay import Fault, Interaction, ReplayServer, load_cassette

FIXTURES = SHARED_FIXTURES / "x_api_v2"
SEARCH = "/2/tweets/search/recent"
STREAM = "/2/tweets/search/stream"
RULES = "/2/tweets/search/stream/rules"
JOB_ID = "1446017776678801409"
TOKEN = "AAAAtest-bearer-token-never-logged"  # a test value, not a credential
RECORDED_AT = datetime(2022, 10, 7, 23, 10, tzinfo=UTC)  # just after the search recordings
PAGE1_NEWEST = "1578522194770296832"  # test_asyncclient_search_recent_tweets (22:54-23:06)
PAGE2_NEWEST = "1578516068309794817"  # test_client_search_recent_tweets (22:24-22:42)


# ------------------------------------------------------------ recordings
def recorded(name: str) -> list[Interaction]:
    """A cassette's interactions with gzip bodies decoded (the replay server drops
    ``Content-Encoding`` as a hop header, so it must serve the decoded body)."""
    out = []
    for item in load_cassette(FIXTURES / name):
        body = gzip.decompress(item.body) if item.body[:2] == b"\x1f\x8b" else item.body
        out.append(replace(item, body=body))
    return out


def page(name: str) -> Interaction:
    return recorded(name)[0]


def body_of(item: Interaction) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(item.body)
    return document


def with_body(item: Interaction, document: dict[str, Any] | bytes, **changes: Any) -> Interaction:
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    return replace(item, body=body, **changes)


def hand_written(method: str, path: str, document: Any, status: int = 200) -> Interaction:
    """A response X was not recorded giving, in its documented format."""
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    headers = {"content-type": "application/json; charset=utf-8"}
    return Interaction(method, f"https://api.x.com{path}", status, headers, body)


def recorded_tweets() -> list[dict[str, Any]]:
    """Every recorded tweet object, newest first."""
    tweets: dict[str, dict[str, Any]] = {}
    for name in (
        "test_asyncclient_search_recent_tweets.yaml",
        "test_client_search_recent_tweets.yaml",
        "test_asyncclient_get_users_mentions.yaml",
    ):
        for tweet in body_of(page(name))["data"]:
            tweets[tweet["id"]] = tweet
    return sorted(tweets.values(), key=lambda t: int(t["id"]), reverse=True)


def last_page(item: Interaction) -> Interaction:
    """A recorded page as the last one (no ``next_token``), for one-page polls."""
    document = body_of(item)
    document["meta"].pop("next_token")
    return with_body(item, document)


def newer_page() -> Interaction:
    """The two recorded mention tweets (posted after both search pages), as a last page."""
    mentions = body_of(page("test_asyncclient_get_users_mentions.yaml"))
    data = mentions["data"]
    meta = {"newest_id": data[0]["id"], "oldest_id": data[-1]["id"], "result_count": len(data)}
    return with_body(
        page("test_asyncclient_search_recent_tweets.yaml"), {"data": data, "meta": meta}
    )


# ------------------------------------------------------------ fixtures
class Clock:
    def __init__(self, now: datetime = RECORDED_AT) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_TEST_BEARER", TOKEN)


def config(server: ReplayServer, **fields: Any) -> XSource:
    entry: dict[str, Any] = {
        "name": "gmp-x",
        "kind": "x",
        "bearer_token": {"env": "X_TEST_BEARER"},
        "query": "Tweepy",
        "api_base": server.url(""),
        "options": {"max_pages": 2, "max_results": 10},
    }
    entry.update(fields)
    return XSource.model_validate(entry)


def searcher(server: ReplayServer, clock: Clock | None = None, **fields: Any) -> XSearchCollector:
    cfg = config(server, **fields)
    api = make_api(cfg, HttpSource(cfg.name, fast_policy(breaker_threshold=100)))
    return XSearchCollector(cfg, api, clock=clock or Clock())


def query_of(server: ReplayServer, path: str, index: int = -1) -> dict[str, str]:
    seen = [r for r in server.requests if r.path == path]
    return {k: v[0] for k, v in parse_qs(seen[index].query).items()}


def assert_no_token(*texts: object) -> None:
    for text in texts:
        assert TOKEN not in str(text)


# ------------------------------------------------------------ search
async def test_recorded_pages_follow_next_token_then_resume_from_since_id(
    server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    server.add_cassette(
        [
            page("test_asyncclient_search_recent_tweets.yaml"),  # newest page
            page("test_client_search_recent_tweets.yaml"),  # the page before it
            newer_page(),  # what is new at the second poll
        ]
    )
    collector = searcher(server)
    first = await run_once(collector, spool, cursors)
    assert first.ok and first.spooled == 20, first.error
    assert any("first poll read 2 pages" in w for w in first.warnings)
    q1, q2 = query_of(server, SEARCH, 0), query_of(server, SEARCH, 1)
    assert q1["query"] == "Tweepy" and "since_id" not in q1 and "next_token" not in q1
    assert "author_id" in q1["expansions"] and "geo.place_id" in q1["expansions"]
    for field in ("created_at", "public_metrics", "referenced_tweets", "entities", "geo"):
        assert field in q1["tweet.fields"]
    assert (
        q2["next_token"]
        == body_of(page("test_asyncclient_search_recent_tweets.yaml"))["meta"]["next_token"]
    )
    request = server.requests[0]
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert json.loads(cursors.get("gmp-x") or "{}")["since_id"] == PAGE1_NEWEST

    posts = {p.native_id: p for p in spooled_posts(spool)}
    post = posts[PAGE1_NEWEST]
    assert post.id == f"x:{PAGE1_NEWEST}" and post.platform == "x"
    assert post.text.startswith("RT @t6dr1ve: #TwitterBots go away! We don't need your help!")
    assert post.url == f"https://x.com/i/web/status/{PAGE1_NEWEST}"
    # No created_at was asked for in the recording: the snowflake id dates it.
    assert post.created_at == id_time(PAGE1_NEWEST)
    assert post.created_at.strftime("%H:%M") == "23:06"
    assert post.source.name == "gmp-x" and post.source.query == "Tweepy"

    second = await run_once(collector, spool, cursors)
    assert second.ok and second.spooled == 2
    assert query_of(server, SEARCH)["since_id"] == PAGE1_NEWEST
    # The replay keeps serving that page; X would send nothing new: nor do we.
    third = await run_once(collector, spool, cursors)
    await collector.close()
    assert third.ok and third.spooled == 0
    ids = [p.id for p in spooled_posts(spool)]
    assert len(ids) == len(set(ids)) == 22


async def test_unfinished_catch_up_continues_from_next_token(
    server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    """More new pages than max_pages: since_id waits until the gap is filled."""
    server.add_cassette(
        [
            page("test_asyncclient_search_recent_tweets.yaml"),
            last_page(page("test_client_search_recent_tweets.yaml")),
        ]
    )
    since = "1578500000000000000"  # 21:27 on the recording day: both pages are newer
    cursors.set("gmp-x", json.dumps({"since_id": since}))
    collector = searcher(server, options={"max_pages": 1, "max_results": 10})
    first = await run_once(collector, spool, cursors)
    state = json.loads(cursors.get("gmp-x") or "{}")
    assert first.ok and first.spooled == 10
    assert state["since_id"] == since and state["paging"]["newest_id"] == PAGE1_NEWEST
    second = await run_once(collector, spool, cursors)
    await collector.close()
    assert second.ok and second.spooled == 10
    token = body_of(page("test_asyncclient_search_recent_tweets.yaml"))["meta"]["next_token"]
    assert query_of(server, SEARCH)["next_token"] == token
    assert query_of(server, SEARCH)["since_id"] == since
    state = json.loads(cursors.get("gmp-x") or "{}")
    assert state["since_id"] == PAGE1_NEWEST and state["paging"] is None
    assert len({p.id for p in spooled_posts(spool)}) == 20


def expanded_page() -> Interaction:
    """Hand-written, following X's documented search response with
    ``expansions=author_id,geo.place_id``: recorded tweet objects given the
    requested fields, and the users and places they name in ``includes``."""
    tweets = recorded_tweets()[:4]
    a, b, c, d = (dict(t) for t in tweets)
    a.update(
        author_id="2244994945",
        created_at="2022-10-07T23:07:00.000Z",
        lang="en",
        geo={"place_id": "01a9a39529b27f36"},
        public_metrics={"retweet_count": 3, "reply_count": 1, "like_count": 9, "quote_count": 0},
        entities={
            "hashtags": [{"start": 0, "end": 4, "tag": "GMP"}],
            "mentions": [{"start": 5, "end": 10, "username": "gmpolice", "id": "1"}],
            "urls": [
                {"expanded_url": "https://www.gmp.police.uk/news/1", "url": "https://t.co/a"},
                {"expanded_url": "javascript:alert(1)", "url": "https://t.co/b"},
            ],
        },
        referenced_tweets=[{"type": "quoted", "id": PAGE2_NEWEST}],
    )
    b.update(
        author_id="783214",
        lang="und",
        geo={"coordinates": {"type": "Point", "coordinates": [-2.2446, 53.4794]}},
        text=(
            "&lt;script&gt;alert(1)&lt;/script&gt;Road closed &amp; diverted "
            "&lt;b&gt;now&lt;/b&gt; \u200bnear &lt;img src=x onerror=alert(2)&gt;Deansgate"
        ),
    )
    c.update(author_id="missing-from-includes")
    del d["text"]  # a record missing a required field
    users = [
        {
            "id": "2244994945",
            "username": "XDevelopers",
            "name": "Developers",
            "location": "Manchester, UK",
        },
        {
            "id": "783214",
            "username": "X",
            "name": "<b>X</b> &lt;i&gt;HQ&lt;/i&gt;",
            "location": "<script>x</script>\u200bEverywhere",
        },
    ]
    places = [
        {
            "id": "01a9a39529b27f36",
            "full_name": "Manchester, England",
            "geo": {"type": "Feature", "bbox": [-2.32, 53.34, -2.14, 53.54], "properties": {}},
        }
    ]
    document = {
        "data": [a, b, c, d],
        "includes": {"users": users, "places": places},
        "meta": {"newest_id": a["id"], "oldest_id": d["id"], "result_count": 4},
    }
    return with_body(page("test_asyncclient_search_recent_tweets.yaml"), document)


async def test_authors_places_and_hostile_text_join_into_safe_posts(
    server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    server.add_cassette([expanded_page()])
    collector = searcher(server)
    report = await run_once(collector, spool, cursors)
    await collector.close()
    assert report.ok and report.spooled == 3, report.error
    a, b, c, d = recorded_tweets()[:4]
    # The record without text is skipped, named, and the rest flows.
    assert any(f"post {d['id']}" in w and "'text' missing" in w for w in report.warnings)
    assert collector.health.last_warning
    posts = {p.native_id: p for p in spooled_posts(spool)}
    first = posts[a["id"]]
    assert first.author.handle == "XDevelopers" and first.author.display_name == "Developers"
    assert first.author.id == "2244994945"
    assert first.author.location == "Manchester, UK"  # the profile location, for the geoparser
    assert first.url == f"https://x.com/XDevelopers/status/{a['id']}"
    assert first.created_at == datetime(2022, 10, 7, 23, 7, tzinfo=UTC)
    assert first.language == "en"
    assert first.geo is not None
    assert (round(first.geo.lat, 2), round(first.geo.lon, 2)) == (53.44, -2.23)  # bbox centre
    assert first.engagement.likes == 9 and first.engagement.reposts == 3
    assert first.hashtags == ["gmp"] and first.mentions == ["gmpolice"]
    assert first.links == ["https://www.gmp.police.uk/news/1"]  # javascript: dropped
    assert [(r.kind, r.id) for r in first.references] == [("quote", f"x:{PAGE2_NEWEST}")]

    hostile = posts[b["id"]]
    assert hostile.text == "Road closed & diverted now near Deansgate"
    assert "<" not in hostile.text and "\u200b" not in hostile.text
    assert hostile.author.display_name == "X HQ"
    assert hostile.author.location == "Everywhere"
    assert hostile.language is None  # "und" is not a language
    assert hostile.geo is not None and (hostile.geo.lat, hostile.geo.lon) == (53.4794, -2.2446)

    orphan = posts[c["id"]]
    assert orphan.author.id == "missing-from-includes" and orphan.author.handle is None


# ------------------------------------------------------------ faults
FAULTS: dict[str, Callable[[], list[Fault]]] = {
    "500": lambda: [Fault.error(500, times=2)],
    "timeout": lambda: [Fault.timeout(1.0, times=2)],
    # aiohttp itself re-sends a GET once when the connection drops unanswered
    "connection reset": lambda: [Fault.reset(times=4)],
    "truncated body": lambda: [Fault.truncate(200, times=2)],
    "invalid utf-8": lambda: [Fault.invalid_utf8()],
    "10 MB body": lambda: [Fault.huge(10 * 1024 * 1024 + 1)],
}


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_fault_fails_the_poll_then_the_next_poll_collects_everything_once(
    fault: str, server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    server.add_cassette([last_page(page("test_asyncclient_search_recent_tweets.yaml"))])
    server.inject(SEARCH, *FAULTS[fault]())
    collector = searcher(server)
    failed = await run_once(collector, spool, cursors)
    assert failed.error is not None, fault
    assert cursors.get("gmp-x") is None and spooled_posts(spool) == []
    error = collector.health.last_error or ""
    assert "gmp-x" in error and SEARCH in error, error
    assert_no_token(error, failed.error, collector.health.as_dict())

    recovered = await run_once(collector, spool, cursors)
    again = await run_once(collector, spool, cursors)
    await collector.close()
    assert recovered.ok and recovered.spooled == 10, recovered.error
    assert again.ok and again.spooled == 0
    ids = [p.id for p in spooled_posts(spool)]
    assert len(ids) == len(set(ids)) == 10
    assert collector.health.errors == 1 and collector.health.last_success_at is not None


async def test_truncated_json_with_a_correct_length_is_an_error_not_a_loss(
    server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    good = last_page(page("test_asyncclient_search_recent_tweets.yaml"))
    server.add_cassette([with_body(good, good.body[:300]), good])
    collector = searcher(server)
    failed = await run_once(collector, spool, cursors)
    assert failed.error is not None and "not JSON" in str(failed.error)
    assert failed.error.status == 200 and SEARCH in (failed.error.url or "")
    recovered = await run_once(collector, spool, cursors)
    await collector.close()
    assert recovered.ok and recovered.spooled == 10


async def test_429_retry_after_is_waited_out_within_the_poll(
    server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    server.add_cassette([last_page(page("test_asyncclient_search_recent_tweets.yaml"))])
    server.inject(SEARCH, Fault.retry_after(1))
    collector = searcher(server)
    report = await run_once(collector, spool, cursors)
    await collector.close()
    assert report.ok and report.spooled == 10
    assert collector.health.rate_limit_hits == 1 and collector.health.rate_limit_wait_s >= 0.95


async def test_x_rate_limit_headers_are_honoured(
    server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    """``x-rate-limit-remaining: 0`` holds the next request until ``x-rate-limit-reset``
    (a Unix time); a 429 whose reset is too far away ends the poll unadvanced."""
    server.add_cassette(
        [
            page("test_asyncclient_search_recent_tweets.yaml"),
            last_page(page("test_client_search_recent_tweets.yaml")),
        ]
    )
    reset = str(int(time.time()) + 2)
    server.inject(
        SEARCH,
        Fault.rate_headers(
            {
                "x-rate-limit-remaining": "0",
                "x-rate-limit-reset": reset,
                "x-rate-limit-limit": "450",
            },
            status=200,
        ),
    )
    collector = searcher(server)
    report = await run_once(collector, spool, cursors)
    assert report.ok and report.spooled == 20
    assert collector.health.rate_limit_hits == 1 and collector.health.rate_limit_wait_s > 0.5

    far = str(int(time.time()) + 900)  # X's 15-minute window: longer than this poll may wait
    server.inject(SEARCH, Fault.rate_headers({"x-rate-limit-reset": far}, status=429))
    before = cursors.get("gmp-x")
    limited = await run_once(collector, spool, cursors)
    await collector.close()
    assert limited.error is not None and limited.error.status == 429
    assert "rate limited" in str(limited.error) and cursors.get("gmp-x") == before


async def test_since_id_older_than_the_search_window_is_reported_as_a_gap(
    server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    server.add_cassette([last_page(page("test_asyncclient_search_recent_tweets.yaml"))])
    old = "1570000000000000000"  # 2022-09-14: more than 7 days before the clock
    cursors.set("gmp-x", json.dumps({"since_id": old}))
    collector = searcher(server)
    report = await run_once(collector, spool, cursors)
    await collector.close()
    assert report.ok and report.spooled == 10
    assert any("older than recent search's 7 days" in w for w in report.warnings)
    sent = query_of(server, SEARCH)
    assert "since_id" not in sent and sent["start_time"].startswith("2022-09-30T23:1")


# ------------------------------------------------------------ compliance
def compliance_cassette(server: ReplayServer, our_ids: list[str]) -> list[Interaction]:
    """The recorded job create and get, with the storage URLs pointing here; then the
    job turning ``complete`` (hand-written: the recorded job never finished), the
    upload answer and the result file (hand-written, X's documented JSON lines)."""
    storage = "https://storage.googleapis.com"
    here = server.url("")
    create, get, _list = (
        with_body(item, item.body.replace(storage.encode(), here.encode()))
        for item in recorded("test_client_create_and_get_compliance_job_and_jobs.yaml")
    )
    job = body_of(get)
    upload_path = job["data"]["upload_url"].removeprefix(here).split("?")[0]
    download_path = job["data"]["download_url"].removeprefix(here).split("?")[0]
    job["data"]["status"] = "complete"
    results = [
        {"id": our_ids[0], "action": "delete", "reason": "deleted",
         "created_at": "2022-10-07T23:06:12.000Z", "redacted_at": "2022-10-08T10:00:00.000Z"},
        {"id": our_ids[1], "action": "delete", "reason": "suspended",
         "created_at": "2022-10-07T23:04:12.000Z", "redacted_at": "2022-10-08T10:00:00.000Z"},
        {"id": our_ids[2], "action": "scrub_geo", "reason": "scrub_geo",
         "created_at": "2022-10-07T23:02:12.000Z", "redacted_at": "2022-10-08T10:00:00.000Z"},
    ]  # fmt: skip
    lines = b"\n".join(json.dumps(r).encode() for r in results) + b"\nnot json\n"
    return [
        create,
        get,
        with_body(get, job),
        hand_written("PUT", upload_path, b""),
        hand_written("GET", download_path, lines),
    ]


async def test_compliance_job_turns_deleted_posts_into_deletions(
    server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    search_page = last_page(page("test_asyncclient_search_recent_tweets.yaml"))
    ours = [t["id"] for t in body_of(search_page)["data"]]
    server.add_cassette([search_page, *compliance_cassette(server, ours)])
    clock = Clock()
    collector = searcher(server, clock)
    first = await run_once(collector, spool, cursors)
    assert first.ok and first.spooled == 10 and server.hits("/2/compliance/jobs") == 0
    clock.now += timedelta(days=1, seconds=1)  # the daily check is due
    second = await run_once(collector, spool, cursors)
    assert second.ok and second.deletes == 0, (second.error, second.warnings)
    state = json.loads(cursors.get("gmp-x") or "{}")
    assert state["compliance"]["job"]["id"] == JOB_ID  # created, uploaded, still "created"
    create = next(r for r in server.requests if r.method == "POST")
    assert json.loads(create.body)["type"] == "tweets"
    assert create.headers["Authorization"] == f"Bearer {TOKEN}"
    upload = next(r for r in server.requests if r.method == "PUT")
    assert sorted(upload.body.decode().split()) == sorted(ours)
    assert upload.headers["Content-Type"] == "text/plain"
    assert "Authorization" not in upload.headers  # a storage URL: no token there

    clock.now += timedelta(minutes=5)
    third = await run_once(collector, spool, cursors)
    await collector.close()
    assert third.ok and third.deletes == 2, (third.error, third.warnings)
    assert sorted(spooled_deletes(spool)) == sorted([f"x:{ours[0]}", f"x:{ours[1]}"])
    assert any("1 non-delete actions" in w for w in third.warnings)
    assert any("line 4 unreadable" in w for w in third.warnings)
    download = [r for r in server.requests if "/delivery/" in r.path]
    assert len(download) == 1 and "Authorization" not in download[0].headers
    state = json.loads(cursors.get("gmp-x") or "{}")
    assert state["compliance"]["job"] is None
    assert ours[0] not in state["ids"] and ours[2] in state["ids"]


async def test_compliance_failure_is_a_warning_and_is_retried(
    server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    search_page = last_page(page("test_asyncclient_search_recent_tweets.yaml"))
    ours = [t["id"] for t in body_of(search_page)["data"]]
    server.add_cassette([search_page, *compliance_cassette(server, ours)])
    clock = Clock()
    collector = searcher(server, clock)
    await run_once(collector, spool, cursors)
    clock.now += timedelta(days=2)
    server.inject("/2/compliance/jobs", Fault.error(503, times=2))
    failed = await run_once(collector, spool, cursors)
    assert failed.ok and any("compliance check not done" in w for w in failed.warnings)
    assert "/2/compliance/jobs" in (collector.health.last_warning or "")
    assert json.loads(cursors.get("gmp-x") or "{}")["compliance"].get("job") is None
    await run_once(collector, spool, cursors)  # creates and uploads
    done = await run_once(collector, spool, cursors)  # complete: deletions
    await collector.close()
    assert done.ok and done.deletes == 2


# ------------------------------------------------------------ stream
# Every stream test runs the collector under the real supervisor, as the service
# does: one stream() call per connection, reconnects with the supervisor's backoff.
FAST_RECONNECT = StreamPolicy(backoff_base_s=0.01, backoff_max_s=0.05)
OURS = "bluelamp/gmp-stream/tweepy"


def stream_line(tweet: dict[str, Any], *tags: str) -> bytes:
    rules = [{"id": str(1000 + i), "tag": tag} for i, tag in enumerate(tags)]
    return json.dumps({"data": tweet, "matching_rules": rules}).encode() + b"\r\n"


def older_tweets() -> list[dict[str, Any]]:
    """The older recorded search page (22:24-22:42), newest first."""
    data: list[dict[str, Any]] = body_of(page("test_client_search_recent_tweets.yaml"))["data"]
    return data


def newer_tweets() -> list[dict[str, Any]]:
    """The recorded mentions, posted after both search pages."""
    data: list[dict[str, Any]] = body_of(page("test_asyncclient_get_users_mentions.yaml"))["data"]
    return data


def backfill_page() -> Interaction:
    """The newer recorded search page (22:54-23:06): what a back-fill search finds."""
    return last_page(page("test_asyncclient_search_recent_tweets.yaml"))


RULES_NOW = {
    "data": [
        {"id": "11", "value": "old rule", "tag": "bluelamp/gmp-stream/old"},
        {"id": "12", "value": "not ours", "tag": "someone-else"},
    ],
    "meta": {"sent": "2022-10-07T23:00:00.000Z", "result_count": 2},
}
RULES_ADDED = {
    "data": [{"id": "13", "value": "Tweepy", "tag": OURS}],
    "meta": {"sent": "2022-10-07T23:00:01.000Z", "summary": {"created": 1, "valid": 1}},
}


def first_connection() -> tuple[bytes, int]:
    """Hand-written (X's documented stream format), from recorded tweets: three
    posts of the older page, a keep-alive, a malformed line, a post matching only
    another client's rule, then a post of the newer page that the drop cuts in
    half. Returns the body and how many bytes arrive before the connection drops."""
    older = older_tweets()
    before_drop = (
        stream_line(older[2], OURS)
        + stream_line(older[1], OURS, "someone-else")
        + b"\r\n"
        + b'{"data": {"id": "15785\r\n'
        + stream_line(older[3], "someone-else")
        + stream_line(older[0], OURS)
    )
    cut = stream_line(body_of(backfill_page())["data"][-1], OURS)
    return before_drop + cut, len(before_drop) + len(cut) // 2


def stream_cassette() -> tuple[list[Interaction], int]:
    """Hand-written rules and stream answers (X's documented formats), and the
    recorded search page for the back-fill. Second connection: a keep-alive and
    a newer post, then X closes the stream."""
    first, keep = first_connection()
    second = b"\r\n" + stream_line(newer_tweets()[0], OURS)
    cassette = [
        hand_written("GET", RULES, RULES_NOW),
        hand_written("POST", RULES, RULES_ADDED),
        hand_written("GET", STREAM, first),
        hand_written("GET", STREAM, second),
        backfill_page(),
    ]
    return cassette, keep


def streamer(server: ReplayServer | str, **stream: Any) -> XStreamCollector:
    base = server if isinstance(server, str) else server.url("")
    cfg = XSource.model_validate(
        {
            "name": "gmp-stream",
            "kind": "x",
            "mode": "stream",
            "bearer_token": {"env": "X_TEST_BEARER"},
            "rules": [{"value": "Tweepy", "tag": "tweepy"}],
            "api_base": base,
            "options": {
                "max_pages": 1,
                "max_results": 10,
                "stream": {"stall_timeout_s": 2, **stream},
            },
        }
    )
    api = make_api(cfg, HttpSource(cfg.name, fast_policy(breaker_threshold=100)))
    return XStreamCollector(cfg, api, clock=Clock())


async def until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for a state the test expects (a bound on a hang, not a speed check)."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.01)


async def supervised(
    collector: XStreamCollector,
    spool: Spool,
    cursors: CursorStore,
    done: Callable[[], bool],
) -> list[RunReport]:
    """Run the real supervisor until ``done()``, then stop it; returns each batch's report."""
    reports: list[RunReport] = []
    stop = asyncio.Event()
    task = asyncio.create_task(
        supervise(
            collector, spool, cursors, stop=stop, policy=FAST_RECONNECT, on_batch=reports.append
        )
    )
    try:
        await until(done)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    return reports


def errors_logged(logs: list[dict[str, Any]]) -> list[str]:
    return [str(e["error"]) for e in logs if e.get("event") == "stream interrupted; reconnecting"]


async def test_stream_drop_is_reconnected_by_the_supervisor_and_backfilled(
    server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    cassette, keep = stream_cassette()
    server.add_cassette(cassette)
    # The first connection drops mid-post; the second is served whole; then X is down.
    server.inject(STREAM, Fault.truncate(keep), Fault.timeout(0.0), Fault.error(503, times=0))
    collector = streamer(server)
    newest_mention = newer_tweets()[0]["id"]
    with capture_logs() as logs:
        reports = await supervised(
            collector,
            spool,
            cursors,
            lambda: "HTTP 503" in (collector.health.last_error or ""),  # X is down: all read
        )

    # Rules: our stale rule deleted, the configured one added, another client's kept.
    posts_to_rules = [json.loads(r.body) for r in server.requests if r.method == "POST"]
    assert {"delete": {"ids": ["11"]}} in posts_to_rules
    assert {"add": [{"value": "Tweepy", "tag": OURS}]} in posts_to_rules

    posts = spooled_posts(spool)
    ids = [p.id for p in posts]
    assert len(ids) == len(set(ids)) == 3 + 10 + 1  # stream, back-fill, stream: none twice
    older = older_tweets()
    assert f"x:{older[3]['id']}" not in ids  # another client's rule only
    by_id = {p.native_id: p for p in posts}
    assert by_id[older[0]["id"]].source.query == "tweepy"
    cut = body_of(backfill_page())["data"][-1]["id"]
    assert by_id[cut].source.query == "tweepy"  # lost in the drop, found by the back-fill

    # The first reconnect back-filled from the newest post spooled before the drop.
    backfill = query_of(server, SEARCH, 0)
    assert backfill["since_id"] == older[0]["id"] and backfill["query"] == "Tweepy"
    state = json.loads(cursors.get("gmp-stream") or "{}")
    assert state["since_id"] == newest_mention

    health = collector.health
    assert health.reconnects >= 2 and collector.connections >= 3
    logged = errors_logged(logs)
    assert "ClientPayloadError" in logged[0] and STREAM in logged[0] and "gmp-stream" in logged[0]
    assert "stream closed by X" in logged[1] and "HTTP 200" in logged[1]
    assert "HTTP 503" in (health.last_error or "") and STREAM in (health.last_error or "")
    warnings = [w for r in reports for w in r.warnings]
    assert any("stream line 4 skipped: not JSON" in w for w in warnings)
    assert_no_token(health.as_dict(), warnings, logs)


async def test_each_connection_backfills_from_the_saved_cursor_first(
    server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    cassette, _ = stream_cassette()
    server.add_cassette(cassette)
    server.inject(STREAM, Fault.error(503, times=0))
    cursors.set("gmp-stream", json.dumps({"since_id": PAGE2_NEWEST}))
    collector = streamer(server)
    await supervised(collector, spool, cursors, lambda: server.hits(SEARCH) >= 2)
    paths = [r.path for r in server.requests]
    assert paths.index(RULES) < paths.index(SEARCH) < paths.index(STREAM)
    assert query_of(server, SEARCH, 0)["since_id"] == PAGE2_NEWEST
    # The reconnect after the 503 resumed from the cursor the back-fill saved.
    assert query_of(server, SEARCH, 1)["since_id"] == PAGE1_NEWEST
    ids = [p.id for p in spooled_posts(spool)]
    assert len(ids) == len(set(ids)) == 10
    assert json.loads(cursors.get("gmp-stream") or "{}")["since_id"] == PAGE1_NEWEST


@pytest.mark.parametrize("refusing", [RULES, STREAM])
async def test_401_reports_the_hint_without_the_token(
    refusing: str, server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    """A revoked token is refused by the rules endpoint first; a tier without the
    stream by the stream. Either way the health says what to fix."""
    cassette, _ = stream_cassette()
    refusal = {"title": "Unauthorized", "type": "about:blank", "status": 401}
    where = 0 if refusing == RULES else 2
    cassette[where] = hand_written("GET", refusing, refusal, 401)
    del cassette[3]  # no second stream answer: every connection is refused
    server.add_cassette(cassette)
    collector = streamer(server)
    await supervised(collector, spool, cursors, lambda: server.hits(refusing) >= 2)
    health = collector.health
    error = health.last_error or ""
    assert "HTTP 401" in error and "Unauthorized" in error and refusing in error, error
    assert "regenerate it in the X developer portal" in error
    assert health.reconnects >= 1 and health.connected is False
    assert spooled_posts(spool) == [] and cursors.get("gmp-stream") is None
    if refusing == RULES:
        assert server.hits(STREAM) == 0  # no stream without the rules in place
    assert_no_token(error, health.as_dict())


async def test_stream_429_is_reported_with_x_wait_and_the_supervisor_retries(
    server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    cassette, _ = stream_cassette()
    server.add_cassette(cassette)
    reset = str(int(time.time()) + 900)
    server.inject(
        STREAM,
        Fault.rate_headers({"x-rate-limit-reset": reset}, status=429),
        Fault.timeout(0.0),  # the retry is served as recorded
        Fault.error(503, times=0),
    )
    collector = streamer(server)
    mention = newer_tweets()[0]["id"]
    with capture_logs() as logs:
        await supervised(
            collector,
            spool,
            cursors,
            lambda: "HTTP 503" in (collector.health.last_error or ""),  # X is down: all read
        )
    logged = errors_logged(logs)
    assert "HTTP 429" in logged[0] and "rate limited" in logged[0], logged
    asked = re.search(r"the platform asks for (\d+)s", logged[0])
    assert asked is not None and 600 < int(asked.group(1)) <= 900  # X's reset, not a default
    assert collector.health.rate_limit_hits == 1
    # The refused connection was never served; the retry was, and its post arrived once.
    assert [p.native_id for p in spooled_posts(spool)] == [mention]
    assert "HTTP 503" in (collector.health.last_error or "")


async def test_a_10_mb_line_ends_the_connection_and_the_next_one_collects(
    server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    cassette, _ = stream_cassette()
    server.add_cassette(cassette)
    server.inject(STREAM, Fault.huge(), Fault.timeout(0.0), Fault.error(503, times=0))
    collector = streamer(server)
    with capture_logs() as logs:
        await supervised(
            collector, spool, cursors, lambda: "HTTP 503" in (collector.health.last_error or "")
        )
    logged = errors_logged(logs)
    assert "LineTooLong" in logged[0] and STREAM in logged[0] and "HTTP 200" in logged[0], logged
    assert [p.native_id for p in spooled_posts(spool)] == [newer_tweets()[0]["id"]]


class HeldStream:
    """A loopback X API whose stream sends some lines, then stays open and silent
    until released (as X's does between posts, for up to 20 s). Hand-written, in
    X's documented formats: the replay server only serves whole bodies."""

    def __init__(self, lines: bytes) -> None:
        self.lines = lines
        self.release = asyncio.Event()
        self.open = False
        self.connections = 0
        self._runner: web.AppRunner | None = None
        self.base = ""

    async def __aenter__(self) -> HeldStream:
        app = web.Application()
        app.router.add_get(RULES, self._rules)
        app.router.add_post(RULES, self._rules)
        app.router.add_get(STREAM, self._stream)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _rules(self, request: web.Request) -> web.Response:
        return web.json_response(RULES_NOW if request.method == "GET" else RULES_ADDED)

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        self.connections += 1
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(self.lines)
        self.open = True
        try:
            await self.release.wait()
        finally:
            self.open = False
        return response


async def test_quiet_stream_flushes_a_part_filled_batch_without_waiting_for_a_keep_alive(
    spool: Spool, cursors: CursorStore
) -> None:
    older = older_tweets()
    async with HeldStream(stream_line(older[1], OURS) + stream_line(older[0], OURS)) as x:
        collector = streamer(x.base, stall_timeout_s=30, batch_max=200)

        def flushed_while_open() -> bool:
            saved = json.loads(cursors.get("gmp-stream") or "{}")
            return x.open and saved.get("since_id") == older[0]["id"]

        await supervised(collector, spool, cursors, flushed_while_open)
        assert x.connections == 1 and collector.health.last_error is None
        assert sorted(p.native_id for p in spooled_posts(spool)) == sorted(
            [older[0]["id"], older[1]["id"]]
        )


# ------------------------------------------------------------ config
def test_sources_yaml_entries_validate_and_build(server: ReplayServer) -> None:
    entries: list[dict[str, Any]] = [
        {"name": "a", "kind": "x", "bearer_token": {"env": "X_TEST_BEARER"}, "query": "#GMP"},
        {
            "name": "b",
            "kind": "x",
            "mode": "stream",
            "bearer_token": {"env": "X_TEST_BEARER"},
            "rules": [{"value": "Deansgate -is:retweet", "tag": "deansgate"}],
        },
    ]
    search_cfg, stream_cfg = parse_sources({"sources": entries})
    assert "x" in registry.implemented_kinds()
    assert isinstance(build(search_cfg, registry.BuildContext()), XSearchCollector)
    assert isinstance(registry.build(stream_cfg), XStreamCollector)
    with pytest.raises(ConfigError, match="needs a 'query'"):
        parse_sources({"sources": [{**entries[0], "query": None}]})
    with pytest.raises(ConfigError, match="needs 'rules'"):
        parse_sources({"sources": [{**entries[1], "rules": []}]})


def test_missing_token_names_the_variable_never_a_value(
    monkeypatch: pytest.MonkeyPatch, server: ReplayServer
) -> None:
    monkeypatch.delenv("X_TEST_BEARER")
    with pytest.raises(ConfigError, match="environment variable X_TEST_BEARER is empty or not set"):
        build(config(server), registry.BuildContext())
    monkeypatch.setenv("X_TEST_BEARER", TOKEN)
    cfg = config(server)
    assert TOKEN not in repr(cfg) and TOKEN not in repr(make_api(cfg).__dict__)

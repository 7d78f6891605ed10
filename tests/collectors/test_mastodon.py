"""The Mastodon collector against recorded Mastodon traffic, over real HTTP, into a real spool.

Recordings: ``../shared/fixtures/mastodon/*.yaml`` (Mastodon.py's VCR cassettes,
recorded against a real Mastodon at http://localhost:3000). Where a test needs
an exchange that was not recorded (further ``min_id`` pages, a search that
finds statuses, a boost, media, the event stream), it is built by hand from
the recorded status JSON following Mastodon's documented formats, and says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiohttp import web

from bluelamp.errors import ConfigError
from bluelamp.spool import Spool
from collectors import registry
from collectors.base import (
    BodyTooLarge,
    CollectorError,
    HttpSource,
    RateLimited,
    commit,
    run_once,
)
from collectors.config import parse_sources
from collectors.cursors import CursorStore
from collectors.mastodon import (
    MastodonCollector,
    MastodonSource,
    MastodonStream,
    SseDecoder,
    dump_cursor,
    parse_links,
    status_to_post,
    streaming_base_from,
)
from collectors.supervisor import StreamPolicy, supervise
from tests.collectors.test_rss import assert_safe
from tests.support.collect import FIXTURES as SHARED_FIXTURES
from tests.support.collect import fast_policy, spooled_deletes, spooled_posts
from tests.support.replay import Fault, Interaction, ReplayServer, load_cassette

FIXTURES = SHARED_FIXTURES / "mastodon"
RECORDED_HOST = "http://localhost:3000"
LIST_PATH = "/api/v1/timelines/list/6"
TAG_PATH = "/api/v1/timelines/tag/hoot"
HOOT_ID = "117020593741189701"
TOKEN = "s3cret-token-value-never-logged"


# ------------------------------------------------------------------ helpers
# The shared fast policy, with Mastodon's own timeouts, rate-limit cap and breaker.
POLICY: dict[str, Any] = {
    "total_timeout_s": 1.0,
    "connect_timeout_s": 1.0,
    "max_rate_limit_wait_s": 0.5,
    "breaker_threshold": 50,
}


def source(server: ReplayServer, name: str = "masto", **fields: Any) -> MastodonSource:
    fields.setdefault("timeline", "hashtag")
    if fields["timeline"] == "hashtag":
        fields.setdefault("tag", "hoot")
    if fields["timeline"] in ("list", "search"):
        fields.setdefault("access_token", {"env": "BLUELAMP_TEST_MASTODON_TOKEN"})
    return MastodonSource.model_validate(
        {"name": name, "kind": "mastodon", "instance": server.url(""), **fields}
    )


def list_source(server: ReplayServer, name: str, **options: Any) -> MastodonSource:
    """The recorded list (id 6), read two statuses a page so that paging shows."""
    options.setdefault("page_limit", 2)
    return source(server, name, timeline="list", list_id="6", options=options)


def collector(config: MastodonSource, **policy: Any) -> MastodonCollector:
    built = registry.build(config)  # through the registry, as the scheduler does
    assert isinstance(built, MastodonCollector)
    built.http = HttpSource(config.name, fast_policy(**(POLICY | policy)), health=built.health)
    built.api.http = built.http
    return built


def recorded(name: str) -> list[Interaction]:
    return load_cassette(FIXTURES / name)


def recorded_json(name: str, path: str, method: str = "GET") -> Any:
    for item in recorded(name):
        if item.path == path and item.method == method:
            return json.loads(item.body)
    raise AssertionError(f"{name}: no {method} {path}")


def list_statuses() -> list[dict[str, Any]]:
    """The seven statuses of the recorded list timeline, oldest first."""
    statuses: list[dict[str, Any]] = recorded_json("test_list_timeline.yaml", LIST_PATH)
    assert len(statuses) == 7
    return sorted(statuses, key=lambda s: int(s["id"]))


def recorded_headers() -> dict[str, str]:
    """The recorded list-timeline response's headers (content type, rate limits)."""
    item = next(i for i in recorded("test_list_timeline.yaml") if i.path == LIST_PATH)
    return {k: v for k, v in item.headers.items() if k.lower() != "link"}


def min_id_pages(
    path: str, statuses: list[dict[str, Any]], cursor: str, limit: int, extra: str = ""
) -> list[Interaction]:
    """Hand-built ``min_id`` pages (Mastodon's documented paging) over recorded statuses:
    each page holds the ``limit`` statuses just newer than its ``min_id``, newest
    first, with ``Link`` next/prev; the page after the newest is ``[]`` with no Link."""
    newer = [s for s in statuses if int(s["id"]) > int(cursor)]
    out: list[Interaction] = []
    min_id = cursor
    base = f"{RECORDED_HOST}{path}?{extra}"
    while True:
        page = newer[:limit][::-1]
        newer = newer[limit:]
        headers = recorded_headers()
        if page:
            headers["link"] = (
                f'<{base}limit={limit}&max_id={page[-1]["id"]}>; rel="next", '
                f'<{base}limit={limit}&min_id={page[0]["id"]}>; rel="prev"'
            )
        url = f"{base}limit={limit}&min_id={min_id}"
        out.append(Interaction("GET", url, 200, headers, json.dumps(page).encode()))
        if not page:
            return out
        min_id = page[0]["id"]


def assert_once(spool: Spool, expected_ids: set[str]) -> None:
    ids = [p.id for p in spooled_posts(spool)]
    assert len(ids) == len(set(ids)), f"duplicates in the spool: {ids}"
    assert set(ids) == expected_ids


def post_id(server: ReplayServer, status_id: str) -> str:
    return f"mastodon:127.0.0.1:{server.port}/{status_id}"


@pytest.fixture(autouse=True)
def token_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLUELAMP_TEST_MASTODON_TOKEN", TOKEN)


# ------------------------------------------------------------------ config
def test_config_through_sources_yaml_and_its_errors() -> None:
    entries = [
        {"name": "tag", "kind": "mastodon", "instance": "https://mastodon.social/", "tag": "gmp"},
        {
            "name": "lst",
            "kind": "mastodon",
            "instance": "https://mastodon.social",
            "timeline": "list",
            "list_id": "6",
            "stream": True,
            "access_token": {"env": "BLUELAMP_TEST_MASTODON_TOKEN"},
        },
    ]
    tag, lst = parse_sources({"sources": entries})
    assert isinstance(tag, MastodonSource) and tag.instance == "https://mastodon.social"
    assert tag.host == "mastodon.social"
    assert isinstance(registry.build(lst), MastodonStream)
    for bad, message in (
        ({"timeline": "hashtag"}, "needs 'tag'"),
        ({"timeline": "list", "list_id": "6"}, "needs an 'access_token'"),
        ({"timeline": "public", "instance": "ftp://x.test"}, "http"),
        ({"timeline": "search", "query": "q", "stream": True, "access_token": {"env": "A"}}, ""),
    ):
        entry = {"name": "bad", "kind": "mastodon", "instance": "https://m.test", **bad}
        with pytest.raises(ConfigError, match=message or "stream") as info:
            parse_sources({"sources": [entry]})
        assert "source 'bad'" in str(info.value)


def test_link_header_and_streaming_url_from_recorded_instance() -> None:
    links = parse_links(
        '<http://a.test/x?max_id=2>; rel="next", <http://a.test/x?min_id=9>; rel="prev"'
    )
    assert links == {"next": "http://a.test/x?max_id=2", "prev": "http://a.test/x?min_id=9"}
    assert parse_links(None) == {} and parse_links("garbage") == {}
    v2 = recorded_json("test_stream_healthy.yaml", "/api/v2/instance/")
    v1 = recorded_json("test_stream_healthy.yaml", "/api/v1/instance/")
    assert streaming_base_from(v2) == "http://localhost:4000"
    assert streaming_base_from(v1) == "http://localhost:4000"
    assert streaming_base_from({"urls": {"streaming_api": "javascript:alert(1)"}}) is None


# ------------------------------------------------------------------ mapping
async def test_recorded_hashtag_timeline_and_cursor_resume(
    server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    server.add_cassette(FIXTURES / "test_hashtag_tl.yaml")
    masto = collector(source(server))
    first = await run_once(masto, spool, cursors)
    assert first.ok and first.spooled == 1, first.error
    (post,) = spooled_posts(spool)
    assert post.id == post_id(server, HOOT_ID)
    assert post.native_id == f"127.0.0.1:{server.port}/{HOOT_ID}"
    assert post.text == "#hoot (hashtag toot)"
    assert post.language == "ja" and post.hashtags == ["hoot"]
    assert post.author.handle == "mastodonpy_test_2@127.0.0.1"
    assert post.author.id == f"127.0.0.1:{server.port}/117020566092212359"
    assert post.url == "http://localhost:3000/@mastodonpy_test_2/117020593741189701"
    assert post.created_at == datetime(2026, 8, 1, 13, 55, 55, 867000, tzinfo=UTC)
    assert post.engagement.likes == 0 and post.links == []
    assert json.loads(cursors.get("masto") or "") == {"min_id": HOOT_ID}
    tag_requests = [r for r in server.requests if r.path == TAG_PATH]
    assert len(tag_requests) == 1 and "min_id" not in tag_requests[0].query  # newest page only

    second = await run_once(masto, spool, cursors)
    await masto.close()
    assert second.ok and second.spooled == 0 and not second.cursor_saved
    assert parse_qs(server.requests[-1].query)["min_id"] == [HOOT_ID]
    assert_once(spool, {post.id})


async def test_recorded_reply_mentions_and_boosts(server: ReplayServer) -> None:
    created = [i for i in recorded("test_status_reply.yaml") if i.method == "POST"]
    parent, reply = (json.loads(i.body) for i in created)
    config = source(server, reblogs="repost")
    now = datetime.now(UTC)
    post = status_to_post(reply, host=config.host, source="s", query=None, fetched_at=now)
    assert post.text == "@mastodonpy_test_2 same!"
    assert post.mentions == ["mastodonpy_test_2@127.0.0.1"]
    assert [(r.kind, r.id) for r in post.references] == [("reply", post_id(server, parent["id"]))]
    # A boost, built by hand in Mastodon's documented shape from the recorded
    # statuses: the wrapper has its own id and account, empty content, and the
    # boosted status in "reblog".
    boost = {**copy.deepcopy(reply), "id": "117020599999999999", "content": "", "reblog": parent}
    masto = collector(config)
    server.add_interaction(
        TAG_PATH, 200, {"Content-Type": "application/json"}, json.dumps([boost]).encode()
    )
    result = await masto.poll(None)
    original, wrapper = result.posts
    assert original.id == post_id(server, parent["id"]) and original.text == "Toot, finally!"
    assert wrapper.id == post_id(server, boost["id"]) and wrapper.text == "Toot, finally!"
    assert wrapper.author.handle == "admin@127.0.0.1"
    assert [(r.kind, r.id) for r in wrapper.references] == [("repost", original.id)]
    masto.config = source(server, reblogs="original")
    assert [p.id for p in (await masto.poll(None)).posts] == [original.id]
    masto.config = source(server, reblogs="skip")
    skipped = await masto.poll(None)
    await masto.close()
    assert skipped.posts == [] and json.loads(skipped.cursor or "") == {"min_id": boost["id"]}


def hostile_status() -> dict[str, Any]:
    """A recorded status carrying hostile payloads in every text and URL field; the
    media attachment follows Mastodon's documented MediaAttachment shape."""
    status = copy.deepcopy(list_statuses()[0])
    zw = "\u200b\u200d\u2060\ufeff\u202e"
    status["content"] = (
        f"<p>Ro{zw}bbery<script>alert(1)</script> on <b>Dean{zw}sgate</b>"
        '<img src=x onerror="alert(2)"> <a href="javascript:alert(3)">link</a> '
        "&lt;script&gt;alert(4)&lt;/script&gt; "
        '<a href="https://news.example/story" rel="nofollow">story</a>'
        "<iframe src=https://evil.test></iframe><svg onload=alert(5)></svg></p>"
    )
    status["spoiler_text"] = f"<style>*{{}}</style>CW{zw}: <i onclick=x()>violence</i>"
    status["url"] = "javascript:alert(6)"
    status["uri"] = "data:text/html,<script>alert(7)</script>"
    status["account"]["display_name"] = f"<b onmouseover=alert(8)>Evil{zw}</b><script>x</script>"
    status["account"]["acct"] = "ev\u200bil<img src=x onerror=alert(9)>"
    status["tags"] = [{"name": "<script>tag</script>"}]
    status["media_attachments"] = [
        {
            "id": "1",
            "type": "image",
            "url": "https://files.example/a.png",
            "preview_url": "https://files.example/a-small.png",
            "remote_url": None,
            "description": f"Alt <script>alert(10)</script>te{zw}xt <img src=x onerror=y>",
            "blurhash": None,
        },
        {"id": "2", "type": "gifv", "url": "javascript:alert(11)", "description": None},
    ]
    return status


async def test_hostile_content_becomes_safe_plain_text(
    server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    server.add_interaction(
        TAG_PATH, 200, {"Content-Type": "application/json"}, json.dumps([hostile_status()]).encode()
    )
    masto = collector(source(server))
    report = await run_once(masto, spool, cursors)
    await masto.close()
    assert report.ok and report.spooled == 1, report.error
    (post,) = spooled_posts(spool)
    assert_safe(post, "hostile status")
    assert post.text == "CW: violence\n\nRobbery on Deansgate link story"
    assert post.url is None
    assert post.author.display_name == "Evil"
    assert post.links == ["https://news.example/story"]
    assert [(m.url, m.type, m.alt_text) for m in post.media] == [
        ("https://files.example/a.png", "image", "Alt text")
    ]
    for value in [post.author.display_name or "", post.author.handle or "", *post.hashtags]:
        assert "<" not in value and "\u200b" not in value, value


# ------------------------------------------------------------------ paging
async def test_list_timeline_pages_to_the_cursor_with_a_token(
    server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    statuses = list_statuses()
    server.add_cassette(min_id_pages(LIST_PATH, statuses, statuses[0]["id"], limit=2))
    cursors.set("list", json.dumps({"min_id": statuses[0]["id"]}))
    masto = collector(
        source(server, "list", timeline="list", list_id="6", options={"page_limit": 2})
    )
    report = await run_once(masto, spool, cursors)
    assert report.ok and report.spooled == 6, report.error
    asked = [parse_qs(r.query)["min_id"][0] for r in server.requests if r.path == LIST_PATH]
    assert asked == [statuses[i]["id"] for i in (0, 2, 4, 6)]  # followed Link rel="prev"
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in server.requests)
    assert json.loads(cursors.get("list") or "") == {"min_id": statuses[-1]["id"]}

    again = await run_once(masto, spool, cursors)
    await masto.close()
    assert again.ok and again.spooled == 0
    assert_once(spool, {post_id(server, s["id"]) for s in statuses[1:]})


async def test_first_poll_takes_only_the_recorded_newest_page(
    server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    server.add_cassette(FIXTURES / "test_list_timeline.yaml")
    masto = collector(source(server, "list", timeline="list", list_id="6"))
    report = await run_once(masto, spool, cursors)
    await masto.close()
    assert report.ok and report.spooled == 7, report.error
    assert server.hits(LIST_PATH) == 1
    texts = {p.text for p in spooled_posts(spool)}
    assert "I have never stolen a ham in my life." in texts


async def test_pages_per_poll_are_bounded_and_the_rest_follows(
    server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    statuses = list_statuses()
    server.add_cassette(min_id_pages(LIST_PATH, statuses, statuses[0]["id"], limit=2))
    cursors.set("bounded", json.dumps({"min_id": statuses[0]["id"]}))
    masto = collector(list_source(server, "bounded", max_pages=2))
    first = await run_once(masto, spool, cursors)
    assert first.ok and first.spooled == 4
    assert any("rest follows" in w for w in first.warnings)
    assert json.loads(cursors.get("bounded") or "") == {"min_id": statuses[4]["id"]}
    second = await run_once(masto, spool, cursors)
    await masto.close()
    assert second.ok and second.spooled == 2 and not second.warnings
    assert_once(spool, {post_id(server, s["id"]) for s in statuses[1:]})


async def test_search_recorded_and_paged(
    server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    server.add_cassette(FIXTURES / "test_search.yaml")
    masto = collector(source(server, "search", timeline="search", query="mastodonpy_test"))
    empty = await run_once(masto, spool, cursors)
    assert empty.ok and empty.spooled == 0 and cursors.get("search") is None
    query = parse_qs(server.requests[-1].query)
    assert query["type"] == ["statuses"] and query["q"] == ["mastodonpy_test"]

    # Search results that find statuses, built by hand in the documented v2 search
    # shape from recorded statuses (the recorded statuses search came back empty).
    statuses = list_statuses()
    base = f"{RECORDED_HOST}/api/v2/search?q=police&type=statuses&limit=40"
    for min_id, found in ((statuses[3]["id"], statuses[4:]), (statuses[6]["id"], [])):
        body = {"accounts": [], "statuses": found[::-1], "hashtags": []}
        server.add_recorded(
            Interaction(
                "GET", f"{base}&min_id={min_id}", 200, recorded_headers(), json.dumps(body).encode()
            )
        )
    cursors.set("search2", json.dumps({"min_id": statuses[3]["id"]}))
    masto = collector(source(server, "search2", timeline="search", query="police"))
    found_report = await run_once(masto, spool, cursors)
    again = await run_once(masto, spool, cursors)
    await masto.close()
    assert found_report.ok and found_report.spooled == 3, found_report.error
    assert again.ok and again.spooled == 0
    assert_once(spool, {post_id(server, s["id"]) for s in statuses[4:]})


# ------------------------------------------------------------------ faults
NOOP = Fault.rate_headers({}, status=200)  # serves the page as recorded: lets page 1 through

FAULTS: dict[str, tuple[list[Fault], type[CollectorError], int | None]] = {
    "429 Retry-After": ([NOOP, Fault.retry_after(1)], RateLimited, 429),
    "500": ([NOOP, Fault.error(500, times=2)], CollectorError, 500),
    "timeout": ([NOOP, Fault.timeout(1.5, times=2)], CollectorError, None),
    "connection reset": ([NOOP, Fault.reset(times=10)], CollectorError, None),
    "truncated body": ([NOOP, Fault.truncate(60, times=2)], CollectorError, None),
    "invalid UTF-8": ([NOOP, Fault.invalid_utf8()], CollectorError, 200),
    "10 MB body": ([NOOP, Fault.huge(10 * 1024 * 1024 + 1)], BodyTooLarge, 200),
    "truncated JSON": ([], CollectorError, 200),
}


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_fault_matrix_recovers_reports_and_loses_nothing(
    fault: str, server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    faults, error_type, status = FAULTS[fault]
    statuses = list_statuses()
    pages = min_id_pages(LIST_PATH, statuses, statuses[0]["id"], limit=2)
    if fault == "truncated JSON":
        # A complete HTTP response whose JSON is cut short, served once for page 2
        # (repeated interactions are served in order).
        bad = pages[1]
        server.add_recorded(Interaction("GET", bad.url, 200, bad.headers, bad.body[:700]))
    server.add_cassette(pages)
    server.inject(LIST_PATH, *faults)
    start = json.dumps({"min_id": statuses[0]["id"]})
    cursors.set("faulty", start)
    masto = collector(list_source(server, "faulty"))

    failed = await run_once(masto, spool, cursors)
    assert isinstance(failed.error, error_type), failed.error
    assert failed.error.source == "faulty" and failed.error.status == status
    assert LIST_PATH in (failed.error.url or "") and statuses[2]["id"] in (failed.error.url or "")
    assert cursors.get("faulty") == start  # not advanced
    assert masto.health.errors == 1 and "faulty" in (masto.health.last_error or "")
    assert TOKEN not in (masto.health.last_error or "")
    assert spooled_posts(spool) == []  # page 1's posts wait for a poll that completes
    # aiohttp itself retries a reset on a reused connection, so the number of
    # resets a poll uses varies: drop any left over (the fault has passed).
    server.clear_faults(LIST_PATH)

    recovered = await run_once(masto, spool, cursors)
    await masto.close()
    assert recovered.ok and recovered.spooled == 6, recovered.error
    assert json.loads(cursors.get("faulty") or "") == {"min_id": statuses[-1]["id"]}
    assert_once(spool, {post_id(server, s["id"]) for s in statuses[1:]})


async def test_transient_faults_are_retried_within_one_poll(
    server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    statuses = list_statuses()
    server.add_cassette(min_id_pages(LIST_PATH, statuses, statuses[0]["id"], limit=2))
    server.inject(LIST_PATH, Fault.retry_after(0.2), Fault.error(503), Fault.reset())
    cursors.set("retry", json.dumps({"min_id": statuses[0]["id"]}))
    masto = collector(list_source(server, "retry"), max_attempts=3)
    report = await run_once(masto, spool, cursors)
    await masto.close()
    assert report.ok and report.spooled == 6, report.error
    assert masto.health.rate_limit_hits == 1 and masto.health.retries >= 1
    assert not server.faults[LIST_PATH]  # every fault was served (aiohttp may retry a reset)


async def test_a_status_missing_a_required_field_is_skipped_with_a_warning(
    server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    statuses = list_statuses()
    broken = copy.deepcopy(statuses)
    del broken[3]["created_at"]
    del broken[5]["account"]
    server.add_cassette(min_id_pages(LIST_PATH, broken, broken[0]["id"], limit=2))
    cursors.set("partial", json.dumps({"min_id": broken[0]["id"]}))
    masto = collector(
        source(server, "partial", timeline="list", list_id="6", options={"page_limit": 2})
    )
    report = await run_once(masto, spool, cursors)
    await masto.close()
    assert report.ok and report.spooled == 4, report.error
    assert any(broken[3]["id"] in w and "created_at" in w for w in report.warnings)
    assert any(broken[5]["id"] in w and "account" in w for w in report.warnings)
    assert masto.health.last_warning and "partial" in masto.health.last_warning
    assert json.loads(cursors.get("partial") or "") == {"min_id": broken[-1]["id"]}


async def test_rate_limit_remaining_zero_holds_the_next_request(
    server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    server.add_cassette(FIXTURES / "test_hashtag_tl.yaml")
    reset = (datetime.now(UTC) + timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    # The recorded page, its remaining count set to 0 (Mastodon's ISO 8601 reset).
    server.inject(
        TAG_PATH,
        Fault.rate_headers({"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}, 200),
    )
    cursors.set("limited", json.dumps({"min_id": "117020593741189700"}))
    masto = collector(source(server, "limited"), max_rate_limit_wait_s=5)
    report = await run_once(masto, spool, cursors)
    await masto.close()
    assert report.ok and report.spooled == 1, report.error
    assert server.hits(TAG_PATH) == 2  # page 1, then (after the reset) the Link rel="prev"
    assert masto.health.rate_limit_hits == 1 and masto.health.rate_limit_wait_s > 0.3


async def test_two_instances_at_once_have_separate_ids_and_health(
    spool: Spool, cursors: CursorStore
) -> None:
    async with ReplayServer() as one, ReplayServer() as two:
        for srv in (one, two):
            srv.add_cassette(FIXTURES / "test_hashtag_tl.yaml")
        two.inject(TAG_PATH, Fault.error(500, times=2))
        a, b = collector(source(one, "inst-a")), collector(source(two, "inst-b"))
        ra, rb = await asyncio.gather(run_once(a, spool, cursors), run_once(b, spool, cursors))
        assert ra.ok and not rb.ok
        assert a.health.last_error is None and "inst-b" in (b.health.last_error or "")
        assert a.http is not b.http and a.http.breaker is not b.http.breaker
        rb = await run_once(b, spool, cursors)
        await a.close()
        await b.close()
        assert rb.ok and rb.spooled == 1
        # The same recorded status id on two instances: two posts, no collision.
        assert_once(spool, {post_id(one, HOOT_ID), post_id(two, HOOT_ID)})
        assert a.health.items_collected == 1 and b.health.items_collected == 1


# ---------------------------------------------------------------- streaming
def sse(event: str, data: str) -> bytes:
    return f"event: {event}\ndata: {data}\n\n".encode()


DROP = b"\x00drop"  # script step: abort the connection here (no clean end of the response)
HOLD = b"\x00hold"  # script step: keep the connection open until the server shuts down


class SseServer:
    """A loopback streaming server: each connection plays the next script of
    server-sent events (built from recorded status JSON), then closes; the
    ``DROP`` and ``HOLD`` steps drop the connection or keep it open."""

    def __init__(self) -> None:
        self.scripts: list[list[bytes]] = []
        self.requests: list[web.Request] = []
        self.status = 200
        self._runner: web.AppRunner | None = None
        self._released = asyncio.Event()
        self.port = 0

    async def __aenter__(self) -> SseServer:
        app = web.Application()
        app.router.add_get("/api/v1/streaming/{tail:.*}", self._stream)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        self._released.set()
        await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request)
        if self.status != 200:
            return web.Response(status=self.status, text='{"error":"The access token is invalid"}')
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for chunk in self.scripts.pop(0) if self.scripts else []:
            if chunk is DROP:
                assert request.transport is not None
                request.transport.abort()
                # End the handler as aiohttp does when a client goes away, so
                # it does not try (and log failing) to finish the response.
                raise asyncio.CancelledError
            if chunk is HOLD:
                await self._released.wait()
                break
            await response.write(chunk)
            await asyncio.sleep(0.01)
        with contextlib.suppress(ConnectionResetError):  # after HOLD the client may be gone
            await response.write_eof()
        return response


async def drain(
    stream: MastodonStream, cursor_name: str, spool: Spool, cursors: CursorStore
) -> list[str]:
    """What the stream supervisor does: spool each batch, then save its cursor."""
    warnings: list[str] = []
    async for batch in stream.stream(cursors.get(cursor_name)):
        report = await commit(
            cursor_name, stream.health, batch, cursors.get(cursor_name), spool, cursors
        )
        assert report.ok, report.error
        warnings.extend(report.warnings)
    return warnings


async def test_stream_updates_deletes_edits_then_reconnect_with_backfill(
    server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    s = list_statuses()
    edited = {
        **copy.deepcopy(s[1]),
        "content": "<p>Edited: I <b>have</b> stolen a ham.</p>",
        "edited_at": "2026-08-01T14:00:00.000Z",
    }
    missing = {k: v for k, v in s[3].items() if k != "created_at"}
    async with SseServer() as sse_server:
        sse_server.scripts = [
            [
                b":)\n",
                sse("update", json.dumps(s[0])),
                sse("update", json.dumps(s[1])) + sse("update", json.dumps(s[2])),
                b":thump\n",
                sse("delete", s[0]["id"]),
                sse("status.update", json.dumps(edited)),
                sse("notification", json.dumps({"id": "1", "type": "mention"})),
                sse("update", json.dumps(missing)),
                b"event: update\ndata: {not json\n\n",
            ],
            # Second connection: s[4] and s[5] were posted while we were away;
            # the stream repeats s[5] (it arrived after we reconnected) and adds s[6].
            [sse("update", json.dumps(s[5])), b":thump\n", sse("update", json.dumps(s[6]))],
        ]
        config = source(server, "stream", stream=True, streaming_url=sse_server.url)
        stream = registry.build(config)
        assert isinstance(stream, MastodonStream)
        stream.http = HttpSource("stream", fast_policy(**POLICY), health=stream.health)
        stream.api.http = stream.http

        warnings = await drain(stream, "stream", spool, cursors)
        first = sse_server.requests[0]
        assert first.path == "/api/v1/streaming/hashtag" and first.query["tag"] == "hoot"
        assert server.hits(TAG_PATH) == 0  # no cursor: no backfill
        posts = spooled_posts(spool)
        by_id = {p.id: p for p in posts}  # later ops win, as in the index
        # The edit replaced s[1]'s first version in its batch (same id, newer content).
        assert [p.id for p in posts] == [post_id(server, x["id"]) for x in (s[0], s[2], s[1])]
        assert by_id[post_id(server, s[1]["id"])].text == "Edited: I have stolen a ham."
        assert spooled_deletes(spool) == [post_id(server, s[0]["id"])]
        assert any(s[3]["id"] in w and "created_at" in w for w in warnings)
        assert any("not JSON" in w for w in warnings)
        # The malformed s[3] was skipped (warned) but its id moves the cursor on,
        # as a REST poll does.
        assert json.loads(cursors.get("stream") or "") == {"min_id": s[3]["id"]}

        # Reconnect: backfill over REST from the saved cursor (hand-built min_id
        # pages from recorded statuses), then the live events, nothing twice.
        server.add_cassette(min_id_pages(TAG_PATH, s[:6], s[3]["id"], limit=40))
        await drain(stream, "stream", spool, cursors)
        await stream.close()
    backfill = [parse_qs(r.query)["min_id"][0] for r in server.requests if r.path == TAG_PATH]
    assert backfill == [s[3]["id"], s[5]["id"]]
    ids = [p.id for p in spooled_posts(spool)][3:]  # backfill pages are newest first
    assert sorted(ids) == [post_id(server, x["id"]) for x in (s[4], s[5], s[6])]
    assert json.loads(cursors.get("stream") or "") == {"min_id": s[6]["id"]}


async def test_supervised_stream_survives_a_dropped_connection_and_loses_nothing(
    server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    """The real stream supervisor: the streaming server drops the connection
    mid-event; the supervisor reconnects from the saved cursor, the REST
    backfill brings what was missed, and every status is spooled exactly once."""
    s = list_statuses()
    # s[0] was collected by an earlier run. The REST timeline (hand-built min_id
    # pages from recorded statuses) first holds s[1]; by the reconnect, s[2..4]
    # too. Its exact min_id is where the drop left the cursor (s[1] from the first
    # backfill, or s[2] if the live event was read before the drop), so both exist.
    # Repeated queries are served in order: the first min_id=s[1] request (the
    # first connection's catch-up check) gets [], the second the three new ones.
    server.add_cassette(min_id_pages(TAG_PATH, s[:2], s[0]["id"], limit=40))
    server.add_cassette(min_id_pages(TAG_PATH, s[:5], s[1]["id"], limit=40))
    server.add_cassette(min_id_pages(TAG_PATH, s[:5], s[2]["id"], limit=40))
    cursors.set("sup", dump_cursor(s[0]["id"]))
    async with SseServer() as sse_server:
        sse_server.scripts = [
            # s[1] again (already backfilled), s[2] live, then s[3] cut off mid-event.
            [
                sse("update", json.dumps(s[1])),
                sse("update", json.dumps(s[2])),
                sse("update", json.dumps(s[3]))[:50],
                DROP,
            ],
            # After the reconnect's backfill: s[4] again (arrived meanwhile), s[5] new.
            [sse("update", json.dumps(s[4])), b":thump\n", sse("update", json.dumps(s[5])), HOLD],
        ]
        config = source(
            server, "sup", stream=True, streaming_url=sse_server.url, options={"batch_s": 0.05}
        )
        stream = registry.build(config)
        assert isinstance(stream, MastodonStream)
        stream.http = HttpSource("sup", fast_policy(**POLICY), health=stream.health)
        stream.api.http = stream.http

        stop, caught_up = asyncio.Event(), asyncio.Event()

        def on_batch(_: object) -> None:
            if cursors.get("sup") == dump_cursor(s[5]["id"]):
                caught_up.set()

        policy = StreamPolicy(backoff_base_s=0.01, backoff_max_s=0.05)
        task = asyncio.create_task(
            supervise(stream, spool, cursors, stop=stop, policy=policy, on_batch=on_batch)
        )
        try:
            await asyncio.wait_for(caught_up.wait(), timeout=20)
        finally:
            stop.set()
            await task
    assert len(sse_server.requests) == 2
    assert stream.health.reconnects >= 1
    assert "stream broke" in (stream.health.last_error or "")
    assert_once(spool, {post_id(server, x["id"]) for x in s[1:6]})
    assert json.loads(cursors.get("sup") or "") == {"min_id": s[5]["id"]}


async def test_stream_refused_is_an_error_with_context_and_no_token(
    server: ReplayServer,
) -> None:
    async with SseServer() as sse_server:
        sse_server.status = 401
        config = source(server, "denied", timeline="list", list_id="6", stream=True)
        stream = MastodonStream(
            config.model_copy(update={"streaming_url": sse_server.url}),
            HttpSource("denied", fast_policy(**POLICY)),
            token=config.access_token.resolve(source="denied", what="t")
            if config.access_token
            else None,
        )
        with pytest.raises(CollectorError) as info:
            async for _ in stream.stream(None):
                pass
        await stream.close()
    error = info.value
    assert error.status == 401 and error.source == "denied"
    assert "/api/v1/streaming/list?list=6" in (error.url or "")
    assert sse_server.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in str(error) and TOKEN not in repr(error)


def test_sse_decoder_rules() -> None:
    decoder = SseDecoder(max_event_bytes=64)
    events = decoder.feed(b"event: upd")
    events += decoder.feed(b"ate\r\ndata: a\ndata: b\n\n:comment\ndata:c\n\n")
    events += decoder.feed(
        b"event: update\ndata: " + b"x" * 100 + b"\n\nevent: delete\ndata: 7\n\n"
    )
    assert events == [("update", "a\nb"), ("message", "c"), ("delete", "7")]
    assert decoder.dropped == 1

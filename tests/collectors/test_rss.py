"""The RSS/Atom collector on feedparser's hostile corpus, over real HTTP, into a real spool."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event

from bluelamp.post import Post
from bluelamp.spool import Spool
from collectors.base import HttpSource, run_once
from collectors.cursors import CursorStore
from collectors.rss import FeedError, RssCollector, RssSource, safe_url, to_plain_text
from tests.support.collect import FIXTURES as SHARED_FIXTURES
from tests.support.collect import fast_policy, needs_fixture, spooled_posts
from tests.support.replay import Fault, ReplayServer

FIXTURES = SHARED_FIXTURES / "rss"
# The shared policy with longer timeouts (the large feeds) and the default rate-limit cap.
POLICY = fast_policy(total_timeout_s=2, connect_timeout_s=1, max_rate_limit_wait_s=300.0)
needs_fixtures = needs_fixture(FIXTURES / "sanitize")

FORBIDDEN = (
    "<script",
    "</script",
    "javascript:",
    "vbscript:",
    "livescript:",
    "data:text/html",
    "onerror=",
    "onload=",
    "onclick=",
    "onmouseover=",
    "<iframe",
    "<object",
    "<embed",
    "<applet",
    "<meta",
    "<style",
    "<link",
    "<form",
    "<svg",
    "<img",
    "expression(",
    "-moz-binding",
)
TAG_START = re.compile(r"<[A-Za-z!/?]")

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>GMP news</title>
  <entry>
    <id>tag:example.test,2026:1</id>
    <title type="html">Road closed &amp;lt;b&amp;gt;now&amp;lt;/b&amp;gt;</title>
    <link href="https://example.test/news/1"/>
    <author><name>GMP &lt;i&gt;Press&lt;/i&gt;</name></author>
    <published>2026-03-01T09:30:00Z</published>
    <summary type="html">&lt;p&gt;Deansgate is closed&lt;script&gt;alert(1)&lt;/script&gt;
      after a collision.&amp;nbsp;&lt;style&gt;p{color:red}&lt;/style&gt;&lt;/p&gt;</summary>
  </entry>
  <entry>
    <id>tag:example.test,2026:2</id>
    <title>Second</title>
    <link href="javascript:alert(2)"/>
    <summary>plain</summary>
  </entry>
</feed>
"""


def collector_for(name: str, url: str) -> RssCollector:
    config = RssSource(name=name, kind="rss", url=url)
    return RssCollector(config, HttpSource(name, POLICY))


def fast_cursor_store(tmp_path: Path) -> CursorStore:
    """A real SQLite state DB without an fsync per commit: 425 sources in one test."""
    engine = create_engine(f"sqlite:///{tmp_path / 'fast-state.db'}")

    @event.listens_for(engine, "connect")
    def _no_fsync(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA synchronous=OFF")

    return CursorStore(engine)


def assert_safe(post: Post, where: str) -> None:
    for field, value in (
        ("text", post.text),
        ("url", post.url or ""),
        ("author", post.author.handle or ""),
    ):
        low = value.lower()
        bad = [f for f in FORBIDDEN if f in low]
        assert not bad, f"{where}: {field} keeps {bad}: {value[:200]!r}"
        assert not TAG_START.search(value), f"{where}: {field} keeps markup: {value[:200]!r}"
    if post.url is not None:
        assert post.url.startswith(("http://", "https://")), f"{where}: url {post.url!r}"


# --------------------------------------------------------------- mapping
async def test_entries_become_safe_plain_posts(
    server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    url = server.add_body("/gmp.xml", ATOM, "application/atom+xml")
    collector = collector_for("gmp", url)
    report = await run_once(collector, spool, cursors)
    await collector.close()
    assert report.ok and report.spooled == 2, report.error
    first, second = sorted(spooled_posts(spool), key=lambda p: p.text)
    assert first.platform == "rss" and first.id == f"rss:{first.native_id}"
    assert first.text == "Road closed now\n\nDeansgate is closed after a collision."
    assert first.url == "https://example.test/news/1"
    assert first.author.handle == "GMP Press"
    assert first.created_at.isoformat() == "2026-03-01T09:30:00+00:00"
    assert first.source.name == "gmp" and first.source.query == url
    assert second.url is None  # javascript: dropped
    assert second.created_at == second.collected_at  # no date: the fetch time
    # The id is stable: the same entry from the same feed is the same post.
    collector = collector_for("gmp", url)
    again = await collector.poll(None)
    await collector.close()
    assert sorted(p.id for p in again.posts) == sorted([first.id, second.id])


def test_plain_text_and_url_rules() -> None:
    assert to_plain_text("&lt;script&gt;alert(1)&lt;/script&gt;ok") == "ok"
    assert to_plain_text("<p>a&nbsp;&amp;&#160;b</p>\n\n<br>c") == "a & b c"
    assert to_plain_text("1 < 2 > 0") == "1 < 2 > 0"
    assert to_plain_text("<!-- x --><style>p{}</style><svg><text>s</text></svg>t") == "t"
    assert to_plain_text("\u202eevil\x1b[31m") == "evil[31m"
    assert safe_url("https://a.test/x?y=1") == "https://a.test/x?y=1"
    for bad in (
        "javascript:alert(1)",
        "JaVaScRiPt:x",
        "data:text/html,<b>",
        "/relative",
        "http://",
        "https://a.test/<script>",
        None,
        42,
    ):
        assert safe_url(bad) is None, bad


# ------------------------------------------------------- hostile corpus
@needs_fixtures
async def test_every_sanitize_fixture_collects_to_safe_plain_text(
    server: ReplayServer, spool: Spool, tmp_path: Path
) -> None:
    files = sorted((FIXTURES / "sanitize").glob("*.xml"))
    assert len(files) == 425
    cursors = fast_cursor_store(tmp_path)
    failures = []
    limit = asyncio.Semaphore(16)

    async def collect(index: int, file: Path) -> None:
        async with limit:
            url = server.add_file(f"/s/{file.name}", file)
            collector = collector_for(f"s{index}", url)
            report = await run_once(collector, spool, cursors)
            await collector.close()
            if not report.ok:
                failures.append(f"{file.name}: {report.error}")

    await asyncio.gather(*(collect(i, f) for i, f in enumerate(files)))
    assert len(cursors.all()) == 425
    posts = spooled_posts(spool)
    for post in posts:
        assert_safe(post, post.source.query or "?")
    print(f"\n{len(files)} hostile feeds, {len(posts)} posts, {len(failures)} errors")
    assert not failures, failures[:5]
    assert len(posts) >= 250  # many fixtures only attack feed-level fields


@needs_fixtures
async def test_large_real_feed_needing_sanitising(
    server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    url = server.add_file("/large.xml", FIXTURES / "large_atom_feed_needs_sanitising.xml")
    collector = collector_for("large", url)
    report = await run_once(collector, spool, cursors)
    await collector.close()
    assert report.ok and report.spooled > 0, report.error
    for post in spooled_posts(spool):
        assert_safe(post, "large")


@needs_fixtures
async def test_illformed_feeds_never_crash(
    server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    files = sorted((FIXTURES / "illformed").glob("*.xml"))
    ok = errors = warned = 0
    for index, file in enumerate(files):
        url = server.add_file(f"/i/{file.name}", file)
        collector = collector_for(f"i{index}", url)
        report = await run_once(collector, spool, cursors)
        await collector.close()
        if report.ok:
            ok += 1
            warned += bool(report.warnings)
            if report.warnings:
                assert collector.health.last_warning
        else:
            errors += 1
            assert report.error is not None
            assert f"i{index}" in str(report.error) and url in str(report.error)
    for post in spooled_posts(spool):
        assert_safe(post, "illformed")
    print(f"\n{len(files)} ill-formed feeds: {ok} read ({warned} with warnings), {errors} errors")
    assert ok + errors == len(files) and ok > 0


# ------------------------------------------------------------ conditional GET
async def test_conditional_get_304_yields_nothing_and_keeps_etag(
    server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    url = server.add_body("/feed.xml", ATOM)
    collector = collector_for("cond", url)
    first = await run_once(collector, spool, cursors)
    assert first.ok and first.spooled == 2 and first.cursor_saved
    saved = json.loads(cursors.get("cond") or "{}")
    etag = server.routes["/feed.xml"].etag
    assert saved["etag"] == etag and saved["last_modified"]

    second = await run_once(collector, spool, cursors)
    await collector.close()
    assert second.ok and second.spooled == 0 and not second.cursor_saved
    assert server.requests[-1].headers["If-None-Match"] == etag
    assert json.loads(cursors.get("cond") or "{}")["etag"] == etag
    assert collector.health.items_collected == 2 and collector.health.polls == 2


async def test_changed_feed_yields_only_new_entries(
    server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    url = server.add_body("/feed.xml", ATOM)
    collector = collector_for("changes", url)
    await run_once(collector, spool, cursors)
    newer = ATOM.replace(
        b"<entry>", b"<entry><id>tag:example.test,2026:3</id><title>Third</title></entry><entry>", 1
    )
    server.add_body("/feed.xml", newer)
    report = await run_once(collector, spool, cursors)
    await collector.close()
    assert report.ok and report.spooled == 1
    assert [p.text for p in spooled_posts(spool)][-1] == "Third"


# ------------------------------------------------------------------ faults
async def test_garbage_body_is_an_error_with_context(
    server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    url = server.add_body("/feed.xml", ATOM)
    server.inject("/feed.xml", Fault.invalid_utf8())
    collector = collector_for("junk", url)
    report = await run_once(collector, spool, cursors)
    await collector.close()
    assert isinstance(report.error, FeedError)
    assert "junk" in str(report.error) and url in str(report.error)
    assert "not a readable RSS/Atom feed" in str(report.error)
    assert cursors.get("junk") is None and collector.health.errors == 1


async def test_invalid_utf8_inside_a_feed_still_yields_entries(
    server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    body = ATOM.replace(b"Second", b"Sec\xff\xfeond")
    url = server.add_body("/feed.xml", body, "application/atom+xml; charset=utf-8")
    collector = collector_for("bad-bytes", url)
    report = await run_once(collector, spool, cursors)
    await collector.close()
    assert report.ok and report.spooled == 2
    assert report.warnings and "malformed feed" in report.warnings[0]
    assert collector.health.last_warning == report.warnings[0]


async def test_faults_through_the_rss_collector(
    server: ReplayServer, spool: Spool, cursors: CursorStore
) -> None:
    url = server.add_body("/feed.xml", ATOM)
    server.inject("/feed.xml", Fault.error(500), Fault.retry_after(1))
    collector = collector_for("faulty", url)
    report = await run_once(collector, spool, cursors)
    assert report.ok and report.spooled == 2
    assert collector.health.retries == 1 and collector.health.rate_limit_wait_s >= 0.95

    server.inject("/feed.xml", Fault.huge(11 * 1024 * 1024))
    report = await run_once(collector, spool, cursors)
    await collector.close()
    assert report.error is not None and "cap" in str(report.error)
    assert report.error.url == url and report.error.source == "faulty"
    assert collector.health.errors == 1 and collector.health.last_error

"""The firehose collector against a real PDS's ``subscribeRepos``, into a real spool."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import aiohttp
import pytest

from bluelamp.spool import Spool
from collectors.bluesky.firehose import FirehoseError
from collectors.bluesky.records import POST_COLLECTION, parse_post_uri, post_id
from collectors.cursors import CursorStore
from tests.collectors.bluesky.helpers import firehose, has_ids, run_stream, spool_ops
from tests.support.bluesky.devnet import DevNet
from tests.support.collect import spooled_posts


def ids_of(uris: list[str]) -> set[str]:
    out = set()
    for uri in uris:
        parsed = parse_post_uri(uri)
        assert parsed, uri
        out.add(post_id(*parsed))
    return out


async def test_posts_reach_the_spool_with_author_refs_and_language(
    devnet: DevNet, xrpc_session: aiohttp.ClientSession, spool: Spool, cursors: CursorStore
) -> None:
    alice = await devnet.create_account(xrpc_session, "alice")
    first = await devnet.create_post(
        xrpc_session,
        alice,
        "Road closed on Deansgate #traffic",
        langs=["en-GB"],
        facets=[
            {
                "index": {"byteStart": 27, "byteEnd": 35},
                "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "traffic"}],
            }
        ],
    )
    cid_first = await _cid(devnet, xrpc_session, first)
    reply = await devnet.create_post(
        xrpc_session,
        alice,
        "Now reopened",
        reply={
            "root": {"uri": first, "cid": cid_first},
            "parent": {"uri": first, "cid": cid_first},
        },
    )
    quote = await devnet.create_post(
        xrpc_session,
        alice,
        "See this",
        embed={"$type": "app.bsky.embed.record", "record": {"uri": first, "cid": cid_first}},
    )
    collector = firehose(devnet, "fh-basic")
    try:
        await run_stream(collector, spool, cursors, until=has_ids(ids_of([first, reply, quote])))
    finally:
        await collector.close()

    posts = {p.id: p for p in spooled_posts(spool)}
    did, rkey = parse_post_uri(first) or ("", "")
    top = posts[post_id(did, rkey)]
    assert top.native_id == first  # the AT URI, as search gives it
    assert top.text == "Road closed on Deansgate #traffic"
    assert top.author.id == alice.did
    assert top.author.handle == alice.handle  # learnt from the #identity event
    assert top.language == "en-GB"
    assert top.hashtags == ["traffic"]
    assert top.url == f"https://bsky.app/profile/{did}/post/{rkey}"
    replied = posts[next(iter(ids_of([reply])))]
    assert [(r.kind, r.id) for r in replied.references] == [("reply", top.id)]
    quoted = posts[next(iter(ids_of([quote])))]
    assert [(r.kind, r.id) for r in quoted.references] == [("quote", top.id)]
    # Only post records: the accounts' profile records and the like are not posts.
    assert all(p.native_id.split("/")[3] == POST_COLLECTION for p in posts.values())
    assert cursors.get("fh-basic") is not None and int(cursors.get("fh-basic") or 0) > 0


async def _cid(devnet: DevNet, session: aiohttp.ClientSession, uri: str) -> str:
    did, rkey = parse_post_uri(uri) or ("", "")
    data = await devnet.xrpc(
        session,
        "com.atproto.repo.getRecord",
        params={"repo": did, "collection": POST_COLLECTION, "rkey": rkey},
    )
    return str(data["cid"])


async def test_stopped_midstream_resumes_without_gaps_or_duplicates(
    devnet: DevNet, xrpc_session: aiohttp.ClientSession, spool: Spool, cursors: CursorStore
) -> None:
    bob = await devnet.create_account(xrpc_session, "bob")
    carol = await devnet.create_account(xrpc_session, "carol")
    before: list[str] = []
    for n in range(6):  # six commits of five posts, alternating accounts
        account = bob if n % 2 else carol
        before += await devnet.create_posts(
            xrpc_session, account, [f"resume test {n}-{i}" for i in range(5)]
        )
    expected = ids_of(before)

    # One event per batch, stopped after part of ours: the cursor is mid-stream.
    collector = firehose(devnet, "fh-resume", batch_events=1)
    reports = await run_stream(collector, spool, cursors, until=lambda s: _count(s, expected) >= 12)
    await collector.close()
    got_first = _count(spool, expected)
    assert 12 <= got_first < len(expected), (got_first, len(reports))
    saved = cursors.get("fh-resume")
    assert saved is not None

    after: list[str] = []
    for n in range(2):  # more posts while the collector is down
        after += await devnet.create_posts(
            xrpc_session, bob, [f"resume later {n}-{i}" for i in range(5)]
        )
    expected |= ids_of(after)

    restarted = firehose(devnet, "fh-resume", batch_events=50)  # a new process, same cursor
    try:
        await run_stream(restarted, spool, cursors, until=has_ids(expected))
    finally:
        await restarted.close()

    ours = Counter(pid for kind, pid, _ in spool_ops(spool) if kind == "index" and pid in expected)
    assert set(ours) == expected
    assert max(ours.values()) == 1, [pid for pid, n in ours.items() if n > 1]
    assert int(cursors.get("fh-resume") or 0) > int(saved)


def _count(spool: Spool, ids: set[str]) -> int:
    return len({pid for _, pid, _ in spool_ops(spool)} & ids)


async def test_post_delete_becomes_a_deletion(
    devnet: DevNet, xrpc_session: aiohttp.ClientSession, spool: Spool, cursors: CursorStore
) -> None:
    dave = await devnet.create_account(xrpc_session, "dave")
    keep = await devnet.create_post(xrpc_session, dave, "this one stays")
    gone = await devnet.create_post(xrpc_session, dave, "this one is deleted")
    await devnet.delete_post(xrpc_session, dave, gone)
    gone_id = next(iter(ids_of([gone])))
    collector = firehose(devnet, "fh-delete")
    try:
        await run_stream(
            collector,
            spool,
            cursors,
            until=lambda s: ("delete", gone_id) in {(k, p) for k, p, _ in spool_ops(s)},
        )
    finally:
        await collector.close()
    ops = [(kind, pid) for kind, pid, _ in spool_ops(spool)]
    assert ("index", gone_id) in ops and ("delete", gone_id) in ops
    assert ops.index(("index", gone_id)) < ops.index(("delete", gone_id))
    assert ("index", next(iter(ids_of([keep])))) in ops


async def test_hostile_text_is_stored_as_plain_text(
    devnet: DevNet, xrpc_session: aiohttp.ClientSession, spool: Spool, cursors: CursorStore
) -> None:
    eve = await devnet.create_account(xrpc_session, "eve")
    hostile = (
        "Hi<script>alert(document.cookie)</script> the\u200b pol\u200dice <b>are</b>"
        " <img src=x onerror=alert(1)>here\u2060 &lt;script&gt;x&lt;/script&gt;"
    )
    uri = await devnet.create_post(xrpc_session, eve, hostile)
    collector = firehose(devnet, "fh-hostile")
    try:
        await run_stream(collector, spool, cursors, until=has_ids(ids_of([uri])))
    finally:
        await collector.close()
    post = next(p for p in spooled_posts(spool) if p.native_id == uri)
    assert post.text == "Hi the police are here"
    low = post.text.lower()
    assert "<script" not in low and "onerror" not in low and "alert" not in low
    assert not any(ch in post.text for ch in "\u200b\u200d\u2060<>")


async def test_malformed_record_is_skipped_with_a_warning_and_the_rest_flows(
    devnet: DevNet, xrpc_session: aiohttp.ClientSession, spool: Spool, cursors: CursorStore
) -> None:
    frank = await devnet.create_account(xrpc_session, "frank")
    # validate=false: the PDS stores a post record with no createdAt, as a
    # non-conforming PDS could; the firehose relays it as it is.
    bad = await devnet.xrpc(
        xrpc_session,
        "com.atproto.repo.createRecord",
        body={
            "repo": frank.did,
            "collection": POST_COLLECTION,
            "validate": False,
            "record": {"$type": POST_COLLECTION, "text": "no date"},
        },
        token=frank.access_jwt,
    )
    good = await devnet.create_post(xrpc_session, frank, "a good post after a bad one")
    collector = firehose(devnet, "fh-malformed")
    warnings: list[str] = []
    try:
        reports = await run_stream(collector, spool, cursors, until=has_ids(ids_of([good])))
        warnings = [w for r in reports for w in r.warnings]
    finally:
        await collector.close()
    assert any(bad["uri"] in w and "createdAt" in w for w in warnings), warnings
    assert collector.health.last_warning is not None
    assert all(p.native_id != bad["uri"] for p in spooled_posts(spool))


async def test_future_cursor_error_frame_is_reported(devnet: DevNet) -> None:
    collector = firehose(devnet, "fh-future")
    try:
        with pytest.raises(FirehoseError) as caught:
            async for _ in collector.stream(str(10**12)):
                pass
    finally:
        await collector.close()
    text = str(caught.value)
    assert "FutureCursor" in text and "fh-future" in text and "subscribeRepos" in text
    assert caught.value.hint and "cursor" in caught.value.hint


async def test_unreachable_relay_is_a_clear_error(tmp_path: Path) -> None:
    from collectors.bluesky.config import BlueskySource
    from collectors.bluesky.firehose import BlueskyFirehoseCollector
    from tests.conftest import free_port

    config = BlueskySource(
        name="fh-down",
        kind="bluesky",
        mode="firehose",
        collect_all=True,
        service=f"ws://127.0.0.1:{free_port()}",
    )
    collector = BlueskyFirehoseCollector(config)
    try:
        with pytest.raises(FirehoseError) as caught:
            async for _ in collector.stream(None):
                pass
    finally:
        await collector.close()
    assert "cannot connect" in str(caught.value) and caught.value.retryable


async def test_no_saved_cursor_starts_from_now(
    devnet: DevNet, xrpc_session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    mallory = await devnet.create_account(xrpc_session, "mallory")
    old = await devnet.create_post(xrpc_session, mallory, "before the collector started")
    # Once another subscriber has had it, the PDS has announced the old post: it is
    # history, not news (just after createRecord it may still be on its way out).
    seen_by_other = firehose(devnet, "fh-other")
    try:
        await run_stream(
            seen_by_other,
            Spool(tmp_path / "other.sqlite3"),
            CursorStore(f"sqlite:///{tmp_path / 'other.db'}"),
            until=has_ids(ids_of([old])),
        )
    finally:
        await seen_by_other.close()
    collector = firehose(devnet, "fh-now", batch_seconds=0.1)
    stream = collector.stream(None)
    try:
        # The socket opens on the first step; give it a moment before posting.
        first = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(1.0)
        new = await devnet.create_post(xrpc_session, mallory, "after it started")
        seen: set[str] = set()
        batch = await asyncio.wait_for(first, 10)
        while True:
            seen |= {p.native_id for p in batch.posts}
            if new in seen:
                break
            batch = await asyncio.wait_for(anext(stream), 10)
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
        await collector.close()
    assert new in seen and old not in seen


async def test_a_themed_firehose_keeps_only_posts_on_its_terms(
    devnet: DevNet, xrpc_session: aiohttp.ClientSession, spool: Spool, cursors: CursorStore
) -> None:
    dana = await devnet.create_account(xrpc_session, "dana")
    texts = [
        "Knife found near Piccadilly Gardens",  # kept: "knife"
        "lovely sunset over the Irwell",  # dropped
        "Police cordon on #Deansgate this morning",  # kept: "#deansgate"
        "my knifed-bread recipe",  # dropped: not the whole word
        "last one: a KNIFE amnesty bin",  # kept; the firehose is in order, so once
    ]  # this one is spooled every earlier one has been seen
    uris = [await devnet.create_post(xrpc_session, dana, text) for text in texts]
    collector = firehose(devnet, "fh-themed", match=["knife", "#deansgate"])
    try:
        await run_stream(collector, spool, cursors, until=has_ids(ids_of(uris[-1:])))
    finally:
        await collector.close()
    mine = {p.id for p in spooled_posts(spool) if dana.did in p.id}
    assert mine == ids_of([uris[0], uris[2], uris[4]])

"""The Mastodon streaming API (server-sent events) with a REST backfill on every
(re)connect, read over the source's one HTTP session."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from urllib.parse import urlencode

import aiohttp
from pydantic import SecretStr

from collectors.base import CollectorError, CollectResult, HttpSource, StreamCollector
from collectors.mastodon.api import MastodonClient
from collectors.mastodon.config import MastodonSource
from collectors.mastodon.ids import (
    dump_cursor,
    load_cursor,
    newest_id,
    safe_id,
    status_id,
    with_cursor,
)
from collectors.mastodon.mapping import post_id, statuses_to_posts
from collectors.mastodon.sse import SseDecoder


class MastodonStream(MastodonClient, StreamCollector):
    """The streaming API for a public, hashtag or list timeline.

    Streams have no replay, so each (re)connect first opens the stream and
    then backfills from the matching REST timeline with ``min_id`` = the
    cursor; events that arrive meanwhile wait in the socket and are
    de-duplicated against the backfill. Nothing between the last saved cursor
    and the new connection is lost."""

    kind = "mastodon"

    def __init__(
        self,
        config: MastodonSource,
        http: HttpSource | None = None,
        *,
        token: SecretStr | None = None,
    ) -> None:
        super().__init__(config.name)
        self.open_api(config, http, token)

    def stream_path(self) -> str:
        c = self.config
        suffix = "" if c.scope == "all" else f"/{c.scope}"
        if c.timeline == "hashtag":
            return f"/api/v1/streaming/hashtag{suffix}?{urlencode({'tag': c.tag or ''})}"
        if c.timeline == "list":
            return f"/api/v1/streaming/list?{urlencode({'list': c.list_id or ''})}"
        media = "?only_media=true" if c.only_media else ""
        return f"/api/v1/streaming/public{suffix}{media}"

    def _timeout(self) -> aiohttp.ClientTimeout:
        # No total timeout: the stream is meant to stay open. Silence is caught
        # by idle_timeout_s (Mastodon sends a heartbeat every ~15 s), here at the
        # socket as well as in _events.
        return aiohttp.ClientTimeout(
            total=None,
            connect=self.http.policy.connect_timeout_s,
            sock_read=self.config.options.idle_timeout_s,
        )

    async def stream(self, cursor: str | None) -> AsyncIterator[CollectResult]:
        url = f"{await self.api.streaming_base()}{self.stream_path()}"
        headers = {**self.api.headers, "Accept": "text/event-stream"}
        try:
            response = await self.http.session().get(url, headers=headers, timeout=self._timeout())
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise CollectorError(
                f"cannot open the stream: {exc.__class__.__name__}: {exc}",
                source=self.name,
                url=url,
            ) from None
        self.health.requests += 1
        try:
            if response.status != 200:
                raise CollectorError(
                    f"stream refused: {response.reason or ''}".strip(),
                    source=self.name,
                    url=url,
                    status=response.status,
                )
            seen: set[str] = set()
            newest = load_cursor(cursor)
            if newest is not None:
                async for batch in self._backfill(newest, seen):
                    newest = load_cursor(batch.cursor) or newest
                    yield batch
            async for batch in self._events(response, url, newest, seen):
                yield batch
        finally:
            response.close()

    async def _backfill(self, min_id: str, seen: set[str]) -> AsyncIterator[CollectResult]:
        fetched_at = datetime.now(UTC)
        query = self.api.url(None)
        # Every page is its own batch (saved before the next), so a long gap is
        # worked through without a per-poll bound and without losing progress.
        async for items, newest in self.api.collect(min_id, max_pages=1_000_000):
            posts, warnings = statuses_to_posts(
                items, self.config, query=query, fetched_at=fetched_at
            )
            seen.update(p.native_id for p in posts)
            yield CollectResult(
                posts=posts, cursor=dump_cursor(newest) if newest else None, warnings=warnings
            )

    async def _events(
        self, response: aiohttp.ClientResponse, url: str, newest: str | None, seen: set[str]
    ) -> AsyncIterator[CollectResult]:
        options = self.config.options
        decoder = SseDecoder()
        loop = asyncio.get_running_loop()
        batch = CollectResult()
        events = 0
        deadline = loop.time() + options.batch_s
        last_data = loop.time()
        query = url
        while True:
            chunk: bytes | None = None
            silent = False
            try:
                async with asyncio.timeout(max(0.0, deadline - loop.time())):
                    chunk = await response.content.readany()
            except aiohttp.ServerTimeoutError:
                silent = True  # the socket's sock_read (= idle_timeout_s) ran out
            except TimeoutError:
                pass  # the batch deadline: yield what there is, read on
            except aiohttp.ClientError as exc:
                if batch.posts or batch.deletes:
                    yield with_cursor(batch, newest)  # what arrived before the break is kept
                raise CollectorError(
                    f"stream broke: {exc.__class__.__name__}: {exc}", source=self.name, url=url
                ) from None
            if chunk == b"":  # the server closed the stream
                if batch.posts or batch.deletes or batch.warnings:
                    yield with_cursor(batch, newest)
                return
            if chunk:
                last_data = loop.time()
                dropped = decoder.dropped
                for event, data in decoder.feed(chunk):
                    events += 1
                    newest = self._apply(event, data, batch, newest, seen, query)
                if decoder.dropped > dropped:
                    batch.warnings.append(
                        f"{self.name}: {decoder.dropped - dropped} stream event(s) over"
                        f" {decoder.max_event_bytes} bytes dropped"
                    )
            if silent or loop.time() - last_data > options.idle_timeout_s:
                if batch.posts or batch.deletes:
                    yield with_cursor(batch, newest)
                raise CollectorError(
                    f"stream silent for {options.idle_timeout_s:.0f}s (no heartbeat); reconnecting",
                    source=self.name,
                    url=url,
                )
            if events >= options.batch_events or loop.time() >= deadline:
                yield with_cursor(batch, newest)
                batch, events = CollectResult(), 0
                deadline = loop.time() + options.batch_s

    def _apply(
        self,
        event: str,
        data: str,
        batch: CollectResult,
        newest: str | None,
        seen: set[str],
        query: str,
    ) -> str | None:
        """Add one event to the batch; returns the newest status id seen."""
        if event == "delete":
            try:
                batch.deletes.append(post_id(self.config.host, status_id(data.strip())))
            except ValueError as exc:
                batch.warnings.append(f"{self.name}: delete event skipped: {exc}")
            return newest
        if event not in ("update", "status.update"):
            return newest  # notifications, announcements, filters: not posts
        try:
            status = json.loads(data)
        except ValueError as exc:
            batch.warnings.append(f"{self.name}: {event} event skipped: not JSON: {exc}")
            return newest
        posts, warnings = statuses_to_posts(
            [status], self.config, query=query, fetched_at=datetime.now(UTC)
        )
        batch.warnings.extend(warnings)
        for post in posts:
            # An update already collected by the backfill is skipped; an edit
            # (status.update) is kept: same id, newer content, and it replaces
            # an older version in this batch (commit keeps one post per id).
            if event == "update" and post.native_id in seen:
                continue
            seen.add(post.native_id)
            batch.posts = [p for p in batch.posts if p.id != post.id]
            batch.posts.append(post)
        if event == "update":
            return newest_id([newest, safe_id(status)])
        return newest

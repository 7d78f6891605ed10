"""The real-time firehose, ``com.atproto.sync.subscribeRepos``, as a StreamCollector.

Each websocket frame is two DAG-CBOR objects, a header (``op``, ``t``) and a
body. Only ``#commit`` events that touch ``app.bsky.feed.post/<rkey>`` matter;
their records are in the commit's CAR ``blocks``, decoded by libipld (Rust) so
one core keeps up with thousands of posts a second. A post delete op becomes
a deletion of ``bluesky:at://<did>/app.bsky.feed.post/<rkey>``. ``#identity``
events give handles, remembered for the posts that follow.

The cursor is the ``seq`` of the last event in a batch; the relay resumes
strictly after it, so a restart neither skips nor repeats an event. Error
frames (``FutureCursor``, ``ConsumerTooSlow``) end the stream with a
:class:`FirehoseError`; an ``#info`` ``OutdatedCursor`` (events were lost
before we resumed) is reported as a warning and the stream carries on.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import libipld

from bluelamp.post import InvalidRecord, Post
from collectors.base import CollectorError, CollectResult, FetchPolicy, StreamCollector
from collectors.bluesky.config import BlueskySource
from collectors.bluesky.records import POST_COLLECTION, post_id, post_uri, record_to_post
from collectors.filters import ThemeFilter

SUBSCRIBE = "/xrpc/com.atproto.sync.subscribeRepos"
_POST_PREFIX = POST_COLLECTION + "/"
_MAX_WARNINGS = 5  # detailed warnings per batch; the rest are counted
_MAX_HANDLES = 200_000
_HINTS = {
    "FutureCursor": "the saved cursor is ahead of this relay (a different or reset relay?);"
    " delete the source's cursor to start from now",
    "ConsumerTooSlow": "the collector fell behind the relay; give it more CPU or a closer relay",
}


class FirehoseError(CollectorError):
    """The firehose refused us, sent an error frame or dropped the connection."""


@dataclass
class _Batch:
    posts: list[Post] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped: int = 0
    events: int = 0
    seq: int | None = None

    def warn(self, message: str) -> None:
        self.skipped += 1
        if len(self.warnings) < _MAX_WARNINGS:
            self.warnings.append(message[:1000])

    def result(self) -> CollectResult:
        warnings = list(self.warnings)
        if self.skipped > len(self.warnings):
            warnings.append(f"{self.skipped} problems in this batch in all")
        cursor = str(self.seq) if self.seq is not None else None
        return CollectResult(self.posts, self.deletes, cursor, warnings)


class BlueskyFirehoseCollector(StreamCollector):
    kind = "bluesky"

    def __init__(self, config: BlueskySource, policy: FetchPolicy | None = None) -> None:
        super().__init__(config.name)
        self.config = config
        self.policy = policy or config.fetch_policy()
        self._session: aiohttp.ClientSession | None = None
        self._handles: dict[str, str] = {}
        # thematic monitoring: None only where collect_all was chosen explicitly
        self._theme = None if config.collect_all else ThemeFilter(config.match)

    def url(self, cursor: str | None) -> str:
        base = self.config.service_url + SUBSCRIBE
        return f"{base}?cursor={int(cursor)}" if cursor else base

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _session_for_loop(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers={"User-Agent": self.policy.user_agent}, trust_env=self.policy.trust_env
            )
        return self._session

    def _error(self, message: str, url: str, **kw: Any) -> FirehoseError:
        return FirehoseError(message, source=self.name, url=url, **kw)

    async def stream(self, cursor: str | None) -> AsyncIterator[CollectResult]:
        if cursor is not None and not cursor.isdigit():
            raise self._error(f"saved cursor {cursor[:50]!r} is not a firehose seq", self.url(None))
        url = self.url(cursor)
        options = self.config.options
        try:
            ws = await self._session_for_loop().ws_connect(
                url,
                heartbeat=options.heartbeat_s,
                max_msg_size=self.config.max_body_bytes,
                timeout=aiohttp.ClientWSTimeout(ws_close=5.0),
            )
        except aiohttp.WSServerHandshakeError as exc:
            raise self._error(f"handshake refused: {exc.message}", url, status=exc.status) from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise self._error(
                f"cannot connect: {exc.__class__.__name__}: {exc}", url, retryable=True
            ) from exc
        self.health.connected = True
        try:
            async for result in self._frames(ws, url):
                yield result
        finally:
            self.health.connected = False
            await ws.close()

    async def _frames(
        self, ws: aiohttp.ClientWebSocketResponse, url: str
    ) -> AsyncIterator[CollectResult]:
        options = self.config.options
        batch = _Batch()
        deadline = time.monotonic() + options.batch_seconds
        while True:
            wait = max(0.001, deadline - time.monotonic()) if batch.events else None
            try:
                msg = await ws.receive(timeout=wait)
            except TimeoutError:
                yield batch.result()
                batch, deadline = _Batch(), time.monotonic() + options.batch_seconds
                continue
            if msg.type == aiohttp.WSMsgType.BINARY:
                error = self._frame(msg.data, batch)
                if error is not None:
                    if batch.events:
                        yield batch.result()  # what came before the error is good
                    raise error
            elif msg.type in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSING,
                aiohttp.WSMsgType.CLOSED,
                aiohttp.WSMsgType.ERROR,
            ):
                if batch.events:
                    yield batch.result()
                detail = ws.exception() or f"close code {ws.close_code}"
                raise self._error(f"stream ended by the server ({detail})", url, retryable=True)
            if not batch.events:
                deadline = time.monotonic() + options.batch_seconds
            elif (
                max(batch.events, len(batch.posts)) >= options.batch_events
                or time.monotonic() >= deadline
            ):
                yield batch.result()
                batch, deadline = _Batch(), time.monotonic() + options.batch_seconds

    def _frame(self, data: bytes, batch: _Batch) -> FirehoseError | None:
        """Add one frame to ``batch``; an error frame is returned, not raised."""
        try:
            header, body = libipld.decode_dag_cbor_multi(data)[:2]
        except (ValueError, TypeError) as exc:
            batch.warn(f"undecodable frame of {len(data)} bytes skipped: {exc}")
            return None
        if not isinstance(header, dict) or not isinstance(body, dict):
            batch.warn(f"frame of {len(data)} bytes without header and body skipped")
            return None
        if header.get("op") == -1:
            name = str(body.get("error") or "unknown")
            message = str(body.get("message") or "")
            return self._error(
                f"error frame {name}: {message}".rstrip(": "),
                self.url(str(batch.seq) if batch.seq is not None else None),
                hint=_HINTS.get(name),
                retryable=name != "FutureCursor",
            )
        kind = header.get("t")
        if kind == "#commit":
            self._commit(body, batch)
        elif kind == "#identity" or kind == "#handle":
            did, handle = body.get("did"), body.get("handle")
            if isinstance(did, str) and isinstance(handle, str):
                if len(self._handles) >= _MAX_HANDLES:
                    self._handles.clear()
                self._handles[did] = handle
        elif kind == "#info":
            info = body.get("name")
            note = f"firehose info {info}: {body.get('message') or ''}".strip()
            if info == "OutdatedCursor":
                note += " (the relay no longer has events that old: some were missed)"
            batch.warnings.append(note[:1000])
        seq = body.get("seq")
        if isinstance(seq, int):
            batch.seq = seq
        batch.events += 1
        return None

    def _commit(self, body: Mapping[str, Any], batch: _Batch) -> None:
        ops = body.get("ops")
        repo = body.get("repo")
        if not isinstance(ops, list) or not isinstance(repo, str):
            batch.warn(f"commit seq {body.get('seq')} without repo or ops skipped")
            return
        post_ops = [
            op
            for op in ops
            if isinstance(op, dict) and str(op.get("path", "")).startswith(_POST_PREFIX)
        ]
        if not post_ops:
            return  # likes, follows, ...: no need to decode the blocks
        blocks: Mapping[Any, Any] = {}
        if any(op.get("action") != "delete" for op in post_ops):
            if body.get("tooBig"):
                batch.warn(f"commit seq {body.get('seq')} of {repo} too big to carry its records")
            try:
                blocks = libipld.decode_car(body.get("blocks") or b"")[1]
            except (ValueError, TypeError) as exc:
                batch.warn(f"commit seq {body.get('seq')} of {repo}: unreadable blocks: {exc}")
                return
        for op in post_ops:
            rkey = str(op["path"])[len(_POST_PREFIX) :]
            action = op.get("action")
            if action == "delete":
                batch.deletes.append(post_id(repo, rkey))
            elif action in ("create", "update"):
                record = blocks.get(op.get("cid"))
                try:
                    post = record_to_post(
                        record,
                        did=repo,
                        rkey=rkey,
                        source=self.name,
                        handle=self._handles.get(repo),
                    )
                except InvalidRecord as exc:
                    batch.warn(f"record {post_uri(repo, rkey)} skipped: {exc}")
                    continue
                if self._theme is None or self._theme(post.text):
                    batch.posts.append(post)

"""The filtered stream (``GET /2/tweets/search/stream``) as a :class:`StreamCollector`.

One call of :meth:`XStreamCollector.stream` is one connection: sync the
rules, back-fill with recent search since the cursor's newest id, connect,
yield batches, and end with a :class:`CollectorError` (source, URL, status)
when the connection ends or fails. Reconnecting, with jittered backoff from
the last saved cursor, is :func:`collectors.supervisor.supervise`'s job.

Rules: the source's ``rules`` are synced to X at each connection via
``POST /2/tweets/search/stream/rules``. An app has one rule set shared by
every client, so Bluelamp only touches rules whose tag starts with
``bluelamp/<source>/``: it adds the configured ones that are missing and
deletes its own that are no longer configured, and leaves other rules alone.
Posts that match none of this source's rules are not collected.

The stream is newline-delimited JSON with a blank keep-alive line about every
20 s. Posts are yielded in batches of up to ``batch_max``, flushed ``batch_s``
after a batch's first post even when the stream then goes quiet; a keep-alive
with nothing pending yields an empty batch, so a quiet stream still shows as
connected and alive.

X streams cannot resume: what was posted while disconnected is never sent.
So each connection first back-fills with recent search (one search per rule,
``since_id`` = the cursor's newest post). Back-fill is limited by recent
search itself (7 days, ``max_pages``) and by arrival order: a post delivered
late with an id below the newest seen is not re-fetched.

A 429 on connect ("too many connections", usually another client on the
app's one allowed connection) is rare; it raises :class:`RateLimited` with
X's wait, and the supervisor backs off (up to 120 s by default) and retries.
401 and 403 raise at once with a hint; the supervisor keeps retrying them at
its longest backoff, so fixing the token or tier needs no restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp.http_exceptions import HttpProcessingError

from bluelamp.post import Post
from collectors.base import (
    CollectorError,
    CollectResult,
    FetchError,
    RateLimited,
    StreamCollector,
    load_json_cursor,
    rate_limit_delay,
)
from collectors.x.api import XApi, XApiError, api_problems, expansion_params
from collectors.x.compliance import remember_ids
from collectors.x.config import XRule, XSource
from collectors.x.mapping import Includes, MalformedTweet, describe, newest, tweet_to_post
from collectors.x.search import Clock, XClient, search, utc_now, window_start

STREAM_PATH = "/2/tweets/search/stream"
RULES_PATH = "/2/tweets/search/stream/rules"
# A pending compliance job is checked at most this often: batches come every
# fraction of a second and X allows about 150 job look-ups per 15 minutes.
COMPLIANCE_CHECK_S = 60.0
READ_BUFSIZE = 1 << 20  # aiohttp allows lines of twice this
_HINTS = {
    401: "the bearer token is wrong or revoked: regenerate it in the X developer portal"
    " and update the secret",
    403: "the app's project lacks access to this endpoint (the filtered stream needs the Pro"
    " or Enterprise tier) or the app is not attached to a project: check the developer portal",
}


def tag_prefix(source: str) -> str:
    return f"bluelamp/{source}/"


async def sync_rules(api: XApi, rules: list[XRule]) -> dict[str, int]:
    """Make X's rules tagged ``bluelamp/<source>/`` equal the configured ones."""
    prefix = tag_prefix(api.source)
    document = await api.get(RULES_PATH)
    existing = document.get("data") if isinstance(document.get("data"), list) else []
    assert isinstance(existing, list)
    ours = [r for r in existing if isinstance(r, dict) and str(r.get("tag", "")).startswith(prefix)]
    wanted = {(r.value, prefix + r.tag) for r in rules}
    have = {(str(r.get("value")), str(r.get("tag"))) for r in ours}
    stale = [str(r["id"]) for r in ours if (str(r.get("value")), str(r.get("tag"))) not in wanted]
    missing = [{"value": v, "tag": t} for v, t in sorted(wanted - have)]
    if stale:
        await api.post(RULES_PATH, {"delete": {"ids": stale}})
    if missing:
        answer = await api.post(RULES_PATH, {"add": missing})
        # A retried add meets its own first try as a duplicate: that is success.
        problems = [
            p for p in api_problems(answer, limit=10) if not p.lower().startswith("duplicaterule")
        ]
        if problems:
            raise XApiError(
                f"X refused stream rules: {'; '.join(problems)}",
                source=api.source,
                url=api.url(RULES_PATH),
                hint="check the rule syntax and your access level's rule limits",
            )
    return {"added": len(missing), "deleted": len(stale)}


class XStreamCollector(XClient, StreamCollector):
    kind = "x"

    def __init__(self, config: XSource, api: XApi, *, clock: Clock = utc_now) -> None:
        super().__init__(config.name)
        self.open_api(config, api, clock)
        self.connections = 0  # stream connections opened (for operators and tests)
        self._tags = {tag_prefix(config.name) + r.tag: r.tag for r in config.rules}
        self._compliance_at: float | None = None  # monotonic time of the last step

    async def stream(self, cursor: str | None) -> AsyncIterator[CollectResult]:
        """One connection: rules, back-fill, then the stream until it ends (an error)."""
        state = load_json_cursor(cursor)
        try:
            await sync_rules(self.api, self.config.rules)
            async for batch in self._backfill(state):
                yield batch
        except CollectorError as exc:
            # A revoked token is usually first refused here, before the stream itself.
            exc.hint = exc.hint or _HINTS.get(exc.status or 0)
            raise
        async for batch in self._connect(state):
            yield batch

    # ------------------------------------------------------------ back-fill
    async def _backfill(self, state: dict[str, Any]) -> AsyncIterator[CollectResult]:
        """Recent search for each rule since the newest post seen (streams cannot resume)."""
        now = self.clock()
        since_id, start_time, gap = window_start(state.get("since_id"), now)
        if not since_id and not start_time:
            return  # first start: the stream begins now
        posts: dict[str, Post] = {}
        warnings = [gap] if gap else []
        for rule in self.config.rules:
            run = await search(
                self.api,
                rule.value,
                label=rule.tag,
                since_id=since_id,
                start_time=start_time,
                max_pages=self.config.options.max_pages,
                max_results=self.config.options.max_results,
                now=now,
            )
            warnings.extend(run.warnings)
            if run.next_token:
                warnings.append(
                    f"back-fill for rule {rule.tag!r} stopped after {run.pages} pages;"
                    " older missed posts were not collected"
                )
            for post in run.posts:
                posts.setdefault(post.id, post)
        if posts or warnings:
            yield await self._batch(state, list(posts.values()), warnings, now)

    # --------------------------------------------------------------- stream
    async def _connect(self, state: dict[str, Any]) -> AsyncIterator[CollectResult]:
        options = self.config.options.stream
        policy = self.http.policy
        url = self.api.url(STREAM_PATH, expansion_params())
        where = self.api.url(STREAM_PATH)  # errors name the endpoint, not every field asked for
        # One session per source (HttpSource's), without its whole-request timeout:
        # a stream is open for days; only a silence longer than the keep-alive matters.
        session = self.http.session()
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=policy.connect_timeout_s, sock_read=options.stall_timeout_s
        )
        self.health.requests += 1
        self.connections += 1
        try:
            response = await session.get(
                url,
                headers=self.api.auth_headers(),
                timeout=timeout,
                # Lines up to 2 MiB: a long post with its includes can pass aiohttp's
                # default 128 KiB; anything longer is hostile and ends the connection.
                read_bufsize=READ_BUFSIZE,
            )
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise self._error(
                f"could not connect: {_describe(exc, reading=False)}", where, None
            ) from exc
        async with response:
            if response.status != 200:
                raise await self._refused(response, where)
            yield CollectResult()  # connected: the supervisor shows it before the first post
            async for batch in self._read(response, state, where):
                yield batch

    async def _refused(self, resp: aiohttp.ClientResponse, url: str) -> CollectorError:
        """The error for a connection X did not accept, with X's reason when it gives one."""
        status = resp.status
        said = await _problem(resp)
        reason = f"stream refused: {said or resp.reason or 'no reason given'}"
        if status == 429:
            wait = rate_limit_delay(resp.headers)
            self.health.rate_limit_hits += 1
            asks = f"the platform asks for {wait:.0f}s" if wait is not None else "no wait given"
            return RateLimited(
                f"rate limited ({reason}); {asks}",
                wait_s=wait or 0.0,
                source=self.name,
                url=url,
                status=status,
            )
        return FetchError(
            reason,
            source=self.name,
            url=url,
            status=status,
            retryable=status >= 500,
            hint=_HINTS.get(status),
        )

    async def _read(
        self, resp: aiohttp.ClientResponse, state: dict[str, Any], url: str
    ) -> AsyncIterator[CollectResult]:
        """Batches from the open stream; ends with a CollectorError, after flushing."""
        options = self.config.options.stream
        loop = asyncio.get_running_loop()
        posts: list[Post] = []
        warnings: list[str] = []
        due_at: float | None = None  # when the part-filled batch goes out
        number = 0
        # The read in progress is never cancelled to flush a batch: cancelling
        # readline() mid-line would drop the bytes it had already taken.
        pending: asyncio.Task[bytes] | None = None
        try:
            while True:
                if pending is None:
                    pending = asyncio.create_task(resp.content.readline())
                    pending.add_done_callback(_retrieve)
                wait = None if due_at is None else max(0.0, due_at - loop.time())
                done, _ = await asyncio.wait({pending}, timeout=wait)
                if not done:  # quiet since the batch began: send it now
                    yield await self._batch(state, posts, warnings, self.clock())
                    posts, warnings, due_at = [], [], None
                    continue
                task, pending = pending, None
                try:
                    line = task.result()
                except (TimeoutError, aiohttp.ClientError, HttpProcessingError) as exc:
                    # HttpProcessingError: a line longer than the buffer allows (hostile).
                    if posts or warnings:
                        yield await self._batch(state, posts, warnings, self.clock())
                    raise self._error(_describe(exc), url, resp.status) from exc
                ended = "stream closed by X" if not line else ""
                number += 1
                text = line.strip()
                if text:
                    ended = self._message(text, number, posts, warnings)
                    if due_at is None and (posts or warnings):
                        due_at = loop.time() + options.batch_s
                if ended:
                    if posts or warnings:
                        yield await self._batch(state, posts, warnings, self.clock())
                    raise self._error(ended, url, resp.status)
                if posts or warnings:
                    if not text or len(posts) >= options.batch_max:
                        yield await self._batch(state, posts, warnings, self.clock())
                        posts, warnings, due_at = [], [], None
                elif not text:  # a keep-alive on a quiet stream
                    yield await self._idle(state)
        finally:
            if pending is not None:
                pending.cancel()

    def _error(self, message: str, url: str, status: int | None) -> CollectorError:
        return CollectorError(message, source=self.name, url=url, status=status, retryable=True)

    def _message(self, text: bytes, number: int, posts: list[Post], warnings: list[str]) -> str:
        """Handle one stream line; returns a reason when X says it is disconnecting."""
        try:
            message = json.loads(text.decode("utf-8"))
            if not isinstance(message, dict):
                raise ValueError("not a JSON object")
        except (UnicodeDecodeError, ValueError) as exc:
            warnings.append(f"stream line {number} skipped: not JSON ({str(exc)[:120]})")
            return ""
        if "data" not in message:
            problems = "; ".join(api_problems(message)) or "a message without data"
            if "disconnect" in problems.lower():
                return f"X disconnected the stream: {problems}"
            warnings.append(f"stream line {number}: {problems}")
            return ""
        rules = message.get("matching_rules")
        tags = [
            self._tags[str(r.get("tag"))]
            for r in (rules if isinstance(rules, list) else [])
            if isinstance(r, dict) and str(r.get("tag")) in self._tags
        ]
        if not tags:
            return ""  # another client's rule on the same app
        try:
            post = tweet_to_post(
                message["data"],
                Includes.of(message),
                source=self.name,
                query=",".join(dict.fromkeys(tags)),
                collected_at=self.clock(),
            )
        except MalformedTweet as exc:
            warnings.append(f"stream line {number}: skipped {describe(message['data'], 0)}: {exc}")
            return ""
        posts.append(post)
        return ""

    async def _idle(self, state: dict[str, Any]) -> CollectResult:
        """A keep-alive with nothing pending: still a chance for a due compliance step."""
        if self._compliance_ready(state.get("compliance") or {}, self.clock()):
            return await self._batch(state, [], [], self.clock())
        return CollectResult()

    def _compliance_ready(self, compliance: dict[str, Any], now: datetime) -> bool:
        if not compliance:
            return True  # the first batch starts the compliance clock (no request)
        recent = (
            self._compliance_at is not None
            and time.monotonic() - self._compliance_at < COMPLIANCE_CHECK_S
        )
        return not recent and self.compliance.due(compliance, now)

    async def _batch(
        self, state: dict[str, Any], posts: list[Post], warnings: list[str], now: datetime
    ) -> CollectResult:
        """A batch with the cursor after it; runs the compliance job when it is due."""
        newest_id = newest(state.get("since_id"), *(p.native_id for p in posts))
        ids = remember_ids(
            state.get("ids") or [],
            (p.native_id for p in posts),
            self.config.options.compliance,
            now,
        )
        deletes: list[str] = []
        compliance = state.get("compliance") or {}
        warnings = list(warnings)
        if self._compliance_ready(compliance, now):
            self._compliance_at = time.monotonic()
            compliance, outcome = await self.compliance.step(compliance, ids, now)
            deletes = outcome.deletes
            deleted = {d.split(":", 1)[1] for d in deletes}
            ids = [i for i in ids if i not in deleted]
            warnings.extend(outcome.warnings)
        # The state is updated in place: the connection's next batch builds on it.
        # The supervisor saves each batch's cursor after spooling it, and passes
        # the last saved one to the next connection.
        state.update({"since_id": newest_id, "ids": ids, "compliance": compliance})
        return CollectResult(
            posts=list(posts),
            deletes=deletes,
            cursor=json.dumps(state, separators=(",", ":")),
            warnings=warnings,
        )


async def _problem(resp: aiohttp.ClientResponse) -> str:
    """X's ``title: detail`` from a refusal's body, short and on one line; "" if none."""
    with contextlib.suppress(TimeoutError, aiohttp.ClientError, ValueError):
        body = await resp.content.read(8192)  # a refusal is small; never read a flood
        document = json.loads(body.decode("utf-8", "replace"))
        if isinstance(document, dict):
            title = str(document.get("title") or "")
            detail = str(document.get("detail") or "")
            said = f"{title}: {detail}" if title and detail else title or detail
            said = said or "; ".join(api_problems(document))
            return " ".join(said.split())[:300]
    return ""


def _retrieve(task: asyncio.Task[bytes]) -> None:
    """Mark an abandoned read's failure as seen (its connection is closing anyway)."""
    if not task.cancelled():
        task.exception()


def _describe(exc: BaseException, *, reading: bool = True) -> str:
    if isinstance(exc, TimeoutError) and reading:
        return "stream silent for longer than stall_timeout_s (no keep-alive)"
    return f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__

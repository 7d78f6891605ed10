"""The filtered stream (``GET /2/tweets/search/stream``) as a :class:`StreamCollector`.

Rules: the source's ``rules`` are synced to X once per connection cycle via
``POST /2/tweets/search/stream/rules``. An app has one rule set shared by
every client, so Bluelamp only touches rules whose tag starts with
``bluelamp/<source>/``: it adds the configured ones that are missing and
deletes its own that are no longer configured, and leaves other rules alone.
Posts that match none of this source's rules are not collected.

The stream is newline-delimited JSON with a blank keep-alive line about every
20 s. A post is yielded in a batch of up to ``batch_max`` posts, flushed
after ``batch_s`` or at the next keep-alive, whichever comes first.

X streams cannot resume: what was posted while disconnected is never sent.
So each (re)connection first back-fills with recent search (one search per
rule, ``since_id`` = the newest post seen), then connects. Reconnects back
off exponentially (``backoff_base_s`` .. ``backoff_max_s``; a 429 waits as
long as X says); after ``max_failures`` failures in a row with nothing
collected in between, :meth:`stream` raises and the supervisor takes over.
Back-fill is limited by recent search itself (7 days, ``max_pages``) and by
arrival order: a post delivered late with an id below the newest seen is
not re-fetched.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import aiohttp

from bluelamp.backoff import backoff_delay
from bluelamp.post import Post
from collectors.base import (
    CollectorError,
    CollectResult,
    FetchError,
    HttpSource,
    StreamCollector,
    rate_limit_delay,
)
from collectors.x.api import XApi, XApiError, api_problems, expansion_params
from collectors.x.compliance import Compliance, remember_ids
from collectors.x.config import XRule, XSource
from collectors.x.mapping import Includes, MalformedTweet, describe, newest, tweet_to_post
from collectors.x.search import Clock, load_state, search, utc_now, window_start

STREAM_PATH = "/2/tweets/search/stream"
RULES_PATH = "/2/tweets/search/stream/rules"


def tag_prefix(source: str) -> str:
    return f"bluelamp/{source}/"


class _Retry(Exception):
    """The connection ended or failed in a way worth reconnecting after."""

    def __init__(self, reason: str, wait_s: float | None = None) -> None:
        super().__init__(reason)
        self.wait_s = wait_s


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


class XStreamCollector(StreamCollector):
    kind = "x"

    def __init__(self, config: XSource, api: XApi, *, clock: Clock = utc_now) -> None:
        super().__init__(config.name)
        self.config = config
        self.api = api
        self.http: HttpSource = api.http
        self.http.health = self.health
        self.compliance = Compliance(api, config.options.compliance)
        self.clock = clock
        self.connections = 0  # stream connections opened (for operators and tests)
        self._tags = {tag_prefix(config.name) + r.tag: r.tag for r in config.rules}

    async def close(self) -> None:
        await self.http.close()

    async def stream(self, cursor: str | None) -> AsyncIterator[CollectResult]:
        state = load_state(cursor)
        options = self.config.options.stream
        failures = 0
        rules_synced = False
        while True:
            try:
                if not rules_synced:
                    await sync_rules(self.api, self.config.rules)
                    rules_synced = True
                async for batch in self._backfill(state):
                    failures = 0
                    yield batch
                async for batch in self._connect(state):
                    failures = 0
                    yield batch
                reason, wait_s = "stream closed by X", None
            except _Retry as exc:
                reason, wait_s = str(exc), exc.wait_s
            except CollectorError as exc:
                if not exc.retryable and (exc.status is None or exc.status < 500):
                    raise  # 401/403, refused rules: reconnecting will not help
                reason, wait_s = str(exc), getattr(exc, "wait_s", None)
            failures += 1
            self.health.record_error(
                CollectorError(
                    f"{reason}; reconnect {failures} of {options.max_failures}",
                    source=self.name,
                    url=self.api.url(STREAM_PATH),
                )
            )
            if failures >= options.max_failures:
                raise CollectorError(
                    f"stream failed {failures} times in a row; last: {reason}",
                    source=self.name,
                    url=self.api.url(STREAM_PATH),
                    retryable=True,
                )
            delay = backoff_delay(failures, options.backoff_base_s, options.backoff_max_s)
            await asyncio.sleep(max(delay, wait_s or 0.0))

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
        # One session per source (HttpSource's), without its whole-request timeout:
        # a stream is open for days; only a silence longer than the keep-alive matters.
        session = self.http.session()
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=policy.connect_timeout_s, sock_read=options.stall_timeout_s
        )
        self.health.requests += 1
        self.connections += 1
        try:
            async with session.get(url, headers=self.api.auth_headers(), timeout=timeout) as resp:
                self._check_status(resp, url)
                async for batch in self._read(resp, state):
                    yield batch
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            # ValueError: aiohttp refuses a line longer than its buffer (a hostile stream).
            raise _Retry(_describe(exc)) from exc

    def _check_status(self, resp: aiohttp.ClientResponse, url: str) -> None:
        if resp.status == 200:
            return
        if resp.status == 429:  # too many connections: X says when to come back
            raise _Retry("HTTP 429 (rate limited)", rate_limit_delay(resp.headers))
        if resp.status >= 500:
            raise _Retry(f"HTTP {resp.status} {resp.reason or ''}".strip())
        raise FetchError(
            f"stream refused: {resp.reason or ''}".strip(),
            source=self.name,
            url=url,
            status=resp.status,
        )

    async def _read(
        self, resp: aiohttp.ClientResponse, state: dict[str, Any]
    ) -> AsyncIterator[CollectResult]:
        options = self.config.options.stream
        posts: list[Post] = []
        warnings: list[str] = []
        first_at: float | None = None
        number = 0
        while True:
            line = await resp.content.readline()
            if not line:  # EOF: X closed the stream
                if posts or warnings:
                    yield await self._batch(state, posts, warnings, self.clock())
                return
            number += 1
            text = line.strip()
            if text:
                disconnect = self._message(text, number, posts, warnings)
                if first_at is None and (posts or warnings):
                    first_at = time.monotonic()
                if disconnect:
                    if posts or warnings:
                        yield await self._batch(state, posts, warnings, self.clock())
                    raise _Retry(disconnect)
            keep_alive = not text
            due = first_at is not None and time.monotonic() - first_at >= options.batch_s
            if (posts or warnings) and (keep_alive or due or len(posts) >= options.batch_max):
                yield await self._batch(state, posts, warnings, self.clock())
                posts, warnings, first_at = [], [], None

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
        if self.compliance.due(compliance, now) or not compliance:
            compliance, outcome = await self.compliance.step(compliance, ids, now)
            deletes = outcome.deletes
            deleted = {d.split(":", 1)[1] for d in deletes}
            ids = [i for i in ids if i not in deleted]
            warnings.extend(outcome.warnings)
        # The state is updated in place: the next batch (and a reconnect's back-fill)
        # builds on it; the supervisor saves each batch's cursor after spooling it.
        state.update({"since_id": newest_id, "ids": ids, "compliance": compliance})
        return CollectResult(
            posts=list(posts),
            deletes=deletes,
            cursor=json.dumps(state, separators=(",", ":")),
            warnings=warnings,
        )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "stream silent for longer than stall_timeout_s (no keep-alive)"
    return f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__

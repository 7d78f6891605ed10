"""The collector framework: HTTP with retries and rate limits, health, and the runner.

Every source gets its own :class:`HttpSource` (one ``aiohttp.ClientSession``,
one circuit breaker, one :class:`SourceHealth`), so a misbehaving platform
cannot starve or trip the others. A platform module subclasses
:class:`Collector` and implements :meth:`Collector.poll`; :func:`run_once`
does the rest in the order that makes collection at-least-once:

1. load the source's cursor,
2. poll (posts, deletions, the new cursor),
3. put the posts and deletions in the spool (one transaction),
4. only then save the new cursor.

A crash between 3 and 4 means the next poll collects the same posts again;
ids are ``platform:native_id`` and indexing is idempotent, so that is harmless.
"""

from __future__ import annotations

import asyncio
import json
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Literal

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy

from bluelamp import __version__
from bluelamp.backoff import backoff_delay
from bluelamp.errors import BluelampError
from bluelamp.post import Post

if TYPE_CHECKING:
    from bluelamp.spool import Spool
    from collectors.cursors import CursorStore

USER_AGENT = f"Bluelamp/{__version__} (+https://github.com/bluelamp; police social-media monitor)"
MAX_BODY_BYTES = 10 * 1024 * 1024
_EPOCH_THRESHOLD = 1_000_000_000  # a reset value above this is a Unix time, below it a delay
# Each platform spells its rate-limit headers its own way (lookups are case-insensitive):
# Mastodon and Reddit ``X-RateLimit-*``, X ``x-rate-limit-*``, Bluesky ``RateLimit-*`` (IETF draft).
RESET_HEADERS = ("X-RateLimit-Reset", "X-Rate-Limit-Reset", "RateLimit-Reset")
REMAINING_HEADERS = ("X-RateLimit-Remaining", "X-Rate-Limit-Remaining", "RateLimit-Remaining")


# ----------------------------------------------------------------- errors
class CollectorError(BluelampError):
    """A collection failure, with the source, URL and HTTP status it concerns."""

    def __init__(
        self,
        message: str,
        *,
        source: str,
        url: str | None = None,
        status: int | None = None,
        retryable: bool = False,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.message = message
        self.source = source
        self.url = url
        self.status = status
        self.retryable = retryable

    def __str__(self) -> str:
        where = f"source {self.source!r}"
        if self.url:
            where += f" GET {self.url}"
        if self.status is not None:
            where += f" -> HTTP {self.status}"
        text = f"{where}: {self.message}"
        return f"{text} (fix: {self.hint})" if self.hint else text


class FetchError(CollectorError):
    """The request failed (after any retries)."""


class BodyTooLarge(FetchError):
    """The response body is over the cap; it was not read into memory."""


class RateLimited(FetchError):
    """The platform asks us to wait longer than this poll is allowed to."""

    def __init__(self, message: str, *, wait_s: float, **kwargs: Any) -> None:
        super().__init__(message, retryable=True, **kwargs)
        self.wait_s = wait_s


class CircuitOpen(CollectorError):
    """The source failed repeatedly; requests are refused until the cool-down ends."""


class SpoolError(CollectorError):
    """The spool refused the posts; the cursor was not advanced."""


# ------------------------------------------------------------ fetch policy
@dataclass(frozen=True)
class FetchPolicy:
    """How one source talks HTTP. Defaults suit a public feed polled every few minutes."""

    total_timeout_s: float = 30.0
    connect_timeout_s: float = 10.0
    max_attempts: int = 4  # tries for timeouts, connection errors and 5xx
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    max_body_bytes: int = MAX_BODY_BYTES
    max_rate_limit_wait_s: float = 300.0  # longer waits end the poll with RateLimited
    max_rate_limit_retries: int = 3
    breaker_threshold: int = 5  # consecutive failed fetches that open the breaker
    breaker_cooldown_s: float = 300.0
    max_redirects: int = 5
    trust_env: bool = True  # honour HTTP(S)_PROXY / NO_PROXY (force networks use proxies)
    user_agent: str = USER_AGENT


def rate_limit_delay(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait according to the response's rate-limit headers, if they say.

    ``Retry-After`` is seconds or an HTTP date. ``X-RateLimit-Reset`` is, by
    platform, a Unix time (X, Reddit's is seconds), seconds to the reset, or an
    ISO 8601 time (Mastodon); large numbers are taken as Unix times.
    """
    now = time.time() if now is None else now
    if not isinstance(headers, CIMultiDict | CIMultiDictProxy):
        headers = CIMultiDict(headers)
    retry_after = headers.get("Retry-After")
    if retry_after is not None:
        delay = _seconds_or_date(retry_after.strip(), now)
        if delay is not None:
            return delay
    for name in RESET_HEADERS:
        reset = headers.get(name)
        if reset is not None:
            return _seconds_or_date(reset.strip(), now, epoch_ok=True)
    return None


def _seconds_or_date(value: str, now: float, *, epoch_ok: bool = False) -> float | None:
    """Seconds to wait from a header value: seconds, a date, or (if allowed) a Unix time."""
    try:
        number = float(value)
    except ValueError:
        return _date_delay(value, now)
    if number != number or number in (float("inf"), float("-inf")):
        return None
    if epoch_ok and number > _EPOCH_THRESHOLD:
        return max(0.0, number - now)
    return max(0.0, number)


def _date_delay(value: str, now: float) -> float | None:
    when: datetime | None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


# ------------------------------------------------------------------ health
@dataclass
class SourceHealth:
    """Figures an operator reads to see whether a source is keeping up."""

    source: str
    kind: str = ""
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    last_warning: str | None = None  # e.g. a malformed feed that still parsed
    items_collected: int = 0
    deletes_collected: int = 0
    polls: int = 0
    errors: int = 0  # failed polls
    requests: int = 0
    retries: int = 0  # transient failures that were retried
    rate_limit_wait_s: float = 0.0
    rate_limit_hits: int = 0
    lag_s: float | None = None  # newest item's age when it was collected
    breaker: Literal["closed", "open", "half_open"] = "closed"
    skipped_runs: int = 0  # polls not started because the previous one overran its interval
    reconnects: int = 0  # stream reconnections
    last_run_s: float | None = None  # how long the last poll (or stream connection) took
    connected: bool | None = None  # streams: connected now; None for polled sources

    def record_error(self, error: BaseException) -> None:
        self.errors += 1
        self.last_error = f"{error.__class__.__name__}: {error}"[:2000]
        self.last_error_at = datetime.now(UTC)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------- circuit breaker
class CircuitBreaker:
    """Opens after ``threshold`` consecutive failures; lets one trial through after
    ``cooldown_s`` (half-open); a success closes it, a failure reopens it."""

    def __init__(
        self, threshold: int, cooldown_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = max(1, threshold)
        self.cooldown_s = cooldown_s
        self._clock = clock
        self.failures = 0
        self._opened_at: float | None = None

    @property
    def state(self) -> Literal["closed", "open", "half_open"]:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.cooldown_s:
            return "half_open"
        return "open"

    def retry_in_s(self) -> float:
        if self._opened_at is None:
            return 0.0
        return max(0.0, self.cooldown_s - (self._clock() - self._opened_at))

    def allow(self) -> bool:
        return self.state != "open"

    def success(self) -> None:
        self.failures = 0
        self._opened_at = None

    def failure(self) -> None:
        self.failures += 1
        if self.state == "half_open" or self.failures >= self.threshold:
            self._opened_at = self._clock()


# ------------------------------------------------------------------- HTTP
@dataclass(frozen=True)
class HttpResponse:
    url: str
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes


class _Transient(Exception):
    """A 5xx answer: worth another try."""

    def __init__(self, status: int, reason: str, headers: Mapping[str, str]) -> None:
        super().__init__(f"server error {status} {reason}")
        self.status = status
        self.headers = headers


_TRANSIENT = (TimeoutError, aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, _Transient)


class HttpSource:
    """One source's HTTP client: session, retries, rate limits, size cap, breaker."""

    def __init__(
        self,
        name: str,
        policy: FetchPolicy | None = None,
        *,
        health: SourceHealth | None = None,
    ) -> None:
        self.name = name
        self.policy = policy or FetchPolicy()
        self.health = health or SourceHealth(name)
        self.breaker = CircuitBreaker(self.policy.breaker_threshold, self.policy.breaker_cooldown_s)
        self._session: aiohttp.ClientSession | None = None
        self._not_before = 0.0  # monotonic time before which we must not call (remaining: 0)

    def session(self) -> aiohttp.ClientSession:
        """The source's one session, for a stream that reads a response
        incrementally (its own per-request timeout) instead of via fetch()."""
        return self._session_for_loop()

    def _session_for_loop(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            p = self.policy
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=p.total_timeout_s, connect=p.connect_timeout_s),
                headers={"User-Agent": p.user_agent},
                connector=aiohttp.TCPConnector(limit_per_host=4),
                trust_env=p.trust_env,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> HttpSource:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _error(self, cls: type[FetchError], message: str, url: str, **kw: Any) -> FetchError:
        return cls(message, source=self.name, url=url, **kw)

    async def fetch(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        method: str = "GET",
        data: Any = None,
        json_body: Any = None,
        auth: aiohttp.BasicAuth | None = None,
    ) -> HttpResponse:
        """``method url``: a 2xx or 304 response with its whole body, or a FetchError.

        Timeouts, connection errors, truncated bodies and 5xx are retried with
        jittered exponential backoff; 429 (and 503 with ``Retry-After``) waits
        as long as the platform says. Every wait is counted in ``health``.
        Only use a non-GET method for requests that are safe to repeat (an
        OAuth token exchange, creating a compliance job), since they are retried.
        """
        request = _Request(method.upper(), url, dict(headers or {}), data, json_body, auth)
        if not self.breaker.allow():
            self.health.breaker = self.breaker.state
            raise CircuitOpen(
                f"circuit open after {self.breaker.failures} consecutive failures;"
                f" next try in {self.breaker.retry_in_s():.0f}s",
                source=self.name,
                url=url,
                retryable=True,
            )
        try:
            response = await self._fetch_with_retries(request)
        except RateLimited:
            raise  # the platform is healthy, only busy: not a breaker failure
        except FetchError:
            self.breaker.failure()
            self.health.breaker = self.breaker.state
            raise
        self.breaker.success()
        self.health.breaker = self.breaker.state
        return response

    async def _fetch_with_retries(self, request: _Request) -> HttpResponse:
        policy = self.policy
        url = request.url
        attempt = 0
        rate_limited = 0
        while True:
            await self._wait_not_before(url)
            attempt += 1
            self.health.requests += 1
            try:
                return await self._attempt(request)
            except _RateLimit as limit:
                rate_limited += 1
                attempt -= 1  # waiting as told is not a failed try
                if rate_limited > policy.max_rate_limit_retries:
                    raise self._rate_limited(
                        url, limit, "still rate limited after waiting"
                    ) from None
                if limit.delay > policy.max_rate_limit_wait_s:
                    raise self._rate_limited(url, limit, "rate limited") from None
                await self._rate_limit_wait(limit.delay)
            except _TRANSIENT as exc:
                status = exc.status if isinstance(exc, _Transient) else None
                reason = _describe(exc)
                if attempt >= policy.max_attempts:
                    raise self._error(
                        FetchError,
                        f"{reason} (gave up after {attempt} tries)",
                        url,
                        status=status,
                        retryable=True,
                    ) from exc
                self.health.retries += 1
                delay = backoff_delay(attempt, policy.backoff_base_s, policy.backoff_max_s)
                if isinstance(exc, _Transient):  # a 503 may say how long to wait
                    told = rate_limit_delay(exc.headers)
                    if told is not None and told <= policy.max_rate_limit_wait_s:
                        delay = max(delay, told)
                await asyncio.sleep(delay)
            except aiohttp.ClientError as exc:  # bad URL, redirect loop or scheme: no retry
                raise self._error(FetchError, _describe(exc), url) from exc

    def _rate_limited(self, url: str, limit: _RateLimit, message: str) -> RateLimited:
        return RateLimited(
            f"{message}; the platform asks for {limit.delay:.0f}s",
            wait_s=limit.delay,
            source=self.name,
            url=url,
            status=limit.status,
        )

    async def _attempt(self, request: _Request) -> HttpResponse:
        session = self._session_for_loop()
        url = request.url
        async with session.request(
            request.method,
            url,
            headers=request.headers,
            data=request.data,
            json=request.json_body,
            auth=request.auth,
            max_redirects=self.policy.max_redirects,
        ) as resp:
            status = resp.status
            if status == 429:
                delay = rate_limit_delay(resp.headers)
                if delay is None:
                    delay = backoff_delay(1, max(1.0, self.policy.backoff_base_s), 60.0)
                raise _RateLimit(status, delay)
            if status >= 500:
                raise _Transient(status, resp.reason or "", CIMultiDict(resp.headers))
            if status >= 400 or (300 <= status < 400 and status != 304):
                raise self._error(
                    FetchError,
                    f"unexpected response {resp.reason or ''}".strip(),
                    url,
                    status=status,
                )
            body = b"" if status == 304 else await self._read_capped(resp, url)
            self._note_remaining(resp.headers)
            return HttpResponse(str(resp.url), status, resp.headers, body)

    async def _read_capped(self, resp: aiohttp.ClientResponse, url: str) -> bytes:
        cap = self.policy.max_body_bytes
        if resp.content_length is not None and resp.content_length > cap:
            raise self._error(
                BodyTooLarge,
                f"body of {resp.content_length} bytes is over the {cap}-byte cap",
                url,
                status=resp.status,
            )
        body = bytearray()
        async for chunk in resp.content.iter_chunked(65536):
            body += chunk
            if len(body) > cap:
                raise self._error(
                    BodyTooLarge,
                    f"body is over the {cap}-byte cap (stopped reading)",
                    url,
                    status=resp.status,
                )
        return bytes(body)

    def _note_remaining(self, headers: Mapping[str, str]) -> None:
        """``X-RateLimit-Remaining: 0`` (or a platform's spelling): hold the next
        request until the reset."""
        remaining = next((headers[n] for n in REMAINING_HEADERS if n in headers), None)
        if remaining is None:
            return
        try:
            if float(remaining.strip()) >= 1:  # Reddit's is a float such as "598.0"
                return
        except ValueError:
            return
        delay = rate_limit_delay(
            CIMultiDict((k, v) for k, v in headers.items() if k.lower() != "retry-after")
        )
        if delay is None:
            delay = self.policy.backoff_base_s
        self._not_before = max(self._not_before, time.monotonic() + delay)

    async def _wait_not_before(self, url: str) -> None:
        delay = self._not_before - time.monotonic()
        if delay <= 0:
            return
        if delay > self.policy.max_rate_limit_wait_s:
            raise RateLimited(
                f"rate limit exhausted; resets in {delay:.0f}s",
                wait_s=delay,
                source=self.name,
                url=url,
            )
        await self._rate_limit_wait(delay)

    async def _rate_limit_wait(self, delay: float) -> None:
        self.health.rate_limit_hits += 1
        started = time.monotonic()
        try:
            await asyncio.sleep(delay)
        finally:
            self.health.rate_limit_wait_s += time.monotonic() - started


@dataclass(frozen=True)
class _Request:
    method: str
    url: str
    headers: dict[str, str]
    data: Any
    json_body: Any
    auth: aiohttp.BasicAuth | None


class _RateLimit(Exception):
    def __init__(self, status: int, delay: float) -> None:
        super().__init__(f"rate limited ({status}); wait {delay:.1f}s")
        self.status = status
        self.delay = delay


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return f"incomplete or corrupt body: {exc}"
    text = str(exc) or exc.__class__.__name__
    return f"{exc.__class__.__name__}: {text}"


def own_http(http: HttpSource | None, health: SourceHealth, policy: FetchPolicy) -> HttpSource:
    """A collector's one HTTP session: ``http`` when given (a test's, a shared one), else a
    new one with ``policy``; either way it reports to the collector's ``health``."""
    http = http or HttpSource(health.source, policy, health=health)
    http.health = health
    return http


# --------------------------------------------------------------- collector
def load_json_cursor(cursor: str | None) -> dict[str, Any]:
    """A saved JSON-object cursor; {} (start afresh) when there is none or it is not one."""
    if not cursor:
        return {}
    try:
        state = json.loads(cursor)
    except ValueError:
        return {}
    return state if isinstance(state, dict) else {}


@dataclass
class CollectResult:
    """What one poll found. ``cursor`` None means "leave the saved cursor as it is"."""

    posts: list[Post] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    cursor: str | None = None
    warnings: list[str] = field(default_factory=list)


class Collector(ABC):
    """One configured source. Subclasses set ``kind`` and implement :meth:`poll`."""

    kind: str = ""

    def __init__(self, name: str) -> None:
        self.name = name
        self.health = SourceHealth(name, kind=self.kind)

    @abstractmethod
    async def poll(self, cursor: str | None) -> CollectResult:
        """Collect what is new since ``cursor`` (None on the first poll).

        Raise :class:`CollectorError` (with source, URL and status) on failure.
        Never save the cursor here: :func:`run_once` does, after spooling.
        """

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the default has nothing to release."""


class StreamCollector(ABC):
    """A long-lived stream (a firehose, a streaming API). Subclasses set ``kind``
    and implement :meth:`stream`; :mod:`collectors.supervisor` runs it, spools
    each batch, saves the batch's cursor only after that, and reconnects from
    the last saved cursor (with backoff) when the stream ends or fails."""

    kind: str = ""

    def __init__(self, name: str) -> None:
        self.name = name
        self.health = SourceHealth(name, kind=self.kind, connected=False)

    @abstractmethod
    def stream(self, cursor: str | None) -> AsyncIterator[CollectResult]:
        """Connect, resume after ``cursor`` (None: from now), and yield batches.

        Each batch's ``cursor`` is the position just after its last event, so
        that resuming from it neither skips nor repeats an event. Yield small
        batches often (e.g. every 200 events or 0.5 s, whichever comes first),
        including empty ones with only a cursor on a quiet stream. Raise
        :class:`CollectorError` on a failure worth reporting; return to end.
        """

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the default has nothing to release."""


@dataclass
class RunReport:
    source: str
    spooled: int = 0
    deletes: int = 0
    duplicates: int = 0
    cursor_saved: bool = False
    warnings: list[str] = field(default_factory=list)
    error: CollectorError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


async def run_once(collector: Collector, spool: Spool, cursors: CursorStore) -> RunReport:
    """Poll once, spool the posts, then save the cursor. Never raises for a
    collection failure: the error (with source, URL and status) is in the
    report and in ``collector.health``."""
    report = RunReport(collector.name)
    health = collector.health
    health.polls += 1
    started = time.monotonic()
    try:
        cursor = await asyncio.to_thread(cursors.get, collector.name)
        result = await collector.poll(cursor)
    except CollectorError as exc:
        return _failed(report, health, exc)
    except Exception as exc:  # a collector bug must not stop the other sources
        return _failed(
            report,
            health,
            CollectorError(f"poll failed: {exc.__class__.__name__}: {exc}", source=collector.name),
        )
    finally:
        health.last_run_s = round(time.monotonic() - started, 3)
    return await commit(collector.name, health, result, cursor, spool, cursors)


async def commit(
    source: str,
    health: SourceHealth,
    result: CollectResult,
    old_cursor: str | None,
    spool: Spool,
    cursors: CursorStore,
) -> RunReport:
    """Spool one poll's or one stream batch's posts and deletions, then save the
    new cursor: the order that makes collection at-least-once. Updates health;
    a failure is in the report (the cursor is then not advanced)."""
    report = RunReport(source)
    unique: dict[str, Post] = {}
    for post in result.posts:
        unique.setdefault(post.id, post)
    deletes = list(dict.fromkeys(result.deletes))
    report.duplicates = len(result.posts) - len(unique)
    report.warnings = list(result.warnings)
    if result.warnings:
        health.last_warning = result.warnings[-1][:2000]

    if unique or deletes:
        try:
            await asyncio.to_thread(spool.put, list(unique.values()), deletes=deletes)
        except Exception as exc:
            return _failed(
                report,
                health,
                SpoolError(
                    f"spool refused {len(unique)} posts and {len(deletes)} deletions;"
                    f" cursor not advanced: {exc.__class__.__name__}: {exc}",
                    source=source,
                ),
            )
    report.spooled = len(unique)
    report.deletes = len(deletes)

    if result.cursor is not None and result.cursor != old_cursor:
        try:
            await asyncio.to_thread(cursors.set, source, result.cursor)
        except Exception as exc:  # posts are safe; the next poll repeats them
            return _failed(
                report,
                health,
                CollectorError(
                    f"posts spooled but the cursor could not be saved: {exc}", source=source
                ),
            )
        report.cursor_saved = True

    now = datetime.now(UTC)
    health.last_success_at = now
    health.items_collected += report.spooled
    health.deletes_collected += report.deletes
    if unique:
        newest = max(p.created_at for p in unique.values())
        health.lag_s = max(0.0, (now - newest).total_seconds())
    return report


def _failed(report: RunReport, health: SourceHealth, error: CollectorError) -> RunReport:
    health.record_error(error)
    report.error = error
    return report

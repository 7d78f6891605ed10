"""The collector framework against a real loopback server, a real spool and a real state DB."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import Path

import pytest
import yaml

from bluelamp.errors import ConfigError
from bluelamp.post import Post, SourceRef, make_id
from bluelamp.spool import Spool
from collectors.base import (
    USER_AGENT,
    BodyTooLarge,
    CircuitOpen,
    Collector,
    CollectResult,
    FetchError,
    FetchPolicy,
    HttpSource,
    RateLimited,
    SpoolError,
    rate_limit_delay,
    run_once,
)
from collectors.config import load_sources, parse_sources
from collectors.cursors import CursorStore
from tests.support.replay import Fault, ReplayServer

REPO = Path(__file__).resolve().parents[2]
BODY = b"<rss version='2.0'><channel><title>t</title></channel></rss>"


def fast_policy(**overrides: object) -> FetchPolicy:
    values: dict[str, object] = {
        "total_timeout_s": 0.5,
        "connect_timeout_s": 0.5,
        "max_attempts": 3,
        "backoff_base_s": 0.01,
        "backoff_max_s": 0.05,
        "breaker_threshold": 3,
        "breaker_cooldown_s": 0.3,
        "max_rate_limit_wait_s": 5.0,
        "trust_env": False,
    }
    values.update(overrides)
    return FetchPolicy(**values)  # type: ignore[arg-type]


@pytest.fixture
async def server() -> AsyncIterator[ReplayServer]:
    async with ReplayServer() as srv:
        srv.add_body("/feed", BODY)
        yield srv


@pytest.fixture
async def http() -> AsyncIterator[HttpSource]:
    async with HttpSource("test-src", fast_policy()) as source:
        yield source


# ------------------------------------------------------------------ fetch
async def test_fetch_sends_user_agent_and_returns_body(
    server: ReplayServer, http: HttpSource
) -> None:
    response = await http.fetch(server.url("/feed"))
    assert response.status == 200 and response.body == BODY
    assert server.requests[-1].headers["User-Agent"] == USER_AGENT
    assert USER_AGENT.startswith("Bluelamp/") and "police social-media monitor" in USER_AGENT
    assert http.health.requests == 1 and http.breaker.state == "closed"


async def test_500_then_success_is_retried(server: ReplayServer, http: HttpSource) -> None:
    server.inject("/feed", Fault.error(500), Fault.error(503))
    response = await http.fetch(server.url("/feed"))
    assert response.body == BODY
    assert server.hits("/feed") == 3 and http.health.retries == 2


async def test_timeout_is_retried(server: ReplayServer, http: HttpSource) -> None:
    server.inject("/feed", Fault.timeout(1.0))
    started = time.monotonic()
    response = await http.fetch(server.url("/feed"))
    assert response.body == BODY and http.health.retries == 1
    assert time.monotonic() - started < 2.0


async def test_connection_reset_is_retried(server: ReplayServer, http: HttpSource) -> None:
    server.inject("/feed", Fault.reset(times=2))
    assert (await http.fetch(server.url("/feed"))).body == BODY
    assert server.hits("/feed") == 3  # aiohttp may retry a dropped connection once itself


async def test_persistent_reset_fails_with_context(server: ReplayServer, http: HttpSource) -> None:
    server.inject("/feed", Fault.reset(times=0))
    with pytest.raises(FetchError) as err:
        await http.fetch(server.url("/feed"))
    assert err.value.url == server.url("/feed") and "gave up after 3 tries" in str(err.value)
    assert http.health.retries == 2


async def test_persistent_500_fails_with_source_url_and_status(
    server: ReplayServer, http: HttpSource
) -> None:
    server.inject("/feed", Fault.error(502, times=0))
    with pytest.raises(FetchError) as err:
        await http.fetch(server.url("/feed"))
    assert err.value.source == "test-src" and err.value.status == 502
    assert err.value.url == server.url("/feed")
    assert "test-src" in str(err.value) and server.url("/feed") in str(err.value)
    assert "502" in str(err.value) and server.hits("/feed") == 3


async def test_404_is_not_retried(server: ReplayServer, http: HttpSource) -> None:
    with pytest.raises(FetchError) as err:
        await http.fetch(server.url("/missing"))
    assert err.value.status == 404 and not err.value.retryable
    assert server.hits("/missing") == 1


async def test_redirect_loop_is_an_error_not_a_crash(
    server: ReplayServer, http: HttpSource
) -> None:
    server.add_interaction("/loop", 302, {"Location": "/loop"}, b"")
    with pytest.raises(FetchError) as err:
        await http.fetch(server.url("/loop"))
    assert err.value.url == server.url("/loop") and not err.value.retryable
    assert "TooManyRedirects" in str(err.value)


async def test_truncated_body_is_an_error_with_context(
    server: ReplayServer, http: HttpSource
) -> None:
    server.add_body("/big", b"<rss>" + b"x" * 5000 + b"</rss>")
    server.inject("/big", Fault.truncate(100, times=0))
    with pytest.raises(FetchError) as err:
        await http.fetch(server.url("/big"))
    assert err.value.source == "test-src" and err.value.url == server.url("/big")
    assert "incomplete or corrupt body" in str(err.value) and "received 100 of" in str(err.value)


@pytest.mark.parametrize("with_length", [True, False])
async def test_body_over_cap_is_rejected_unread(server: ReplayServer, with_length: bool) -> None:
    server.inject("/feed", Fault.huge(10 * 1024 * 1024 + 1, with_length=with_length))
    async with HttpSource("big", fast_policy(total_timeout_s=10)) as http:
        with pytest.raises(BodyTooLarge) as err:
            await http.fetch(server.url("/feed"))
    assert "10485760-byte cap" in str(err.value) and err.value.url == server.url("/feed")
    assert server.hits("/feed") == 1  # not retried


async def test_429_retry_after_seconds_is_honoured(server: ReplayServer, http: HttpSource) -> None:
    server.inject("/feed", Fault.retry_after(1))
    started = time.monotonic()
    response = await http.fetch(server.url("/feed"))
    waited = time.monotonic() - started
    assert response.body == BODY
    assert waited >= 0.95
    assert http.health.rate_limit_wait_s >= 0.95 and http.health.rate_limit_hits == 1
    assert http.health.retries == 0  # a rate-limit wait is not a failure


async def test_429_with_ratelimit_reset_epoch(server: ReplayServer, http: HttpSource) -> None:
    reset = f"{time.time() + 1:.3f}"
    server.inject("/feed", Fault.rate_headers({"x-ratelimit-reset": reset}))
    started = time.monotonic()
    assert (await http.fetch(server.url("/feed"))).body == BODY
    assert time.monotonic() - started >= 0.5 and http.health.rate_limit_wait_s >= 0.5


async def test_remaining_zero_holds_the_next_request(
    server: ReplayServer, http: HttpSource
) -> None:
    server.inject(
        "/feed",
        Fault.rate_headers({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1"}, 200),
    )
    assert (await http.fetch(server.url("/feed"))).body == BODY
    started = time.monotonic()
    assert (await http.fetch(server.url("/feed"))).body == BODY
    assert time.monotonic() - started >= 0.9 and http.health.rate_limit_wait_s >= 0.9


async def test_rate_limit_longer_than_allowed_ends_the_poll(
    server: ReplayServer, http: HttpSource
) -> None:
    server.inject("/feed", Fault.retry_after(3600))
    with pytest.raises(RateLimited) as err:
        await http.fetch(server.url("/feed"))
    assert err.value.wait_s > 3000 and err.value.status == 429
    assert http.breaker.state == "closed"  # busy, not broken


def test_rate_limit_header_forms() -> None:
    now = 1_700_000_000.0
    assert rate_limit_delay({"Retry-After": "7"}, now) == 7
    assert rate_limit_delay({"Retry-After": formatdate(now + 30, usegmt=True)}, now) == 30
    assert rate_limit_delay({"X-RateLimit-Reset": str(int(now + 60))}, now) == 60
    assert rate_limit_delay({"X-RateLimit-Reset": "45"}, now) == 45  # seconds to reset
    iso = datetime.fromtimestamp(now + 90, UTC).isoformat().replace("+00:00", "Z")
    assert rate_limit_delay({"X-RateLimit-Reset": iso}, now) == 90  # Mastodon
    assert rate_limit_delay({"Retry-After": formatdate(now - 5, usegmt=True)}, now) == 0
    assert rate_limit_delay({"Retry-After": "soon"}, now) is None
    assert rate_limit_delay({}, now) is None


async def test_circuit_breaker_opens_then_half_opens(server: ReplayServer) -> None:
    server.inject("/feed", Fault.error(500, times=0))
    async with HttpSource("flaky", fast_policy(max_attempts=1)) as http:
        for _ in range(3):
            with pytest.raises(FetchError):
                await http.fetch(server.url("/feed"))
        assert http.breaker.state == "open" and http.health.breaker == "open"
        hits = server.hits("/feed")
        with pytest.raises(CircuitOpen) as err:
            await http.fetch(server.url("/feed"))
        assert server.hits("/feed") == hits  # refused without a request
        assert "flaky" in str(err.value)
        await asyncio.sleep(0.35)  # the cool-down
        assert str(http.breaker.state) == "half_open"
        with pytest.raises(FetchError):  # the trial fails: open again
            await http.fetch(server.url("/feed"))
        assert http.breaker.state == "open"
        await asyncio.sleep(0.35)
        server.clear_faults("/feed")
        assert (await http.fetch(server.url("/feed"))).body == BODY
        assert str(http.breaker.state) == "closed"


# ----------------------------------------------------------------- runner
def _post(n: int) -> Post:
    return Post(
        id=make_id("test", str(n)),
        platform="test",
        native_id=str(n),
        text=f"post {n}",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        source=SourceRef(name="fake"),
    )


class FakeCollector(Collector):
    """A real Collector subclass with canned results (the spool and store are real)."""

    kind = "test"

    def __init__(self, results: list[CollectResult | Exception]) -> None:
        super().__init__("fake")
        self.results = results
        self.cursors_seen: list[str | None] = []

    async def poll(self, cursor: str | None) -> CollectResult:
        self.cursors_seen.append(cursor)
        result = self.results.pop(0)
        if isinstance(result, Exception):
            raise result
        return result


async def test_run_once_spools_then_saves_cursor_and_drops_duplicates(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite3")
    cursors = CursorStore(f"sqlite:///{tmp_path / 'state.db'}")
    collector = FakeCollector(
        [
            CollectResult(posts=[_post(1), _post(2), _post(1)], deletes=["test:9"], cursor="c1"),
            CollectResult(posts=[_post(3)], cursor="c2"),
        ]
    )
    report = await run_once(collector, spool, cursors)
    assert report.ok and report.spooled == 2 and report.duplicates == 1 and report.deletes == 1
    assert cursors.get("fake") == "c1" and report.cursor_saved
    ops = spool.next_batch(10)
    assert [(op.post_id, op.kind) for op in ops] == [
        ("test:1", "index"),
        ("test:2", "index"),
        ("test:9", "delete"),
    ]
    await run_once(collector, spool, cursors)
    assert collector.cursors_seen == [None, "c1"] and cursors.get("fake") == "c2"
    assert collector.health.items_collected == 3 and collector.health.last_success_at
    assert collector.health.lag_s is not None and collector.health.lag_s > 0
    spool.close()


async def test_cursor_not_advanced_when_the_spool_fails(tmp_path: Path) -> None:
    cursors = CursorStore(f"sqlite:///{tmp_path / 'state.db'}")
    cursors.set("fake", "c0")
    spool = Spool(tmp_path / "spool.sqlite3")
    spool.close()  # a real spool that can no longer accept anything
    collector = FakeCollector(
        [CollectResult(posts=[_post(1)], cursor="c1"), CollectResult(posts=[_post(1)], cursor="c1")]
    )
    report = await run_once(collector, spool, cursors)
    assert isinstance(report.error, SpoolError) and not report.cursor_saved
    assert "cursor not advanced" in str(report.error) and "fake" in str(report.error)
    assert cursors.get("fake") == "c0"
    assert collector.health.errors == 1 and collector.health.items_collected == 0

    spool = Spool(tmp_path / "spool.sqlite3")  # the spool is back: same posts, then the cursor
    report = await run_once(collector, spool, cursors)
    assert report.ok and cursors.get("fake") == "c1" and spool.stats().pending == 1
    spool.close()


async def test_poll_errors_are_reported_not_raised(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite3")
    cursors = CursorStore(f"sqlite:///{tmp_path / 'state.db'}")
    collector = FakeCollector(
        [FetchError("boom", source="fake", url="http://x.test/", status=500), KeyError("bug")]
    )
    first = await run_once(collector, spool, cursors)
    second = await run_once(collector, spool, cursors)
    assert first.error is not None and first.error.status == 500
    assert second.error is not None and "KeyError" in str(second.error)
    assert collector.health.errors == 2 and "bug" in (collector.health.last_error or "")
    assert cursors.get("fake") is None and spool.stats().pending == 0
    spool.close()


# ------------------------------------------------------------ cursor store
def test_cursor_store_round_trips(state_url: str) -> None:
    store = CursorStore(state_url)
    assert store.get("a") is None and store.updated_at("a") is None
    store.set("a", '{"etag": "\\"x\\""}')
    store.set("b", "123")
    store.set("a", "second")
    assert store.get("a") == "second" and store.all() == {"a": "second", "b": "123"}
    when = store.updated_at("a")
    assert when is not None and abs((datetime.now(UTC) - when).total_seconds()) < 60
    assert store.delete("b") and store.get("b") is None
    again = CursorStore(state_url)  # a second process sees the same state
    assert again.get("a") == "second"
    store.close()
    again.close()


# ------------------------------------------------------------------ config
def test_default_sources_file_enables_nothing() -> None:
    assert load_sources(REPO / "config" / "sources.yaml") == []
    assert "# sources:" in (REPO / "config" / "sources.yaml").read_text()


def test_sources_are_validated_with_name_and_field(tmp_path: Path) -> None:
    good = parse_sources(
        {
            "sources": [
                {"name": "gmp", "kind": "rss", "url": "https://example.test/rss"},
                {"name": "off", "kind": "rss", "url": "https://e.test/", "enabled": False},
            ]
        },
        only_enabled=True,
    )
    assert [s.name for s in good] == ["gmp"] and good[0].interval_s == 300
    assert good[0].fetch_policy().max_body_bytes == 10 * 1024 * 1024

    cases = [
        ({"name": "gmp", "kind": "rss", "url": "javascript:alert(1)"}, "url: must be an http"),
        ({"name": "gmp", "kind": "rss", "url": "http://a", "interval_s": 0}, "interval_s"),
        ({"name": "gmp", "kind": "rss", "url": "http://a", "typo": 1}, "typo: Extra inputs"),
        ({"name": "gmp", "kind": "rss"}, "url: Field required"),
        ({"name": "gmp", "kind": "myspace"}, "kind: unknown kind 'myspace'"),
        ({"name": "gmp", "kind": "rss", "url": "http://a", "options": {"x": 1}}, "options.x"),
    ]
    for source, expected in cases:
        with pytest.raises(ConfigError) as err:
            parse_sources({"sources": [source]}, where="sources.yaml")
        assert "source 'gmp' (sources[0])" in str(err.value), str(err.value)
        assert expected in str(err.value), str(err.value)

    with pytest.raises(ConfigError, match="name: duplicate"):
        parse_sources({"sources": [{"name": "a", "kind": "rss", "url": "http://a"}] * 2})
    bad = tmp_path / "sources.yaml"
    bad.write_text("sources: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_sources(bad)


def test_a_kind_without_its_module_is_reported_as_planned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from collectors import registry

    monkeypatch.setitem(registry.KIND_MODULES, "futurenet", "collectors.futurenet_not_written")
    with pytest.raises(ConfigError, match="kind: 'futurenet' is planned but has no collector"):
        parse_sources({"sources": [{"name": "gmp", "kind": "futurenet"}]})
    assert "futurenet" in registry.planned_kinds() and "rss" in registry.implemented_kinds()


def test_the_commented_examples_in_sources_yaml_are_valid() -> None:
    text = (REPO / "config" / "sources.yaml").read_text()
    start = text.index("# sources:")
    block = [line[2:] for line in text[start:].splitlines() if line.startswith("# ")]
    examples = parse_sources(yaml.safe_load("\n".join(block)))
    kinds = {s.kind for s in examples}
    assert kinds == {"rss", "bluesky", "mastodon", "x", "reddit", "police_uk", "webhook"}

"""The collection service: APScheduler jobs with a persistent job store, overrun
handling, health saved for `bluelamp sources status`, and the stream supervisor.

Polled sources here are the real RSS collector against the loopback replay
server; the stream tests use a small StreamCollector written for the test,
because the supervisor's contract (resume from the saved cursor, reconnect,
never lose a batch the spool refused) is independent of any platform.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from bluelamp.post import Post, SourceRef, make_id
from bluelamp.settings import Settings
from bluelamp.spool import Spool
from collectors.base import CollectorError, CollectResult, StreamCollector
from collectors.config import parse_sources
from collectors.cursors import CursorStore
from collectors.health_store import HealthStore
from collectors.scheduler import CollectionService
from collectors.supervisor import StreamPolicy, supervise
from tests.conftest import REPO, cli_env, make_settings
from tests.support.replay import Fault, ReplayServer

FEED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><guid>a-1</guid><title>Road closed on Deansgate</title>
 <pubDate>Sun, 01 Mar 2026 09:30:00 GMT</pubDate></item>
<item><guid>a-2</guid><title>Appeal for witnesses</title>
 <pubDate>Sun, 01 Mar 2026 10:30:00 GMT</pubDate></item>
</channel></rss>"""


def _service(tmp_path: Path, sources: list[dict[str, Any]]) -> CollectionService:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    cursors = CursorStore(url)
    return CollectionService(
        parse_sources({"sources": sources}),
        Spool(tmp_path / "spool.sqlite3"),
        cursors,
        HealthStore(cursors.engine),
        jobstore_url=url,
    )


async def _until(check: Any, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def test_jobs_poll_each_source_and_save_health(tmp_path: Path, server: ReplayServer) -> None:
    server.add_body("/good.xml", FEED)
    server.inject("/bad.xml", Fault.error(500, times=0))
    service = _service(
        tmp_path,
        [
            {"name": "good", "kind": "rss", "url": server.url("/good.xml"), "timeout_s": 2},
            {"name": "bad", "kind": "rss", "url": server.url("/bad.xml"), "timeout_s": 2},
            {"name": "off", "kind": "rss", "url": server.url("/off.xml"), "enabled": False},
        ],
    )
    async with service:
        assert sorted(job.id for job in service.scheduler.get_jobs()) == ["bad", "good"]  # type: ignore[union-attr]
        await _until(lambda: service.polled["good"].health.polls >= 1)
        await _until(lambda: service.polled["bad"].health.errors >= 1)
    saved = {name: h for name, (h, _) in service.health_store.all().items()}
    assert saved["good"].items_collected == 2 and saved["good"].last_success_at is not None
    assert saved["good"].kind == "rss" and saved["good"].last_error is None
    bad = saved["bad"]
    assert bad.last_success_at is None and bad.errors >= 1
    # the error says which source, which URL and what the server answered
    assert "source 'bad'" in (bad.last_error or "") and "/bad.xml" in (bad.last_error or "")
    assert "500" in (bad.last_error or "")
    assert server.hits("/off.xml") == 0
    assert service.spool.stats().pending == 2


async def test_an_overrunning_poll_is_skipped_and_reported_not_queued(
    tmp_path: Path, server: ReplayServer
) -> None:
    server.add_body("/slow.xml", FEED)
    # The first poll takes 7 s; the job's interval is 5 s.
    server.inject("/slow.xml", Fault.timeout(delay_s=7.0))
    service = _service(
        tmp_path,
        [{"name": "slow", "kind": "rss", "url": server.url("/slow.xml"), "interval_s": 5}],
    )
    async with service:
        health = service.polled["slow"].health
        await _until(lambda: health.skipped_runs >= 1, timeout=15)
        await _until(lambda: health.polls >= 1 and health.last_success_at is not None, timeout=15)
        polls_when_done = health.polls
    assert "still running" in (health.last_warning or "")
    # skipped, not queued: the late start did not run as soon as the slow poll ended
    assert polls_when_done == 1 and server.hits("/slow.xml") == 1
    saved = service.health_store.load("slow")
    assert saved is not None and saved.skipped_runs >= 1


async def test_the_job_store_keeps_schedules_across_restarts(
    tmp_path: Path, server: ReplayServer
) -> None:
    server.add_body("/feed.xml", FEED)
    hourly = {"name": "feed", "kind": "rss", "url": server.url("/feed.xml"), "interval_s": 3600}
    first = _service(tmp_path, [hourly])
    async with first:
        await _until(lambda: first.polled["feed"].health.polls == 1)
        await asyncio.sleep(0.2)
        planned = first.scheduler.get_job("feed").next_run_time  # type: ignore[union-attr]
    assert planned > datetime.now(UTC) + timedelta(minutes=59)

    again = _service(tmp_path, [hourly])
    async with again:
        await asyncio.sleep(0.5)
        # same schedule: no fresh poll on restart
        assert again.scheduler.get_job("feed").next_run_time == planned  # type: ignore[union-attr]
        assert again.polled["feed"].health.polls == 0

    changed = _service(tmp_path, [{**hourly, "interval_s": 1800}])
    async with changed:
        await _until(lambda: changed.polled["feed"].health.polls == 1)
    assert server.hits("/feed.xml") == 2

    gone = _service(tmp_path, [{**hourly, "name": "other"}])
    async with gone:
        assert [j.id for j in gone.scheduler.get_jobs()] == ["other"]  # type: ignore[union-attr]


async def test_a_source_that_cannot_start_is_reported_and_the_rest_run(
    tmp_path: Path, server: ReplayServer
) -> None:
    server.add_body("/feed.xml", FEED)
    os.environ.pop("BL_TEST_UNSET_SECRET", None)
    service = _service(
        tmp_path,
        [
            {"name": "feed", "kind": "rss", "url": server.url("/feed.xml")},
            {"name": "push", "kind": "webhook", "secret": {"env": "BL_TEST_UNSET_SECRET"}},
        ],
    )
    async with service:
        await _until(lambda: service.polled["feed"].health.polls == 1)
    push = service.health_store.load("push")
    assert push is not None and "BL_TEST_UNSET_SECRET" in (push.last_error or "")


# ---------------------------------------------------------------- streams
def _post(n: int) -> Post:
    return Post(
        id=make_id("webhook", str(n)),
        platform="webhook",
        native_id=str(n),
        text=f"event {n}",
        created_at=datetime(2026, 3, 1, tzinfo=UTC) + timedelta(seconds=n),
        source=SourceRef(name="numbers"),
    )


class NumberStream(StreamCollector):
    """Events 1..total; the cursor is the last event's number. It fails once,
    mid-stream, after ``fail_after`` events of the first connection."""

    kind = "webhook"

    def __init__(self, total: int, fail_after: int | None) -> None:
        super().__init__("numbers")
        self.total = total
        self.fail_after = fail_after
        self.connections: list[str | None] = []

    async def stream(self, cursor: str | None) -> AsyncIterator[CollectResult]:
        self.connections.append(cursor)
        start = int(cursor or 0)
        for n in range(start + 1, self.total + 1, 5):
            batch = list(range(n, min(n + 5, self.total + 1)))
            if self.fail_after is not None and batch[-1] > self.fail_after:
                self.fail_after = None
                raise CollectorError("connection reset by peer", source=self.name)
            yield CollectResult(posts=[_post(i) for i in batch], cursor=str(batch[-1]))
            await asyncio.sleep(0)
        await asyncio.sleep(3600)  # a quiet stream stays open


class FlakySpool(Spool):
    """A real spool whose disk is full for one call."""

    fail_next = False

    def put(self, posts: Any, **kwargs: Any) -> Any:
        if self.fail_next:
            self.fail_next = False
            raise OSError(28, "No space left on device")
        return super().put(posts, **kwargs)


def _spooled_ids(spool: Spool) -> list[str]:
    return [op.post_id for op in spool.next_batch(100_000)]


async def test_supervised_stream_resumes_from_its_cursor_without_gaps_or_repeats(
    tmp_path: Path,
) -> None:
    spool = FlakySpool(tmp_path / "spool.sqlite3")
    cursors = CursorStore(f"sqlite:///{tmp_path / 'state.db'}")
    collector = NumberStream(total=60, fail_after=23)
    stop = asyncio.Event()
    policy = StreamPolicy(backoff_base_s=0.01, backoff_max_s=0.02)
    task = asyncio.create_task(supervise(collector, spool, cursors, stop=stop, policy=policy))
    await _until(lambda: cursors.get("numbers") == "60")
    stop.set()
    await asyncio.wait_for(task, 5)
    assert collector.connections == [None, "20"]  # resumed after the last whole batch
    assert collector.health.reconnects == 1
    assert "connection reset" in (collector.health.last_error or "")
    ids = _spooled_ids(spool)
    assert ids == [f"webhook:{n}" for n in range(1, 61)]  # in order, none missing, none twice

    # A second run (a restart) continues from 60: nothing is collected again.
    collector2 = NumberStream(total=70, fail_after=None)
    stop2 = asyncio.Event()
    task2 = asyncio.create_task(supervise(collector2, spool, cursors, stop=stop2, policy=policy))
    await _until(lambda: cursors.get("numbers") == "70")
    stop2.set()
    await asyncio.wait_for(task2, 5)
    assert collector2.connections == ["60"]
    assert _spooled_ids(spool)[60:] == [f"webhook:{n}" for n in range(61, 71)]


async def test_a_batch_the_spool_refuses_is_read_again(tmp_path: Path) -> None:
    spool = FlakySpool(tmp_path / "spool.sqlite3")
    cursors = CursorStore(f"sqlite:///{tmp_path / 'state.db'}")
    cursors.set("numbers", "10")
    spool.fail_next = True
    collector = NumberStream(total=30, fail_after=None)
    stop = asyncio.Event()
    policy = StreamPolicy(backoff_base_s=0.01, backoff_max_s=0.02)
    task = asyncio.create_task(supervise(collector, spool, cursors, stop=stop, policy=policy))
    await _until(lambda: cursors.get("numbers") == "30")
    stop.set()
    await asyncio.wait_for(task, 5)
    assert collector.connections == ["10", "10"]
    assert "No space left" in (collector.health.last_error or "")
    assert _spooled_ids(spool) == [f"webhook:{n}" for n in range(11, 31)]


# -------------------------------------------------------------------- CLI
def test_sources_status_and_run_from_the_cli(tmp_path: Path, opensearch_url: str) -> None:
    settings: Settings = make_settings(tmp_path, opensearch_url)

    async def serve_and_run() -> list[dict[str, Any]]:
        async with ReplayServer() as srv:
            srv.add_body("/feed.xml", FEED)
            srv.inject("/broken.xml", Fault.error(503, times=0))
            sources = tmp_path / "sources.yaml"
            sources.write_text(
                yaml.safe_dump(
                    {
                        "sources": [
                            {"name": "feed", "kind": "rss", "url": srv.url("/feed.xml")},
                            {
                                "name": "broken",
                                "kind": "rss",
                                "url": srv.url("/broken.xml"),
                                "timeout_s": 2,
                            },
                        ]
                    }
                )
            )
            env = cli_env(settings) | {"BLUELAMP_COLLECTORS_SOURCES_FILE": str(sources)}
            cli = [sys.executable, "-m", "bluelamp.cli"]

            def run(*args: str) -> subprocess.CompletedProcess[str]:
                return subprocess.run(
                    [*cli, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=120
                )

            ok = await asyncio.to_thread(run, "sources", "run", "feed")
            assert ok.returncode == 0, ok.stderr + ok.stdout
            assert "2 posts and 0 deletions spooled" in ok.stdout
            failed = await asyncio.to_thread(run, "sources", "run", "broken")
            assert failed.returncode == 1 and "503" in failed.stdout
            status = await asyncio.to_thread(run, "sources", "status", "--json")
            assert status.returncode == 0, status.stderr
            table = await asyncio.to_thread(run, "sources", "status")
            assert "feed" in table.stdout and "failing" in table.stdout
            rows: list[dict[str, Any]] = json.loads(status.stdout)
            return rows

    rows = asyncio.run(serve_and_run())
    by_name = {r["name"]: r for r in rows}
    assert by_name["feed"]["status"] == "ok" and by_name["feed"]["health"]["items_collected"] == 2
    assert by_name["feed"]["cursor_updated_at"] is not None
    assert by_name["broken"]["status"] == "failing"
    assert "HTTP 503" in by_name["broken"]["health"]["last_error"]

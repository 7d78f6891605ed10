"""Firehose throughput: the Bluesky collector replaying a real PDS's firehose into a spool.

A local Bluesky network (``tests/support/bluesky``: PLC, PDS, AppView on
loopback, with a throwaway PostgreSQL and Redis) is started, ``posts`` posts
are created on it with ``com.atproto.repo.applyWrites`` (``per_commit`` posts
a commit, across ``accounts`` accounts), and then the collector replays the
firehose from cursor 0 into a real spool, committing each batch exactly as the
supervisor does (spool first, then the cursor). The collector runs on one
core (this process is pinned to CPU 0; the PDS, which serves the replay, is
pinned elsewhere when the machine has another core).

``posts_per_s`` (the target) is measured against a stand-in relay process
on the other core that replays the PDS's recorded frames byte for byte as
fast as the socket takes them: the dev PDS replays its own log more slowly
than the collector reads (about 2,000 events/s here), which
``pds_direct_posts_per_s`` shows.

Needs ``scripts/setup.sh test`` (Node packages in tests/support/bluesky,
redis-server, PostgreSQL). Parameters (``--set key=value``): posts,
per_commit, accounts, batch_events.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.runner import BenchOptions, BenchResult, Target, benchmark
from bluelamp.spool import Spool
from collectors.base import commit
from collectors.bluesky.config import BlueskySource
from collectors.bluesky.firehose import BlueskyFirehoseCollector
from collectors.cursors import CursorStore
from tests.support.bluesky.devnet import DevNet, Postgres

FULL_POSTS, QUICK_POSTS = 20_000, 4_000
TARGET_POSTS_PER_S = 2_000.0


def pin(pid: int, cpus: set[int]) -> bool:
    """Pin every thread of ``pid`` (0: this process) to ``cpus``, where allowed."""
    if not hasattr(os, "sched_setaffinity"):
        return False
    wanted = cpus & set(range(os.cpu_count() or 1))
    if not wanted:
        return False
    tasks = Path(f"/proc/{pid or os.getpid()}/task")
    tids = [int(t.name) for t in tasks.iterdir()] if tasks.is_dir() else [pid]
    for tid in tids:
        try:
            os.sched_setaffinity(tid, wanted)
        except OSError:
            return False
    return True


async def create_posts(net: DevNet, total: int, per_commit: int, accounts: int) -> float:
    """Create ``total`` posts; return the posts/s the PDS accepted them at."""
    async with aiohttp.ClientSession(trust_env=False) as session:
        users = [await net.create_account(session, f"bench{n}") for n in range(accounts)]
        commits = [
            (users[i % accounts], min(per_commit, total - i * per_commit))
            for i in range((total + per_commit - 1) // per_commit)
        ]
        queue: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
        for index, (_, size) in enumerate(commits):
            queue.put_nowait((index, size))

        async def worker(account_index: int) -> None:
            # One worker per account: a repo takes one commit at a time anyway.
            user = users[account_index]
            while True:
                try:
                    index, size = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                texts = [f"bench post {index}-{n} road closed in Manchester" for n in range(size)]
                await net.create_posts(session, user, texts)

        started = time.monotonic()
        await asyncio.gather(*(worker(n) for n in range(accounts)))
        return total / (time.monotonic() - started)


async def replay(
    service: str, spool: Spool, cursors: CursorStore, total: int, batch: int
) -> tuple[float, float]:
    """Collect from cursor 0 until ``total`` posts are spooled; return (wall s, CPU s)."""
    config = BlueskySource(
        name="bench-firehose",
        kind="bluesky",
        mode="firehose",
        collect_all=True,
        service=service,
        options={"batch_events": batch},
    )
    collector = BlueskyFirehoseCollector(config)
    spooled = 0
    cursor: str | None = "0"
    stream = collector.stream(cursor)
    started, cpu = time.monotonic(), time.process_time()
    try:
        async for result in stream:
            report = await commit(collector.name, collector.health, result, cursor, spool, cursors)
            if report.error is not None:
                raise report.error
            cursor = result.cursor or cursor
            spooled += report.spooled
            if spooled >= total:
                break
    finally:
        elapsed, cpu = time.monotonic() - started, time.process_time() - cpu
        await stream.aclose()  # type: ignore[attr-defined]
        await collector.close()
    if spooled < total:
        raise RuntimeError(f"the firehose ended after {spooled:,} of {total:,} posts")
    return elapsed, cpu


async def record_frames(net: DevNet, path: Path) -> int:
    """Every frame the PDS's firehose has, from cursor 0, written to ``path``
    (length-prefixed), for the relay to replay."""
    count = 0
    url = f"{net.firehose}/xrpc/com.atproto.sync.subscribeRepos?cursor=0"
    async with (
        aiohttp.ClientSession(trust_env=False) as session,
        session.ws_connect(url, max_msg_size=0) as ws,
    ):
        with path.open("wb") as out:
            while True:
                try:
                    msg = await ws.receive(timeout=3)
                except TimeoutError:
                    return count  # the PDS has sent all it has
                if msg.type != aiohttp.WSMsgType.BINARY:
                    return count
                out.write(len(msg.data).to_bytes(4, "big") + msg.data)
                count += 1


# A stand-in relay in its own process (on the other core): it serves the
# recorded frames, unchanged, as fast as the socket takes them, so that the
# collector and not the dev PDS's replay speed is what is measured. It closes
# the stream at the end, so the last batch is not held for batch_seconds.
_RELAY = """
import sys
import libipld
from aiohttp import web
frames = []
with open(sys.argv[1], "rb") as f:
    data = f.read()
i = 0
while i < len(data):
    n = int.from_bytes(data[i:i + 4], "big")
    frame = data[i + 4:i + 4 + n]
    frames.append((libipld.decode_dag_cbor_multi(frame)[1].get("seq", 0), frame))
    i += 4 + n
async def subscribe(request):
    ws = web.WebSocketResponse(max_msg_size=0)
    await ws.prepare(request)
    after = int(request.query.get("cursor", "0"))
    for seq, frame in frames:
        if seq > after:
            await ws.send_bytes(frame)
    await ws.close()  # the replay is over; the collector spools what it holds at once
    return ws
app = web.Application()
app.router.add_get("/xrpc/com.atproto.sync.subscribeRepos", subscribe)
ready = lambda *_: print("ready", flush=True)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[2]), print=ready)
"""


def start_relay(frames: Path) -> tuple[subprocess.Popen[str], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    proc = subprocess.Popen(
        [sys.executable, "-c", _RELAY, str(frames), str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    if "ready" not in proc.stdout.readline():
        proc.kill()
        raise RuntimeError("the replay relay did not start")
    return proc, f"ws://127.0.0.1:{port}"


@benchmark("bluesky_firehose")
async def bluesky_firehose(options: BenchOptions) -> BenchResult:
    """Bluesky firehose replay into the spool on one core (posts/s)."""
    total = options.get_int("posts", QUICK_POSTS if options.quick else FULL_POSTS)
    per_commit = options.get_int("per_commit", 10)
    accounts = options.get_int("accounts", 8)
    batch = options.get_int("batch_events", 200)
    result = BenchResult()
    root = Path(tempfile.mkdtemp(prefix="bluelamp-bench-bsky-"))
    postgres = Postgres()
    try:
        net = await asyncio.to_thread(DevNet, postgres.url)
        try:
            create_rate = await create_posts(net, total, per_commit, accounts)
            frames = await record_frames(net, root / "frames.bin")
            affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
            relay, relay_url = start_relay(root / "frames.bin")
            try:
                others_pinned = pin(net.proc.pid, {1}) and pin(relay.pid, {1})
                pinned = pin(0, {0})
                # From the relay: the collector's own speed on one core.
                spool = Spool(root / "spool.sqlite3")
                cursors = CursorStore(f"sqlite:///{root / 'state.db'}")
                seconds, cpu = await replay(relay_url, spool, cursors, total, batch)
                stats = spool.stats()
                spool.close()
                # Straight from the dev PDS: bounded by how fast it replays its log.
                spool = Spool(root / "spool-pds.sqlite3")
                cursors = CursorStore(f"sqlite:///{root / 'state-pds.db'}")
                pds_seconds, _ = await replay(net.pds, spool, cursors, total, batch)
                spool.close()
            finally:
                relay.kill()
                relay.wait()
                if affinity:  # the benchmarks that run next get every core back
                    os.sched_setaffinity(0, affinity)
        finally:
            await asyncio.to_thread(net.stop)
    finally:
        postgres.stop()
        shutil.rmtree(root, ignore_errors=True)

    result.add("posts_per_s", total / seconds, "posts/s", "firehose replay into the spool")
    result.add("replay_s", seconds, "s", f"time to spool {total:,} posts")
    result.add("cpu_per_post_us", cpu / total * 1e6, "µs", "collector CPU per post")
    result.add(
        "pds_direct_posts_per_s", total / pds_seconds, "posts/s", "the same, from the dev PDS"
    )
    result.add("pds_create_posts_per_s", create_rate, "posts/s", "applyWrites on the dev PDS")
    result.targets.append(Target("posts_per_s", ">=", TARGET_POSTS_PER_S))
    result.context.update(
        posts=total,
        per_commit=per_commit,
        accounts=accounts,
        batch_events=batch,
        frames=frames,
        spooled=stats.pending,
        collector_pinned_to_cpu0=pinned,
        pds_and_relay_pinned_to_cpu1=others_pinned,
    )
    result.notes.append(
        f"{total:,} posts in commits of {per_commit} ({frames:,} firehose events), replayed"
        " by a relay process on the other core; the collector pinned to one core:"
        f" {pinned}. pds_direct is limited by the dev PDS's own replay speed."
    )
    return result

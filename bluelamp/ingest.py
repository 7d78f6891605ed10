"""File ingestion: import file -> spool (with a resumable checkpoint) -> engine."""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bluelamp.pipeline import Drainer, DrainTotals
from bluelamp.post import Post
from bluelamp.spool import Reject, Spool
from collectors.file_import import read_records


@dataclass
class IngestResult:
    read: int = 0
    accepted: int = 0
    rejects: list[Reject] = field(default_factory=list)
    resumed_from: int = 0
    drain: DrainTotals = field(default_factory=DrainTotals)
    pending_after: int = 0
    dead_letters: int = 0
    engine_error: str | None = None

    @property
    def ok(self) -> bool:
        return not self.rejects and self.pending_after == 0 and self.drain.failed == 0


def import_key(path: Path) -> str:
    """Identify a file by where it is, its inode and its first 4 KiB."""
    real = path.resolve()
    with real.open("rb") as handle:
        head = hashlib.sha256(handle.read(4096)).hexdigest()[:16]
    return f"{real}|{os.stat(real).st_ino}|{head}"


def count_records(path: Path) -> int | None:
    if path.suffix.lower() not in {".jsonl", ".ndjson", ".json"}:
        return None
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


def spool_file(
    path: Path,
    spool: Spool,
    *,
    batch_size: int,
    restart: bool = False,
    on_record: Callable[[int], None] | None = None,
    on_reject: Callable[[Reject], None] | None = None,
    stop: threading.Event | None = None,
) -> tuple[int, int, int]:
    """Read ``path`` into the spool, resuming after the last committed record.

    Returns (records read this run, posts accepted this run, resumed-from).
    Each batch and its checkpoint commit together, so a crash between
    batches neither loses nor repeats a record.
    """
    key = import_key(path)
    if restart:
        spool.forget_import(key)
    start = spool.import_checkpoint(key)
    posts: list[Post] = []
    rejects: list[Reject] = []
    read = accepted = 0
    last = start
    for record in read_records(path, skip=start):
        if stop and stop.is_set():
            break
        read += 1
        last = record.number
        if record.post is not None:
            posts.append(record.post)
        else:
            reject = Reject(record.number, record.line, record.error or "invalid")
            rejects.append(reject)
            if on_reject:
                on_reject(reject)
        if on_record:
            on_record(1)
        if len(posts) + len(rejects) >= batch_size:
            accepted += spool.put(
                posts, import_key=key, import_path=str(path), import_records=last, rejects=rejects
            )
            posts, rejects = [], []
    if posts or rejects or last != start:
        accepted += spool.put(
            posts, import_key=key, import_path=str(path), import_records=last, rejects=rejects
        )
    return read, accepted, start


async def ingest_file(
    path: Path,
    spool: Spool,
    drainer: Drainer | None,
    *,
    batch_size: int,
    restart: bool = False,
    on_record: Callable[[int], None] | None = None,
    on_reject: Callable[[Reject], None] | None = None,
    on_drain: Callable[[DrainTotals], None] | None = None,
    give_up_after_s: float | None = 60.0,
) -> IngestResult:
    """Spool the file while draining the spool into the engine, concurrently.

    With no drainer (the engine is unreachable) the file is still read into
    the spool: accepted posts wait there for ``bluelamp drain``.
    """
    result = IngestResult()
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    stop_reading = threading.Event()

    def produce() -> tuple[int, int, int]:
        try:
            return spool_file(
                path,
                spool,
                batch_size=batch_size,
                restart=restart,
                on_record=on_record,
                on_reject=on_reject,
                stop=stop_reading,
            )
        finally:
            loop.call_soon_threadsafe(done.set)

    producer = asyncio.create_task(asyncio.to_thread(produce))
    if drainer is None:
        result.read, result.accepted, result.resumed_from = await producer
        return await _finish(result, spool, path)
    try:
        await drainer.drain(
            stop=done, until_empty=False, on_batch=on_drain, give_up_after_s=give_up_after_s
        )
        read, accepted, resumed = await producer
        await drainer.drain(until_empty=True, on_batch=on_drain, give_up_after_s=give_up_after_s)
    finally:
        stop_reading.set()
        if not producer.done():
            await asyncio.gather(producer, return_exceptions=True)
    result.read, result.accepted, result.resumed_from = read, accepted, resumed
    result.drain = drainer.totals
    result.engine_error = drainer.last_error
    return await _finish(result, spool, path)


async def _finish(result: IngestResult, spool: Spool, path: Path) -> IngestResult:
    result.rejects = await asyncio.to_thread(spool.import_rejects, import_key(path))
    stats = await asyncio.to_thread(spool.stats)
    result.pending_after, result.dead_letters = stats.pending, stats.dead
    if not stats.pending:
        result.engine_error = None
    return result

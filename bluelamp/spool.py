"""Durable, at-least-once hand-off between collection and indexing.

A post is *accepted* once its spool transaction commits. It leaves the spool
only after the engine has confirmed it (ack), or moves to the dead-letter table
with the engine's reason when the engine rejects it for good. Ids are
idempotent in the index, so a redelivery after a crash updates the same
document: every accepted post ends up indexed exactly once.

SQLite in WAL mode: a committed transaction survives SIGKILL of the process
(``synchronous=NORMAL`` is durable against process crashes; set
``spool.sync: FULL`` (``BLUELAMP_SPOOL_SYNC=FULL``) for power-loss durability at
some speed cost).
The stdlib driver is used directly rather than SQLAlchemy: the spool is a
local per-node queue file, not shared state, and needs WAL pragmas and speed.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bluelamp.post import Post

OpKind = Literal["index", "delete"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ops (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    post_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('index', 'delete')),
    payload BLOB,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL DEFAULT 0,
    last_error TEXT,
    enqueued_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS ops_ready ON ops (next_at, seq);
CREATE TABLE IF NOT EXISTS dead (
    seq INTEGER PRIMARY KEY,
    post_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload BLOB,
    reason TEXT NOT NULL,
    failed_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS imports (
    key TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    records INTEGER NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS import_rejects (
    key TEXT NOT NULL,
    number INTEGER NOT NULL,
    line INTEGER NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (key, number)
);
"""


@dataclass(frozen=True)
class SpoolOp:
    seq: int
    post_id: str
    kind: OpKind
    payload: bytes | None
    attempts: int


@dataclass(frozen=True)
class SpoolStats:
    pending: int
    ready: int
    dead: int
    oldest_age_s: float | None


@dataclass(frozen=True)
class Reject:
    number: int
    line: int
    reason: str


class Spool:
    def __init__(self, path: Path, *, sync: Literal["NORMAL", "FULL"] = "NORMAL") -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        if sync not in ("NORMAL", "FULL"):
            raise ValueError(f"spool sync must be NORMAL or FULL, not {sync!r}")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={sync}")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ------------------------------------------------------------- accepting
    def put(
        self,
        posts: Iterable[Post],
        *,
        deletes: Iterable[str] = (),
        import_key: str | None = None,
        import_path: str | None = None,
        import_records: int | None = None,
        rejects: Sequence[Reject] = (),
    ) -> int:
        """Accept posts (and deletions) in one transaction, with an import checkpoint."""
        now = time.time()
        rows: list[tuple[str, str, bytes | None, float]] = [
            (p.id, "index", p.model_dump_json().encode(), now) for p in posts
        ]
        rows.extend((pid, "delete", None, now) for pid in deletes)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT INTO ops (post_id, kind, payload, enqueued_at) VALUES (?, ?, ?, ?)",
                    rows,
                )
                if import_key is not None and import_records is not None:
                    self._db.execute(
                        "INSERT INTO imports (key, path, records, updated_at) VALUES (?, ?, ?, ?)"
                        " ON CONFLICT(key) DO UPDATE SET records = excluded.records,"
                        " updated_at = excluded.updated_at",
                        (import_key, import_path or "", import_records, now),
                    )
                    self._db.executemany(
                        "INSERT OR REPLACE INTO import_rejects VALUES (?, ?, ?, ?)",
                        [(import_key, r.number, r.line, r.reason) for r in rejects],
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return len(rows)

    def import_checkpoint(self, key: str) -> int:
        with self._lock:
            row = self._db.execute("SELECT records FROM imports WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else 0

    def import_rejects(self, key: str) -> list[Reject]:
        with self._lock:
            rows = self._db.execute(
                "SELECT number, line, reason FROM import_rejects WHERE key = ? ORDER BY number",
                (key,),
            ).fetchall()
        return [Reject(*row) for row in rows]

    def forget_import(self, key: str) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM imports WHERE key = ?", (key,))
            self._db.execute("DELETE FROM import_rejects WHERE key = ?", (key,))
            self._db.execute("COMMIT")

    # ------------------------------------------------------------ delivering
    def next_batch(self, limit: int) -> list[SpoolOp]:
        """The oldest ops that are due, in acceptance order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, post_id, kind, payload, attempts FROM ops"
                " WHERE next_at <= ? ORDER BY seq LIMIT ?",
                (time.time(), limit),
            ).fetchall()
        return [SpoolOp(*row) for row in rows]

    def ack(self, seqs: Sequence[int]) -> None:
        if not seqs:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("DELETE FROM ops WHERE seq = ?", [(s,) for s in seqs])
            self._db.execute("COMMIT")

    def defer(self, failures: dict[int, str], delay_s: float) -> None:
        if not failures:
            return
        due = time.time() + delay_s
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "UPDATE ops SET attempts = attempts + 1, next_at = ?, last_error = ? WHERE seq = ?",
                [(due, reason[:2000], seq) for seq, reason in failures.items()],
            )
            self._db.execute("COMMIT")

    def dead_letter(self, failures: dict[int, str]) -> None:
        """Move ops the engine rejected for good aside, with the reason; never drop them."""
        if not failures:
            return
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            for seq, reason in failures.items():
                self._db.execute(
                    "INSERT OR REPLACE INTO dead (seq, post_id, kind, payload, reason, failed_at)"
                    " SELECT seq, post_id, kind, payload, ?, ? FROM ops WHERE seq = ?",
                    (reason[:2000], now, seq),
                )
                self._db.execute("DELETE FROM ops WHERE seq = ?", (seq,))
            self._db.execute("COMMIT")

    def requeue_dead(self) -> int:
        """Give dead-lettered ops another try (after the cause is fixed)."""
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            cur = self._db.execute(
                "INSERT INTO ops (post_id, kind, payload, enqueued_at)"
                " SELECT post_id, kind, payload, ? FROM dead ORDER BY seq",
                (now,),
            )
            self._db.execute("DELETE FROM dead")
            self._db.execute("COMMIT")
        return cur.rowcount

    def dead_letters(self, limit: int = 100) -> list[tuple[str, str, float]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT post_id, reason, failed_at FROM dead ORDER BY seq LIMIT ?", (limit,)
            ).fetchall()
        return [(str(a), str(b), float(c)) for a, b, c in rows]

    def stats(self) -> SpoolStats:
        now = time.time()
        with self._lock:
            pending, oldest = self._db.execute(
                "SELECT count(*), min(enqueued_at) FROM ops"
            ).fetchone()
            ready = self._db.execute(
                "SELECT count(*) FROM ops WHERE next_at <= ?", (now,)
            ).fetchone()[0]
            dead = self._db.execute("SELECT count(*) FROM dead").fetchone()[0]
        return SpoolStats(
            pending=int(pending),
            ready=int(ready),
            dead=int(dead),
            oldest_age_s=(now - float(oldest)) if oldest is not None else None,
        )

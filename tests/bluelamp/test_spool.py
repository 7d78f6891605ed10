from __future__ import annotations

from pathlib import Path

from bluelamp.spool import Reject, Spool
from tests.indexer.helpers import make_post


def test_ops_come_back_in_order_and_leave_only_when_acked(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite3")
    spool.put([make_post(1), make_post(2)], deletes=["bluesky:p1"])
    ops = spool.next_batch(10)
    assert [(o.post_id, o.kind) for o in ops] == [
        ("bluesky:p1", "index"),
        ("bluesky:p2", "index"),
        ("bluesky:p1", "delete"),
    ]
    spool.ack([ops[0].seq])
    reopened = Spool(tmp_path / "s.sqlite3")  # survives a new process opening it
    assert [o.seq for o in reopened.next_batch(10)] == [ops[1].seq, ops[2].seq]


def test_deferred_ops_wait_and_dead_letters_keep_the_reason(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite3")
    spool.put([make_post(1), make_post(2)])
    first, second = spool.next_batch(10)
    spool.defer({first.seq: "HTTP 429"}, delay_s=3600)
    spool.dead_letter({second.seq: "HTTP 400 mapper_parsing_exception"})
    assert spool.next_batch(10) == []
    stats = spool.stats()
    assert (stats.pending, stats.ready, stats.dead) == (1, 0, 1)
    assert spool.dead_letters()[0][:2] == ("bluesky:p2", "HTTP 400 mapper_parsing_exception")
    assert spool.requeue_dead() == 1
    assert [o.post_id for o in spool.next_batch(10)] == ["bluesky:p2"]


def test_import_checkpoint_commits_with_the_batch(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite3")
    spool.put(
        [make_post(1)],
        import_key="k",
        import_path="f",
        import_records=2,
        rejects=[Reject(2, 2, "created_at: required")],
    )
    assert spool.import_checkpoint("k") == 2
    assert spool.import_rejects("k") == [Reject(2, 2, "created_at: required")]
    spool.forget_import("k")
    assert spool.import_checkpoint("k") == 0


def test_full_sync_is_applied_for_power_loss_durability(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite3", sync="FULL")
    assert spool._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert Spool(tmp_path / "t.sqlite3")._db.execute("PRAGMA synchronous").fetchone()[0] == 1

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from bluelamp.audit import AuditLedger, AuditRefused, Justification


def test_entries_chain_and_verify(state_url: str) -> None:
    ledger = AuditLedger(state_url)
    for n in range(5):
        ledger.record(
            "search", Justification("tension monitoring", f"OP-{n}", "web:1"), {"query": f"q{n}"}
        )
    assert ledger.verify() == (True, 5, None)
    newest = ledger.entries(1)[0]
    assert (newest.seq, newest.reference, newest.detail) == (5, "OP-4", {"query": "q4"})
    assert newest.prev_hash == ledger.entries(2)[1].hash


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        ("UPDATE audit_ledger SET purpose = 'nothing to see' WHERE seq = 2", "entry 2 was altered"),
        ("DELETE FROM audit_ledger WHERE seq = 3", "entry 3 is missing"),
        (
            'UPDATE audit_ledger SET detail = \'{"query": "other"}\' WHERE seq = 4',
            "entry 4 was altered",
        ),
    ],
)
def test_tampering_is_detected(state_url: str, tamper: str, problem: str) -> None:
    ledger = AuditLedger(state_url)
    for n in range(5):
        ledger.record("search", Justification("purpose", None, "local:a"), {"query": f"q{n}"})
    with ledger.engine.begin() as conn:
        conn.execute(text(tamper))
    intact, _, found = ledger.verify()
    assert not intact and found is not None and found.startswith(problem)


def test_a_purpose_is_required(state_url: str) -> None:
    ledger = AuditLedger(state_url)
    with pytest.raises(AuditRefused):
        ledger.record("search", Justification("  "), {})
    with pytest.raises(ValueError, match="unknown audit action"):
        ledger.record("browse", Justification("purpose"), {})
    assert ledger.verify() == (True, 0, None)


def test_concurrent_writers_never_fork_the_chain(state_url: str) -> None:
    ledger = AuditLedger(state_url)

    def write(worker: int) -> None:
        own = AuditLedger(state_url)  # each writer its own connection pool, as processes would
        for n in range(15):
            own.record("search", Justification("load", None, f"w{worker}"), {"n": n})

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(write, range(4)))
    assert ledger.verify() == (True, 60, None)

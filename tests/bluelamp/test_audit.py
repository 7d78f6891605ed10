from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from bluelamp.audit import AuditLedger, AuditRefused, Justification


def test_entries_chain_and_verify(tmp_path: Path) -> None:
    ledger = AuditLedger(f"sqlite:///{tmp_path / 'state.db'}")
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
def test_tampering_is_detected(tmp_path: Path, tamper: str, problem: str) -> None:
    ledger = AuditLedger(f"sqlite:///{tmp_path / 'state.db'}")
    for n in range(5):
        ledger.record("search", Justification("purpose", None, "local:a"), {"query": f"q{n}"})
    with ledger.engine.begin() as conn:
        conn.execute(text(tamper))
    intact, _, found = ledger.verify()
    assert not intact and found is not None and found.startswith(problem)


def test_a_purpose_is_required(tmp_path: Path) -> None:
    ledger = AuditLedger(f"sqlite:///{tmp_path / 'state.db'}")
    with pytest.raises(AuditRefused):
        ledger.record("search", Justification("  "), {})
    with pytest.raises(ValueError, match="unknown audit action"):
        ledger.record("browse", Justification("purpose"), {})
    assert ledger.verify() == (True, 0, None)

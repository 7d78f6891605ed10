"""The audit ledger: append-only, hash-chained record of who did what and why.

DPA 2018 s.62 asks for logs of consultation, disclosure, alteration,
combination and erasure: who, when and why. Each entry's hash covers the
previous entry's hash, so editing or deleting any row breaks ``verify``.
Stored through SQLAlchemy: SQLite by default, PostgreSQL in production.
"""

from __future__ import annotations

import getpass
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, Text, create_engine, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from bluelamp.errors import BluelampError

GENESIS = "0" * 64
# "configure": what is being monitored (the sources in force when collection starts).
ACTIONS = (
    "search",
    "view_author",
    "export",
    "reply",
    "erase",
    "ingest",
    "retention",
    "configure",
)


class AuditRefused(BluelampError):
    """An action that must be justified was attempted without a purpose."""


class _Base(DeclarativeBase):
    pass


class AuditEntry(_Base):
    __tablename__ = "audit_ledger"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(40))
    purpose: Mapped[str] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(String(200), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


@dataclass(frozen=True)
class Justification:
    """Why an action is done: a purpose and, where there is one, a reference."""

    purpose: str
    reference: str | None = None
    actor: str | None = None

    def checked(self) -> Justification:
        purpose = (self.purpose or "").strip()
        if len(purpose) < 3:
            raise AuditRefused(
                "this action needs a stated purpose",
                hint="give --purpose (and --reference for an operation, incident or crime number)",
            )
        return Justification(
            purpose[:500],
            (self.reference or "").strip()[:200] or None,
            self.actor or default_actor(),
        )


def default_actor() -> str:
    try:
        return f"local:{getpass.getuser()}"
    except (KeyError, OSError):
        return "local:unknown"


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were written as UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _digest(entry: AuditEntry) -> str:
    canonical = json.dumps(
        {
            "seq": entry.seq,
            "at": _utc(entry.at).isoformat(),
            "actor": entry.actor,
            "action": entry.action,
            "purpose": entry.purpose,
            "reference": entry.reference,
            "detail": entry.detail,
            "prev": entry.prev_hash,
        },
        sort_keys=True,
        ensure_ascii=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class AuditLedger:
    def __init__(self, url: str) -> None:
        self.engine: Engine = create_engine(url, future=True)
        _Base.metadata.create_all(self.engine)

    def record(self, action: str, why: Justification, detail: dict[str, Any]) -> AuditEntry:
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action!r}")
        why = why.checked()
        payload = json.loads(json.dumps(detail, default=str))
        for _ in range(20):
            try:
                return self._append(action, why, payload)
            except IntegrityError:
                continue  # another writer took this seq; chain onto its entry instead
        raise BluelampError("could not append to the audit ledger under contention")

    def _append(self, action: str, why: Justification, detail: dict[str, Any]) -> AuditEntry:
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            if self.engine.dialect.name == "postgresql":
                session.connection().exec_driver_sql("LOCK TABLE audit_ledger IN EXCLUSIVE MODE")
            last = session.scalars(
                select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)
            ).first()
            entry = AuditEntry(
                seq=(last.seq + 1) if last else 1,
                at=datetime.now(UTC),
                actor=why.actor or default_actor(),
                action=action,
                purpose=why.purpose,
                reference=why.reference,
                detail=detail,
                prev_hash=last.hash if last else GENESIS,
                hash="",
            )
            entry.hash = _digest(entry)
            session.add(entry)
        return entry

    def entries(self, limit: int = 100) -> list[AuditEntry]:
        with Session(self.engine) as session:
            rows = session.scalars(
                select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)
            ).all()
            session.expunge_all()
        return list(rows)

    def verify(self) -> tuple[bool, int, str | None]:
        """Walk the chain; return (intact, entries checked, first problem)."""
        prev = GENESIS
        count = 0
        with Session(self.engine) as session:
            for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.seq)):
                count += 1
                if entry.seq != count:
                    return False, count, f"entry {count} is missing (found seq {entry.seq})"
                if entry.prev_hash != prev:
                    return False, count, f"entry {entry.seq} does not follow entry {entry.seq - 1}"
                if _digest(entry) != entry.hash:
                    return False, count, f"entry {entry.seq} was altered"
                prev = entry.hash
        return True, count, None

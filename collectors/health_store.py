"""Source health figures, kept in the state database so that ``bluelamp sources
status`` and the API can read what the running monitor last saw.

One row per source, holding :class:`collectors.base.SourceHealth` as JSON. The
monitor writes it after every poll or stream batch (cheap: one upsert).
SQLAlchemy 2: SQLite by default, PostgreSQL in production.
"""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, String, Text, create_engine, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from collectors.base import SourceHealth


class _Base(DeclarativeBase):
    pass


class HealthRow(_Base):
    __tablename__ = "collector_health"

    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    data: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


_DATES = {"last_success_at", "last_error_at"}


def _encode(health: SourceHealth) -> str:
    data = health.as_dict()
    for key in _DATES:
        value = data.get(key)
        data[key] = value.isoformat() if isinstance(value, datetime) else None
    return json.dumps(data)


def _decode(text: str) -> SourceHealth:
    data: dict[str, Any] = json.loads(text)
    known = {f.name for f in fields(SourceHealth)}
    values = {k: v for k, v in data.items() if k in known}  # tolerate older/newer rows
    for key in _DATES:
        if values.get(key):
            values[key] = datetime.fromisoformat(values[key])
    return SourceHealth(**values)


class HealthStore:
    def __init__(self, url_or_engine: str | Engine) -> None:
        self.engine: Engine = (
            create_engine(url_or_engine, future=True)
            if isinstance(url_or_engine, str)
            else url_or_engine
        )
        _Base.metadata.create_all(self.engine)

    def save(self, health: SourceHealth) -> None:
        with Session(self.engine) as session, session.begin():
            session.merge(
                HealthRow(source=health.source, data=_encode(health), updated_at=datetime.now(UTC))
            )

    def load(self, source: str) -> SourceHealth | None:
        with Session(self.engine) as session:
            row = session.get(HealthRow, source)
            return _decode(row.data) if row else None

    def all(self) -> dict[str, tuple[SourceHealth, datetime]]:
        """Every source's last saved health and when it was saved."""
        with Session(self.engine) as session:
            out = {}
            for row in session.scalars(select(HealthRow)):
                when = row.updated_at
                when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
                out[row.source] = (_decode(row.data), when)
            return out

    def close(self) -> None:
        self.engine.dispose()

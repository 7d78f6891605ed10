"""Where each source resumes from: one opaque text cursor per source, in the state DB.

The cursor is whatever the collector needs (an ETag, a ``since_id``, a
firehose sequence number, JSON of several): this store only keeps it. It is
written by :func:`collectors.base.run_once` after the posts are in the spool.
SQLAlchemy 2: SQLite by default, PostgreSQL in production.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, String, Text, create_engine, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class _Base(DeclarativeBase):
    pass


class CursorRow(_Base):
    __tablename__ = "collector_cursors"

    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    cursor: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CursorStore:
    def __init__(self, url_or_engine: str | Engine) -> None:
        self.engine: Engine = (
            create_engine(url_or_engine, future=True)
            if isinstance(url_or_engine, str)
            else url_or_engine
        )
        _Base.metadata.create_all(self.engine)

    def get(self, source: str) -> str | None:
        with Session(self.engine) as session:
            row = session.get(CursorRow, source)
            return row.cursor if row else None

    def set(self, source: str, cursor: str) -> None:
        """Insert or replace ``source``'s cursor, atomically (concurrent writers safe)."""
        now = datetime.now(UTC)
        values = {"source": source, "cursor": cursor, "updated_at": now}
        dialect = self.engine.dialect.name
        with Session(self.engine) as session, session.begin():
            if dialect in ("postgresql", "sqlite"):
                insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
                stmt = insert(CursorRow).values(**values)
                session.execute(
                    stmt.on_conflict_do_update(
                        index_elements=[CursorRow.source],
                        set_={"cursor": cursor, "updated_at": now},
                    )
                )
            else:  # other databases: read-then-write inside the transaction
                session.merge(CursorRow(**values))

    def updated_at(self, source: str) -> datetime | None:
        with Session(self.engine) as session:
            row = session.get(CursorRow, source)
            if row is None:
                return None
            when = row.updated_at
            return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)

    def delete(self, source: str) -> bool:
        """Forget a source's cursor (it starts from scratch on its next poll)."""
        with Session(self.engine) as session, session.begin():
            result = session.execute(delete(CursorRow).where(CursorRow.source == source))
            return bool(getattr(result, "rowcount", 0))

    def all(self) -> dict[str, str]:
        with Session(self.engine) as session:
            return {row.source: row.cursor for row in session.scalars(select(CursorRow))}

    def close(self) -> None:
        self.engine.dispose()

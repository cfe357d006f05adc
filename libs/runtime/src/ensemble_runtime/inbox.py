"""Idempotent consumers: an event_id is processed at most once per consumer.

The inbox row is written in the same transaction as the handler's effects, so a redelivered
event (after a crash between DB commit and offset commit) is recognised and skipped.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import cast
from uuid import UUID

from sqlalchemy import Table, bindparam, insert
from sqlmodel import Field, Session, SQLModel, col, select

from ensemble_runtime.db import UtcDateTime
from ensemble_runtime.prepared import Prepared


class ProcessedEvent(SQLModel, table=True):
    __tablename__ = "inbox"

    consumer: str = Field(primary_key=True, max_length=100)
    event_id: UUID = Field(primary_key=True)
    processed_at: datetime = Field(default_factory=lambda: datetime.now(UTC), sa_type=UtcDateTime)


_SEEN_AMONG = Prepared(
    select(col(ProcessedEvent.event_id)).where(
        col(ProcessedEvent.consumer) == bindparam("consumer"),
        col(ProcessedEvent.event_id).in_(bindparam("event_ids", expanding=True)),
    )
)
_RECORD = Prepared(insert(cast(Table, ProcessedEvent.__table__)))  # type: ignore[attr-defined]


class Inbox:
    """The events a consumer group has already applied, in the unit of work's transaction.

    On every event's path: prepared statements (prepared.py), not the ORM.
    """

    def __init__(self, session: Session) -> None:
        self._session = session

    def seen(self, consumer: str, event_id: UUID) -> bool:
        return event_id in self.seen_among(consumer, [event_id])

    def seen_among(self, consumer: str, event_ids: Sequence[UUID]) -> set[UUID]:
        """Which of these events this consumer has already applied (one query a batch)."""
        if not event_ids:
            return set()
        found = _SEEN_AMONG.execute(
            self._session, {"consumer": consumer, "event_ids": list(event_ids)}
        )
        return {row[0] for row in found.rows}

    def record_all(self, consumer: str, event_ids: Sequence[UUID]) -> None:
        """Remember these events as applied, in one statement."""
        if event_ids:
            now = datetime.now(UTC)
            _RECORD.execute(
                self._session,
                [{"consumer": consumer, "event_id": e, "processed_at": now} for e in event_ids],
            )

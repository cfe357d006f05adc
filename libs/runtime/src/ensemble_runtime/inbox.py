"""Idempotent consumers: an event_id is processed at most once per consumer.

The inbox row is written in the same transaction as the handler's effects, so a redelivered
event (after a crash between DB commit and offset commit) is recognised and skipped.
"""

from datetime import UTC, datetime
from uuid import UUID

from sqlmodel import Field, Session, SQLModel

from ensemble_runtime.db import UtcDateTime


class ProcessedEvent(SQLModel, table=True):
    __tablename__ = "inbox"

    consumer: str = Field(primary_key=True, max_length=100)
    event_id: UUID = Field(primary_key=True)
    processed_at: datetime = Field(default_factory=lambda: datetime.now(UTC), sa_type=UtcDateTime)


class Inbox:
    """The events a consumer group has already applied, in the unit of work's transaction."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def seen(self, consumer: str, event_id: UUID) -> bool:
        return self._session.get(ProcessedEvent, (consumer, event_id)) is not None

    def record(self, consumer: str, event_id: UUID) -> None:
        self._session.add(ProcessedEvent(consumer=consumer, event_id=event_id))

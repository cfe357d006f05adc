"""Idempotent consumers: an event_id is processed at most once per consumer.

The inbox row is written in the same transaction as the handler's effects, so a redelivered
event (after a crash between DB commit and offset commit) is recognised and skipped.
"""

from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import DateTime
from sqlmodel import Field, Session, SQLModel


class ProcessedEvent(SQLModel, table=True):
    __tablename__ = "inbox"

    consumer: str = Field(primary_key=True, max_length=100)
    event_id: UUID = Field(primary_key=True)
    processed_at: datetime = Field(
        default_factory=lambda: datetime.now(UTC), sa_type=DateTime(timezone=True)
    )


def already_processed(session: Session, consumer: str, event_id: UUID) -> bool:
    return session.get(ProcessedEvent, (consumer, event_id)) is not None


def record_processed(session: Session, consumer: str, event_id: UUID) -> None:
    session.add(ProcessedEvent(consumer=consumer, event_id=event_id))

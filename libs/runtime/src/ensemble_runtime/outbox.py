"""Transactional outbox: events are rows committed with the state change that caused them.

Writing and reading rows is on every event's path, so it is SQLAlchemy Core, not the ORM: no
identity map, no unit-of-work flush; prepared statements (prepared.py). Each row keeps the
traceparent of the span that staged it, so the relay carries the trace on (tracing.py).
"""

from datetime import UTC, datetime
from typing import NamedTuple, cast
from uuid import UUID

from sqlalchemy import Table, bindparam, insert, select, update
from sqlmodel import Field, Session, SQLModel

from ensemble_contracts import Envelope, PatientEvent, TopicSpec
from ensemble_runtime.db import UtcDateTime
from ensemble_runtime.prepared import Prepared
from ensemble_runtime.tracing import current_traceparent


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    topic: str = Field(max_length=200)
    key: str | None = Field(default=None, max_length=200)
    event_id: UUID = Field(unique=True)
    event_type: str = Field(max_length=100)
    correlation_id: str = Field(max_length=64)
    payload: str
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC), sa_type=UtcDateTime)
    published_at: datetime | None = Field(default=None, index=True, sa_type=UtcDateTime)
    # W3C trace context (version-traceid-spanid-flags, 55 characters) of the writing span.
    traceparent: str | None = Field(default=None, max_length=55)


OUTBOX = cast(Table, OutboxMessage.__table__)  # type: ignore[attr-defined]
_INSERT = Prepared(insert(OUTBOX))
_PENDING = Prepared(
    select(
        OUTBOX.c.id,
        OUTBOX.c.topic,
        OUTBOX.c.key,
        OUTBOX.c.event_id,
        OUTBOX.c.event_type,
        OUTBOX.c.correlation_id,
        OUTBOX.c.payload,
        OUTBOX.c.traceparent,
    )
    .where(OUTBOX.c.published_at.is_(None))
    .order_by(OUTBOX.c.id)
    .limit(bindparam("limit"))
)
_MARK_PUBLISHED = Prepared(
    update(OUTBOX)
    .where(OUTBOX.c.id.in_(bindparam("ids", expanding=True)))
    .values(published_at=bindparam("now"))
)


class PendingRow(NamedTuple):
    """An unpublished outbox row, as the relay sends it."""

    id: int
    topic: str
    key: str | None
    event_id: UUID
    event_type: str
    correlation_id: str
    payload: str
    traceparent: str | None = None


def add_to_outbox(session: Session, topic: TopicSpec[Envelope], event: Envelope) -> None:
    """Stage an event; it is published only if the surrounding transaction commits."""
    if not isinstance(event, topic.value):
        raise TypeError(f"{type(event).__name__} does not belong on {topic.name}")
    key = event.key if isinstance(event, PatientEvent) else None
    _INSERT.execute(
        session,
        {
            "topic": topic.name,
            "key": key,
            "event_id": event.event_id,
            "event_type": event.event_type,
            "correlation_id": str(event.correlation_id),
            "payload": event.model_dump_json(),
            "created_at": datetime.now(UTC),
            "published_at": None,
            "traceparent": current_traceparent(),  # None outside a span (tracing off)
        },
    )


def pending(session: Session, limit: int) -> list[PendingRow]:
    """Unpublished rows, oldest first (so per-key order is creation order)."""
    rows = _PENDING.execute(session, {"limit": limit}).rows
    return [PendingRow._make(row) for row in rows]


def mark_published(session: Session, ids: list[int]) -> None:
    now = datetime.now(UTC)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        _MARK_PUBLISHED.execute(session, {"ids": chunk, "now": now})

"""Webhook reads for `runtime.read`: the dispatcher's one query per tick (is there planning
to do, which queue heads are due) and what the HTTP API shows (never a secret, never a
delivery's body)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, select
from sqlmodel import Session

from ensemble_runtime.prepared import Prepared
from hospital_feed.adapters.webhooks import (
    ALERTS,
    DELIVERIES,
    ENDPOINTS,
    PENDING,
    REALTIME_BEHIND,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookRepository,
)
from hospital_feed.domain.webhooks import DeliveryStatus

_QUEUED = DELIVERIES.alias("queued")
_HEAD = (  # the oldest pending delivery of a recipient: its queue's head
    select(func.min(_QUEUED.c.id))
    .where(_QUEUED.c.recipient == ENDPOINTS.c.recipient, _QUEUED.c.status == PENDING)
    .correlate(ENDPOINTS)
    .scalar_subquery()
)
_DUE = (
    select(
        DELIVERIES.c.id,
        DELIVERIES.c.recipient,
        DELIVERIES.c.webhook_id,
        DELIVERIES.c.type,
        DELIVERIES.c.payload,
        DELIVERIES.c.attempts,
        ENDPOINTS.c.url,
        ENDPOINTS.c.secret,
        ENDPOINTS.c.previous_secret,
        ENDPOINTS.c.previous_secret_until,
        ALERTS.c.created_at,
    )
    .select_from(
        ENDPOINTS.join(DELIVERIES, DELIVERIES.c.id == _HEAD).outerjoin(
            ALERTS, ALERTS.c.alert_id == DELIVERIES.c.alert_id
        )
    )
    .where(ENDPOINTS.c.enabled, DELIVERIES.c.next_attempt_at <= bindparam("now"))
    .order_by(DELIVERIES.c.next_attempt_at, DELIVERIES.c.id)
    .limit(bindparam("limit"))
)
# The dispatcher reads these on every tick, busy or idle: prepared (ADR 7), as built per call
# they cost SQLAlchemy a cache key each time, the largest share of an idle hospital-feed.
_PLAN_NEEDED = Prepared(REALTIME_BEHIND.with_only_columns(ENDPOINTS.c.recipient).limit(1))
_DUE_ANY = Prepared(_DUE)
_DUE_NOT_BUSY = Prepared(
    _DUE.where(ENDPOINTS.c.recipient.not_in(bindparam("busy", expanding=True)))
)


@dataclass(frozen=True)
class Due:
    """A delivery to send now, with what signing and the metrics need."""

    delivery_id: int
    recipient: str
    webhook_id: str
    type: str
    payload: str
    attempts: int
    url: str
    secrets: tuple[str, ...]  # the current secret, then a rotated-out one still valid
    alert_created_at: datetime | None


@dataclass(frozen=True)
class DispatchWork:
    plan_needed: bool  # some real-time endpoint has alerts above its cursor
    due: list[Due]


def dispatch_work(
    session: Session, now: datetime, busy: frozenset[str], limit: int
) -> DispatchWork:
    """One read per dispatcher tick: is there planning to do, and which queue heads are due
    (at most `limit`, none of the `busy` recipients, whose delivery is in flight)."""
    plan_needed = _PLAN_NEEDED.execute(session).first()
    due: list[Due] = []
    if limit > 0:
        asked: dict[str, Any] = {"now": now, "limit": limit}
        if busy:
            asked["busy"] = sorted(busy)
        rows = (_DUE_NOT_BUSY if busy else _DUE_ANY).execute(session, asked).rows
        for row in rows:
            id_, recipient, webhook_id, type_, payload, attempts, url, *signing = row
            secret, previous_secret, previous_until, created_at = signing
            previous = previous_until is not None and previous_until > now
            secrets = (secret, previous_secret) if previous else (secret,)
            due.append(
                Due(id_, recipient, webhook_id, type_, payload, attempts, url, secrets, created_at)
            )
    return DispatchWork(plan_needed is not None, due)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def endpoint_view(session: Session, recipient: str) -> dict[str, Any] | None:
    """The recipient's endpoint as its owner sees it: never the secret."""
    endpoint = session.get(WebhookEndpoint, recipient)
    if endpoint is None:
        return None
    return {
        "url": endpoint.url,
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason,
        "previous_secret_valid_until": _iso(endpoint.previous_secret_until),
        "created_at": _iso(endpoint.created_at),
        "created_by": endpoint.created_by,
        "updated_at": _iso(endpoint.updated_at),
        "updated_by": endpoint.updated_by,
    }


def preferences_view(session: Session, recipient: str) -> dict[str, Any]:
    """The recipient's preferences (every kind and band, in real time, when none are set)."""
    return WebhookRepository(session).preferences(recipient).to_json()


def delivery_view(row: WebhookDelivery) -> dict[str, Any]:
    """A delivery for staff: its state, never its body (which names the patient)."""
    return {
        "id": row.id,
        "recipient": row.recipient,
        "type": row.type,
        "alert_id": row.alert_id,
        "webhook_id": row.webhook_id,
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": _iso(row.next_attempt_at) if row.status == PENDING else None,
        "last_attempt_at": _iso(row.last_attempt_at),
        "last_status_code": row.last_status_code,
        "last_error": row.last_error,
        "created_at": _iso(row.created_at),
        "delivered_at": _iso(row.delivered_at),
    }


def deliveries(
    session: Session, status: str | None, recipient: str | None, after: int, limit: int
) -> list[dict[str, Any]]:
    """Deliveries with ids above `after`, oldest first, optionally of one status or one
    recipient."""
    conditions = [DELIVERIES.c.id > after]
    if status is not None:
        conditions.append(DELIVERIES.c.status == status)
    if recipient is not None:
        conditions.append(DELIVERIES.c.recipient == recipient)
    rows = session.scalars(
        select(WebhookDelivery).where(and_(*conditions)).order_by(DELIVERIES.c.id).limit(limit)
    )
    return [delivery_view(row) for row in rows]


def delivery(session: Session, delivery_id: int) -> dict[str, Any] | None:
    row = session.get(WebhookDelivery, delivery_id)
    return delivery_view(row) if row is not None else None


def dead_count(session: Session) -> int:
    found = session.execute(
        select(func.count()).where(DELIVERIES.c.status == DeliveryStatus.DEAD.value)
    )
    return int(found.scalar_one())

"""Webhooks in the store: each recipient's endpoint (with its cursor into the alerts), its
deliveries, and its preferences; the SQL the planner, the dispatcher and the HTTP API need.

Deliveries are planned from `practice_alerts` by cursor (`WebhookEndpoint.last_alert_id`),
in the planner's transaction: the deliveries and the advanced cursor commit together, so a
crash before the commit plans the same alerts again and one after it finds them planned
(docs/adr/0008-webhooks-from-the-store.md). Alert ids commit in id order (see
`AlertRepository.insert`), so every alert at or below the newest visible id is visible.
"""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Index,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlmodel import Field, Session, SQLModel

from ensemble_contracts import limits
from ensemble_runtime.db import UtcDateTime, core_sql, serialize_on
from hospital_feed.adapters import views
from hospital_feed.adapters.orm import PracticeAlert
from hospital_feed.domain.webhooks import (
    MAX_ERROR,
    MAX_URL,
    DeliveryMode,
    DeliveryStatus,
    Preferences,
    new_webhook_id,
    preferences,
)

USER = 100  # who registered or changed it, as seen_by


class WebhookEndpoint(SQLModel, table=True):
    """Where a recipient's deliveries go, signed with its secret; the planner's cursor."""

    __tablename__ = "webhook_endpoints"

    recipient: str = Field(primary_key=True, max_length=limits.ODS_CODE)
    url: str = Field(max_length=MAX_URL)
    secret: str = Field(max_length=100)  # whsec_...: needed in clear to sign
    # After a rotation the old secret also signs until then, so receivers can switch over.
    previous_secret: str | None = Field(default=None, max_length=100)
    previous_secret_until: datetime | None = Field(default=None, sa_type=UtcDateTime)
    enabled: bool = Field(default=True, sa_column_kwargs={"server_default": true()})
    disabled_reason: str | None = Field(default=None, max_length=MAX_ERROR)
    last_alert_id: int = 0  # every alert at or below it is planned (or not wanted)
    last_digest_at: datetime | None = Field(default=None, sa_type=UtcDateTime)  # its slot
    created_at: datetime = Field(sa_type=UtcDateTime)
    created_by: str = Field(max_length=USER)
    updated_at: datetime = Field(sa_type=UtcDateTime)
    updated_by: str = Field(max_length=USER)


class WebhookDelivery(SQLModel, table=True):
    """One message to a recipient's endpoint, sent until a 2xx (or dead), always with the
    same `webhook_id` and body."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # An alert is planned for a recipient once, whatever happens (belt and braces).
        UniqueConstraint("recipient", "alert_id", name="uq_webhook_delivery_per_alert"),
        Index("ix_webhook_deliveries_queue", "recipient", "status", "id"),
        Index("ix_webhook_deliveries_status", "status", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    recipient: str = Field(max_length=limits.ODS_CODE)
    type: str = Field(max_length=20)  # alert.created | alert.digest
    alert_id: int | None = None  # alert.created only
    payload: str = Field(sa_type=Text)  # the JSON body, exactly as sent
    webhook_id: str = Field(max_length=40, unique=True)
    status: str = Field(max_length=20)
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=UtcDateTime)
    last_attempt_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_error: str | None = Field(default=None, max_length=MAX_ERROR)  # never a body echo
    last_status_code: int | None = None
    created_at: datetime = Field(sa_type=UtcDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class RecipientPreference(SQLModel, table=True):
    """Which alerts a recipient's webhook is sent, and real time or twice-daily digest."""

    __tablename__ = "recipient_preferences"

    recipient: str = Field(primary_key=True, max_length=limits.ODS_CODE)
    kinds: str | None = Field(default=None, sa_type=Text)  # JSON list; null: every kind
    bands: str | None = Field(default=None, sa_type=Text)  # JSON list; null: every band
    delivery: str = Field(default=DeliveryMode.REALTIME, max_length=20)
    updated_at: datetime = Field(sa_type=UtcDateTime)
    updated_by: str = Field(max_length=USER)


ENDPOINTS = cast(Table, WebhookEndpoint.__table__)  # type: ignore[attr-defined]
DELIVERIES = cast(Table, WebhookDelivery.__table__)  # type: ignore[attr-defined]
PREFERENCES = cast(Table, RecipientPreference.__table__)  # type: ignore[attr-defined]
ALERTS = cast(Table, PracticeAlert.__table__)  # type: ignore[attr-defined]

PENDING = DeliveryStatus.PENDING.value


def _mode_is(mode: DeliveryMode) -> ColumnElement[bool]:
    """The recipient's delivery mode (real time when it set no preferences) is `mode`."""
    return func.coalesce(PREFERENCES.c.delivery, DeliveryMode.REALTIME.value) == mode.value


_WITH_PREFERENCES = ENDPOINTS.outerjoin(
    PREFERENCES, PREFERENCES.c.recipient == ENDPOINTS.c.recipient
)
# An enabled real-time endpoint with an alert of its recipient above its cursor (an index
# seek on ix_practice_alerts_feed per endpoint).
REALTIME_BEHIND = (
    select(
        ENDPOINTS.c.recipient,
        ENDPOINTS.c.last_alert_id,
        PREFERENCES.c.kinds,
        PREFERENCES.c.bands,
        PREFERENCES.c.delivery,
    )
    .select_from(_WITH_PREFERENCES)
    .where(
        ENDPOINTS.c.enabled,
        _mode_is(DeliveryMode.REALTIME),
        exists().where(
            ALERTS.c.practice_ods == ENDPOINTS.c.recipient,
            ALERTS.c.alert_id > ENDPOINTS.c.last_alert_id,
        ),
    )
    .order_by(ENDPOINTS.c.recipient)
)
_DIGESTS_DUE = (
    select(
        ENDPOINTS.c.recipient,
        ENDPOINTS.c.last_alert_id,
        ENDPOINTS.c.last_digest_at,
        PREFERENCES.c.kinds,
        PREFERENCES.c.bands,
        PREFERENCES.c.delivery,
    )
    .select_from(_WITH_PREFERENCES)
    .where(
        ENDPOINTS.c.enabled,
        _mode_is(DeliveryMode.DIGEST),
        or_(ENDPOINTS.c.last_digest_at.is_(None), ENDPOINTS.c.last_digest_at < bindparam("slot")),
    )
    .order_by(ENDPOINTS.c.recipient)
)
_INSERT_DELIVERY = insert(DELIVERIES)
_ADVANCE = (
    update(ENDPOINTS)
    .where(ENDPOINTS.c.recipient == bindparam("who"))
    .values(last_alert_id=bindparam("cursor"))
)
_ADVANCE_DIGEST = _ADVANCE.values(last_digest_at=bindparam("slot"))
_NEWEST_ALERT = select(func.max(ALERTS.c.alert_id))


@dataclass(frozen=True)
class PlanTarget:
    """An endpoint the planner looks at: its cursor and its recipient's preferences."""

    recipient: str
    cursor: int
    preferences: Preferences
    last_digest_at: datetime | None = None


def _preferences(kinds: str | None, bands: str | None, delivery: str | None) -> Preferences:
    return preferences(
        json.loads(kinds) if kinds is not None else None,
        json.loads(bands) if bands is not None else None,
        delivery or DeliveryMode.REALTIME,
    )


class WebhookRepository:
    """Endpoints, deliveries and preferences, for the webhook use cases."""

    def __init__(self, session: Session) -> None:
        self._session = session

    # --- endpoints and preferences (rare: the ORM) --------------------------------------------

    def endpoint(self, recipient: str) -> WebhookEndpoint | None:
        return self._session.get(WebhookEndpoint, recipient)

    def add_endpoint(self, endpoint: WebhookEndpoint) -> None:
        self._session.add(endpoint)
        self._session.flush()

    def remove_endpoint(self, recipient: str) -> bool:
        """The endpoint and its undelivered deliveries go; history (delivered, dead) stays."""
        endpoint = self.endpoint(recipient)
        if endpoint is None:
            return False
        sql = core_sql(self._session)
        sql.execute(
            delete(DELIVERIES).where(
                DELIVERIES.c.recipient == recipient, DELIVERIES.c.status == PENDING
            )
        )
        self._session.delete(endpoint)
        self._session.flush()
        return True

    def preferences(self, recipient: str) -> Preferences:
        row = self._session.get(RecipientPreference, recipient)
        return Preferences() if row is None else _preferences(row.kinds, row.bands, row.delivery)

    def set_preferences(
        self, recipient: str, wanted: Preferences, user: str, now: datetime
    ) -> None:
        stored = wanted.to_json()
        row = self._session.get(RecipientPreference, recipient) or RecipientPreference(
            recipient=recipient, updated_at=now, updated_by=user
        )
        row.kinds = json.dumps(stored["kinds"]) if wanted.kinds is not None else None
        row.bands = json.dumps(stored["bands"]) if wanted.bands is not None else None
        row.delivery, row.updated_at, row.updated_by = wanted.delivery.value, now, user
        self._session.add(row)
        self._session.flush()

    # --- planning ------------------------------------------------------------------------------

    def lock_planner(self) -> None:
        """One planner at a time (PostgreSQL; SQLite has one writer anyway)."""
        serialize_on(self._session, "hospital_feed.webhook_planner")

    def newest_alert_id(self) -> int:
        return int(core_sql(self._session).execute(_NEWEST_ALERT).scalar() or 0)

    def realtime_behind(self, limit: int) -> list[PlanTarget]:
        rows = core_sql(self._session).execute(REALTIME_BEHIND.limit(limit))
        return [
            PlanTarget(r.recipient, r.last_alert_id, _preferences(r.kinds, r.bands, r.delivery))
            for r in rows
        ]

    def digests_due(self, slot: datetime, limit: int) -> list[PlanTarget]:
        rows = core_sql(self._session).execute(_DIGESTS_DUE.limit(limit), {"slot": slot})
        return [
            PlanTarget(
                r.recipient,
                r.last_alert_id,
                _preferences(r.kinds, r.bands, r.delivery),
                r.last_digest_at,
            )
            for r in rows
        ]

    def alerts_after(
        self, recipient: str, after: int, through: int, limit: int, **view_options: Any
    ) -> tuple[list[dict[str, Any]], int]:
        """The recipient's alerts in (after, through], as its list shows them (at most
        `limit`), and the cursor they take it to: `through` once all of them are read."""
        page = views.practice_alerts(self._session, recipient, after, limit, **view_options)
        kept = [view for view in page if view["alert_id"] <= through]
        complete = len(page) < limit or len(kept) < len(page)
        return kept, through if complete else int(kept[-1]["alert_id"])

    def add_delivery(
        self, recipient: str, kind: str, alert_id: int | None, payload: str, now: datetime
    ) -> None:
        core_sql(self._session).execute(
            _INSERT_DELIVERY,
            {
                "recipient": recipient,
                "type": kind,
                "alert_id": alert_id,
                "payload": payload,
                "webhook_id": new_webhook_id(),
                "status": PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            },
        )

    def advance(self, recipient: str, cursor: int, digest_slot: datetime | None = None) -> None:
        values: dict[str, Any] = {"who": recipient, "cursor": cursor}
        if digest_slot is None:
            core_sql(self._session).execute(_ADVANCE, values)
        else:
            core_sql(self._session).execute(_ADVANCE_DIGEST, values | {"slot": digest_slot})

    # --- attempts and replays ------------------------------------------------------------------

    def delivery(self, delivery_id: int) -> WebhookDelivery | None:
        return self._session.get(WebhookDelivery, delivery_id)

    def save(self, row: WebhookDelivery | WebhookEndpoint) -> None:
        self._session.add(row)
        self._session.flush()

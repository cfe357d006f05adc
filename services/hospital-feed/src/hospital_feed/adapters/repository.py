"""hospital-feed's stored messages and practice alerts: the SQL the handlers rely on.

Receiving a message and projecting its alert run for every ADT, so their statements are
SQLAlchemy Core, built once and compiled once (ADR 7); the rare paths (reprocessing,
retracting) use the ORM.
"""

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple, cast
from uuid import UUID

from sqlalchemy import Table, bindparam, insert, select, update
from sqlmodel import Session, col
from sqlmodel import select as sqlmodel_select

from ensemble_runtime.db import core_sql
from hospital_feed.adapters.orm import AlertStatus, Hl7Message, PracticeAlert

MESSAGES = cast(Table, Hl7Message.__table__)  # type: ignore[attr-defined]
ALERTS = cast(Table, PracticeAlert.__table__)  # type: ignore[attr-defined]

_RESEND_OF = select(
    MESSAGES.c.id, MESSAGES.c.ack_code, MESSAGES.c.error, MESSAGES.c.error_code
).where(
    MESSAGES.c.sender == bindparam("sender"),
    MESSAGES.c.sending_facility == bindparam("facility"),
    MESSAGES.c.control_id == bindparam("control_id"),
    MESSAGES.c.content_sha256 == bindparam("sha"),
)
_KEY_TAKEN = select(MESSAGES.c.id).where(MESSAGES.c.published_key == bindparam("key"))
_REOPEN = (
    update(MESSAGES)
    .where(
        MESSAGES.c.visit_key == bindparam("visit"),
        MESSAGES.c.trigger.in_(bindparam("triggers", expanding=True)),
        MESSAGES.c.published_key.is_not(None),
    )
    .values(published_key=None)
)
_INSERT_MESSAGE = insert(MESSAGES)
_ALERT_EXISTS = select(ALERTS.c.alert_id).where(
    ALERTS.c.practice_ods == bindparam("ods"),
    ALERTS.c.encounter_event_id == bindparam("event_id"),
)
_INSERT_ALERT = insert(ALERTS)


class EarlierAnswer(NamedTuple):
    """What a stored message was answered: a resend of it gets the same."""

    id: int
    ack_code: str
    error: str | None
    error_code: str


class MessageRepository:
    """Every HL7 message received, whatever became of it."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def resend_of(
        self, sender: str, sending_facility: str, control_id: str, content_sha256: str
    ) -> EarlierAnswer | None:
        """The stored message these bytes resend: same sender, MSH-4, MSH-10 and content."""
        found = core_sql(self._session).execute(
            _RESEND_OF,
            {
                "sender": sender,
                "facility": sending_facility,
                "control_id": control_id,
                "sha": content_sha256,
            },
        )
        row = found.first()
        return EarlierAnswer._make(row) if row is not None else None

    def published_key_taken(self, published_key: str) -> bool:
        """Whether a stored message already published the event with this business key."""
        found = core_sql(self._session).execute(_KEY_TAKEN, {"key": published_key})
        return found.first() is not None

    def reopen(self, visit_key: str, triggers: Iterable[str]) -> int:
        """Clear the published business keys of one visit's messages with these triggers
        (what a cancellation cancelled, or the cancellation a re-admission undoes), so the
        same event may be published again. Returns how many were re-opened."""
        self._session.flush()  # an ORM-changed row (reprocessing) must be seen by the UPDATE
        done = core_sql(self._session).execute(
            _REOPEN, {"visit": visit_key, "triggers": list(triggers)}
        )
        return int(done.rowcount)

    def insert(self, values: Mapping[str, Any]) -> int:
        """Store a new message (every column of `Hl7Message` but `id`); returns its id. The
        unique constraints (resend, published key) speak here, inside this transaction."""
        done = core_sql(self._session).execute(_INSERT_MESSAGE, dict(values))
        (message_id,) = done.inserted_primary_key  # type: ignore[misc]
        return int(message_id)

    def get(self, message_id: int) -> Hl7Message | None:
        return self._session.get(Hl7Message, message_id)

    def add(self, message: Hl7Message) -> None:
        """Stage a changed message; flushed now, so the unique constraints speak here."""
        self._session.add(message)
        self._session.flush()


class AlertRepository:
    """What each practice sees about its registered patients."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def exists_for(self, practice_ods: str, encounter_event_id: UUID) -> bool:
        """Whether this practice already has the alert of this encounter event."""
        found = core_sql(self._session).execute(
            _ALERT_EXISTS, {"ods": practice_ods, "event_id": encounter_event_id}
        )
        return found.first() is not None

    def active_to_retract(
        self, practice_ods: str, nhs_number: str, visit_number: str, kinds: Iterable[str]
    ) -> list[PracticeAlert]:
        """The practice's active alerts of these kinds for one patient's visit."""
        return list(
            self._session.exec(
                sqlmodel_select(PracticeAlert).where(
                    PracticeAlert.practice_ods == practice_ods,
                    PracticeAlert.nhs_number == nhs_number,
                    PracticeAlert.visit_number == visit_number,
                    col(PracticeAlert.kind).in_(list(kinds)),
                    PracticeAlert.status == AlertStatus.ACTIVE,
                )
            )
        )

    def insert(self, values: Mapping[str, Any]) -> None:
        """Store a new alert (every column of `PracticeAlert` but `alert_id`)."""
        core_sql(self._session).execute(_INSERT_ALERT, dict(values))

    def add(self, alert: PracticeAlert) -> None:
        """Stage a changed alert (written at the next flush or commit)."""
        self._session.add(alert)

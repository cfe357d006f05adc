"""hospital-feed's stored messages and practice alerts: the SQL the handlers rely on.

Receiving a message and projecting its alert run for every ADT, so their statements are
SQLAlchemy Core, built once and compiled once (ADR 7); receiving's are prepared statements
run on the driver's cursor (ensemble_runtime.prepared); the rare paths (reprocessing,
retracting) use the ORM.
"""

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, NamedTuple, cast
from uuid import UUID

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import Insert as PostgresInsert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlmodel import Session, col
from sqlmodel import select as sqlmodel_select

from ensemble_runtime.db import core_sql, serialize_on
from ensemble_runtime.prepared import Prepared
from hospital_feed.adapters.orm import (
    AlertStatus,
    Hl7Message,
    PatientCaseload,
    PatientRisk,
    PracticeAlert,
)

MESSAGES = cast(Table, Hl7Message.__table__)  # type: ignore[attr-defined]
ALERTS = cast(Table, PracticeAlert.__table__)  # type: ignore[attr-defined]
RISKS = cast(Table, PatientRisk.__table__)  # type: ignore[attr-defined]
CASELOADS = cast(Table, PatientCaseload.__table__)  # type: ignore[attr-defined]

_RESEND_OF = Prepared(
    select(
        MESSAGES.c.id,
        MESSAGES.c.ack_code,
        MESSAGES.c.error,
        MESSAGES.c.error_code,
        MESSAGES.c.status,
    ).where(
        MESSAGES.c.sender == bindparam("sender"),
        MESSAGES.c.sending_facility == bindparam("facility"),
        MESSAGES.c.control_id == bindparam("control_id"),
        MESSAGES.c.content_sha256 == bindparam("sha"),
    )
)
_KEY_TAKEN = Prepared(select(MESSAGES.c.id).where(MESSAGES.c.published_key == bindparam("key")))
_REOPEN = Prepared(
    update(MESSAGES)
    .where(
        MESSAGES.c.visit_key == bindparam("visit"),
        MESSAGES.c.trigger.in_(bindparam("triggers", expanding=True)),
        MESSAGES.c.published_key.is_not(None),
    )
    .values(published_key=None)
)
_INSERT_MESSAGE = Prepared(insert(MESSAGES), returns_id=MESSAGES.c.id)
# Every encounter the alerts consumer projects runs these: prepared (ADR 7).
_ALERT_EXISTS = Prepared(
    select(ALERTS.c.alert_id).where(
        ALERTS.c.practice_ods == bindparam("ods"),
        ALERTS.c.encounter_event_id == bindparam("event_id"),
    )
)
_INSERT_ALERT = Prepared(insert(ALERTS))
_OF_PRACTICE = (ALERTS.c.alert_id == bindparam("id"), ALERTS.c.practice_ods == bindparam("ods"))
# Each step is written once, by whoever is first: a conditional UPDATE, so two people
# acknowledging at the same moment cannot overwrite each other's who and when.
_MARK_SEEN = (
    update(ALERTS)
    .where(*_OF_PRACTICE, ALERTS.c.seen_at.is_(None))
    .values(seen_at=bindparam("now"), seen_by=bindparam("user"))
)
_MARK_ACTIONED = (
    update(ALERTS)
    .where(*_OF_PRACTICE, ALERTS.c.actioned_at.is_(None))
    .values(
        actioned_at=bindparam("now"), actioned_by=bindparam("user"), outcome=bindparam("outcome")
    )
)
_ALERT_OF_PRACTICE = select(ALERTS.c.alert_id).where(*_OF_PRACTICE)
_RETRACT_KIND = (  # every recipient's alert of the patient (ix_practice_alerts_patient)
    update(ALERTS)
    .where(
        ALERTS.c.nhs_number == bindparam("patient"),
        ALERTS.c.kind == bindparam("alert_kind"),
        ALERTS.c.status == AlertStatus.ACTIVE.value,
    )
    .values(status=AlertStatus.RETRACTED.value, retracted_by_event_id=bindparam("by"))
)


def _newest_wins(
    statement: SqliteInsert | PostgresInsert, key: list[str], moment: str, columns: list[str]
) -> Any:
    """Insert the row, or take it over the one held unless that one is newer by `moment`
    (a tie: the last one seen wins). One conditional upsert, so two consumers racing on one
    patient cannot put an older fact over a newer one: PostgreSQL locks the row and checks
    the condition against what the other committed, and SQLite lets one writer in at a time."""
    new, held = statement.excluded, statement.table.c
    return statement.on_conflict_do_update(
        index_elements=key,
        set_={name: new[name] for name in columns},
        where=held[moment] <= new[moment],
    )


_RISK_COLUMNS = ["band", "score", "model_version", "reasons", "scored_at", "event_id"]
_CASELOAD_COLUMNS = ["referral_id", "status", "practice_ods", "updated_at", "event_id"]
_RISK_KEY = ["nhs_number"]
_CASELOAD_KEY = ["nhs_number", "service"]
_UPSERT_RISK = {
    "sqlite": _newest_wins(sqlite.insert(RISKS), _RISK_KEY, "scored_at", _RISK_COLUMNS),
    "postgresql": _newest_wins(postgresql.insert(RISKS), _RISK_KEY, "scored_at", _RISK_COLUMNS),
}
_UPSERT_CASELOAD = {
    "sqlite": _newest_wins(
        sqlite.insert(CASELOADS), _CASELOAD_KEY, "updated_at", _CASELOAD_COLUMNS
    ),
    "postgresql": _newest_wins(
        postgresql.insert(CASELOADS), _CASELOAD_KEY, "updated_at", _CASELOAD_COLUMNS
    ),
}


class EarlierAnswer(NamedTuple):
    """What a stored message was answered: a resend of it gets the same."""

    id: int
    ack_code: str
    error: str | None
    error_code: str
    status: str  # what FHIR intake answers a resend with (held and accepted are both AA)


class MessageRepository:
    """Every HL7 message received, whatever became of it."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def resend_of(
        self, sender: str, sending_facility: str, control_id: str, content_sha256: str
    ) -> EarlierAnswer | None:
        """The stored message these bytes resend: same sender, MSH-4, MSH-10 and content."""
        found = _RESEND_OF.execute(
            self._session,
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
        found = _KEY_TAKEN.execute(self._session, {"key": published_key})
        return found.first() is not None

    def reopen(self, visit_key: str, triggers: Iterable[str]) -> int:
        """Clear the published business keys of one visit's messages with these triggers
        (what a cancellation cancelled, or the cancellation a re-admission undoes), so the
        same event may be published again. Returns how many were re-opened."""
        self._session.flush()  # an ORM-changed row (reprocessing) must be seen by the UPDATE
        done = _REOPEN.execute(self._session, {"visit": visit_key, "triggers": list(triggers)})
        return done.rowcount

    def insert(self, values: Mapping[str, Any]) -> int:
        """Store a new message (every column of `Hl7Message` but `id`); returns its id. The
        unique constraints (resend, published key) speak here, inside this transaction."""
        return int(_INSERT_MESSAGE.execute(self._session, values).inserted_id)

    def get(self, message_id: int) -> Hl7Message | None:
        return self._session.get(Hl7Message, message_id)

    def add(self, message: Hl7Message) -> None:
        """Stage a changed message; flushed now, so the unique constraints speak here."""
        self._session.add(message)
        self._session.flush()


class AlertRepository:
    """What each recipient (practice or care team) sees about its patients."""

    def __init__(self, session: Session, on_insert: Callable[[], None] = lambda: None) -> None:
        self._session = session
        self._on_insert = on_insert  # told of each insert (the unit of work rings a bell)

    def exists_for(self, practice_ods: str, encounter_event_id: UUID) -> bool:
        """Whether this practice already has the alert of this encounter event."""
        found = _ALERT_EXISTS.execute(
            self._session, {"ods": practice_ods, "event_id": encounter_event_id}
        )
        return found.first() is not None

    def active_to_retract(
        self, nhs_number: str, visit_number: str, kinds: Iterable[str]
    ) -> list[PracticeAlert]:
        """Every recipient's active alerts of these kinds for one patient's visit, in id
        order (ix_practice_alerts_patient)."""
        return list(
            self._session.exec(
                sqlmodel_select(PracticeAlert)
                .where(
                    PracticeAlert.nhs_number == nhs_number,
                    PracticeAlert.visit_number == visit_number,
                    col(PracticeAlert.kind).in_(list(kinds)),
                    PracticeAlert.status == AlertStatus.ACTIVE,
                )
                .order_by(col(PracticeAlert.alert_id))
            )
        )

    def insert(self, values: Mapping[str, Any]) -> None:
        """Store a new alert (every column of `PracticeAlert` but `alert_id`).

        Alerts are written by several consumers (encounters, hot onboarding). On PostgreSQL
        one alert-writing transaction at a time, so alert ids commit in id order and a reader
        paging with `after=<last alert_id>` cannot pass an id that commits later."""
        serialize_on(self._session, "hospital_feed.practice_alerts")
        _INSERT_ALERT.execute(self._session, values)
        self._on_insert()

    def add(self, alert: PracticeAlert) -> None:
        """Stage a changed alert (written at the next flush or commit)."""
        self._session.add(alert)

    def acknowledge(
        self,
        practice_ods: str,
        alert_id: int,
        user: str,
        now: datetime,
        outcome: str | None = None,
    ) -> bool:
        """Mark the practice's alert seen, and actioned with `outcome` when one is given
        (actioned implies seen). Steps already taken keep their first who and when. False when
        the practice has no such alert."""
        sql = core_sql(self._session)
        found = sql.execute(_ALERT_OF_PRACTICE, {"id": alert_id, "ods": practice_ods}).first()
        if found is None:
            return False
        values = {"id": alert_id, "ods": practice_ods, "user": user, "now": now}
        sql.execute(_MARK_SEEN, values)
        if outcome is not None:
            sql.execute(_MARK_ACTIONED, values | {"outcome": outcome})
        return True

    def retract_kind(self, nhs_number: str, kind: str, retracted_by: UUID) -> int:
        """Retract every recipient's active alerts of one kind for one patient (e.g. a
        withdrawn hot onboarding); returns how many."""
        self._session.flush()  # an ORM-staged alert must be seen by the UPDATE
        done = core_sql(self._session).execute(
            _RETRACT_KIND, {"patient": nhs_number, "alert_kind": kind, "by": retracted_by}
        )
        return int(done.rowcount)


class RiskRepository:
    """Each patient's newest risk score, as scoring published it."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._upsert = _UPSERT_RISK[session.get_bind().dialect.name]

    def record(self, values: Mapping[str, Any]) -> None:
        """Keep this score (every column of `PatientRisk`) unless a newer one is held."""
        core_sql(self._session).execute(self._upsert, dict(values))


class CaseloadRepository:
    """Each patient's newest referral status per service (health coaching, complex care)."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._upsert = _UPSERT_CASELOAD[session.get_bind().dialect.name]

    def record(self, values: Mapping[str, Any]) -> None:
        """Keep this status (every column of `PatientCaseload`) unless a newer one is held."""
        core_sql(self._session).execute(self._upsert, dict(values))

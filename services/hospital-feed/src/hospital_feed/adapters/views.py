"""Read models for HTTP: JSON-ready listings of alerts and stored messages."""

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, TypeVar
from uuid import UUID

from sqlalchemy import ColumnElement, bindparam, func
from sqlalchemy import select as core_select
from sqlmodel import Session, and_, col, select
from sqlmodel.sql.expression import SelectOfScalar

from ensemble_runtime.prepared import Prepared
from hospital_feed.adapters.orm import (
    AlertStatus,
    Hl7Message,
    MessageStatus,
    PatientCaseload,
    PatientRisk,
    PracticeAlert,
)
from hospital_feed.adapters.repository import ALERTS, CASELOADS, RISKS
from hospital_feed.domain.acknowledgement import AlertState, is_overdue, state_of
from hospital_feed.domain.encounters import alert_title

Row = TypeVar("Row", PracticeAlert, Hl7Message)
# The setting's default (`alert_overdue_minutes`); the HTTP route passes the setting.
OVERDUE_AFTER = timedelta(minutes=240)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _reasons(stored: str) -> list[dict[str, Any]]:
    """The score's reasons, as stored (JSON); a row that is not such a list shows none."""
    try:
        reasons = json.loads(stored)
    except ValueError:
        return []
    if not isinstance(reasons, list):
        return []
    return [
        {"factor": r.get("factor"), "points": r.get("points"), "detail": r.get("detail")}
        for r in reasons
        if isinstance(r, dict)
    ]


class AlertRow(NamedTuple):
    """What the view shows of an alert, as the prepared poll reads it (the ORM's PracticeAlert
    has the same attributes)."""

    alert_id: int
    kind: str
    nhs_number: str
    encounter_event_id: UUID
    sending_facility: str
    visit_number: str | None
    location: str | None
    event_at: datetime | None
    created_at: datetime
    status: str
    retracted_by_event_id: UUID | None
    emergency: bool
    disposition: str | None
    recipient_reason: str
    seen_at: datetime | None
    seen_by: str | None
    actioned_at: datetime | None
    actioned_by: str | None
    outcome: str | None


class RiskRow(NamedTuple):
    band: str  # NOT NULL in the table: NULL in the poll's row means the patient has no risk
    score: int
    reasons: str
    model_version: str


class CaseloadRow(NamedTuple):
    nhs_number: str
    service: str
    status: str


def alert_view(
    alert: PracticeAlert | AlertRow,
    *,
    now: datetime | None = None,
    overdue_after: timedelta = OVERDUE_AFTER,
    risk: PatientRisk | RiskRow | None = None,
    caseload: Sequence[PatientCaseload | CaseloadRow] = (),
) -> dict[str, Any]:
    """One alert as a practice reads it: what happened, the patient's current risk and
    caseloads, and the team's acknowledgement. `overdue`: an active, unactioned alert about
    a high-risk patient older than `overdue_after` at `now` (a retracted one never is)."""
    state = state_of(alert.seen_at, alert.actioned_at)
    band = risk.band if risk is not None else None
    overdue = alert.status == AlertStatus.ACTIVE and is_overdue(
        state, band, alert.created_at, now or datetime.now(UTC), overdue_after
    )
    return {
        "alert_id": alert.alert_id,
        "kind": alert.kind,
        "title": alert_title(alert.kind, alert.emergency),
        "nhs_number": alert.nhs_number,
        "encounter_event_id": str(alert.encounter_event_id),
        "sending_facility": alert.sending_facility,
        "visit_number": alert.visit_number,
        "location": alert.location,
        "event_at": _iso(alert.event_at),
        "created_at": _iso(alert.created_at),
        "status": alert.status,
        "retracted_by_event_id": (
            str(alert.retracted_by_event_id) if alert.retracted_by_event_id else None
        ),
        "emergency": alert.emergency,
        "disposition": alert.disposition,
        "recipient_reason": alert.recipient_reason,
        "risk_band": band,
        "risk_score": risk.score if risk is not None else None,
        "risk_reasons": _reasons(risk.reasons) if risk is not None else [],
        "risk_model_version": risk.model_version if risk is not None else None,
        "caseload": [{"service": c.service, "status": c.status} for c in caseload],
        "state": state.value,
        "seen_by": alert.seen_by,
        "seen_at": _iso(alert.seen_at),
        "actioned_by": alert.actioned_by,
        "actioned_at": _iso(alert.actioned_at),
        "outcome": alert.outcome,
        "overdue": overdue,
    }


def message_view(message: Hl7Message) -> dict[str, Any]:
    """Metadata only: the raw message is clinical content and stays in the store."""
    return {
        "id": message.id,
        "sender": message.sender,
        "sending_facility": message.sending_facility,
        "control_id": message.control_id,
        "trigger": message.trigger,
        "status": message.status,
        "ack_code": message.ack_code,
        "error_code": message.error_code,
        "error": message.error,
        "received_at": _iso(message.received_at),
        "reprocessed_at": _iso(message.reprocessed_at),
        "event_id": str(message.event_id) if message.event_id else None,
    }


def _page(
    session: Session, query: SelectOfScalar[Row], key: int | None, after: int, limit: int
) -> Sequence[Row]:
    """At most `limit` rows of `query` with `key` above `after`, in `key` order (oldest first)."""
    return session.exec(query.where(col(key) > after).order_by(col(key)).limit(limit)).all()


def _state_is(state: str) -> ColumnElement[bool]:
    seen, actioned = col(PracticeAlert.seen_at), col(PracticeAlert.actioned_at)
    if state == AlertState.ACTIONED:
        return actioned.is_not(None)
    if state == AlertState.SEEN:
        return and_(seen.is_not(None), actioned.is_(None))
    return and_(seen.is_(None), actioned.is_(None))


def _caseloads(session: Session, nhs_numbers: set[str]) -> dict[str, list[PatientCaseload]]:
    """The caseload rows of these patients (one query), by patient, in service order."""
    if not nhs_numbers:
        return {}
    rows = session.exec(
        select(PatientCaseload)
        .where(col(PatientCaseload.nhs_number).in_(sorted(nhs_numbers)))
        .order_by(col(PatientCaseload.nhs_number), col(PatientCaseload.service))
    ).all()
    found: dict[str, list[PatientCaseload]] = {}
    for row in rows:
        found.setdefault(row.nhs_number, []).append(row)
    return found


# Practices poll their alerts over and over (`after` their last alert_id; most polls find
# nothing new), and the alert stream and webhooks read the same list: unfiltered, it is these
# prepared statements (ADR 7), the alerts with their patients' risk, then (only if any came
# back) those patients' caseloads.
_POLL = Prepared(
    core_select(
        *(ALERTS.c[name] for name in AlertRow._fields),
        *(RISKS.c[name] for name in RiskRow._fields),
    )
    .select_from(ALERTS.outerjoin(RISKS, RISKS.c.nhs_number == ALERTS.c.nhs_number))
    .where(ALERTS.c.practice_ods == bindparam("ods"), ALERTS.c.alert_id > bindparam("after"))
    .order_by(ALERTS.c.alert_id)
    .limit(bindparam("limit"))
)
_RISK_AT = len(AlertRow._fields)  # where the risk's columns begin in a row of _POLL
_CASELOADS = Prepared(
    core_select(*(CASELOADS.c[name] for name in CaseloadRow._fields))
    .where(CASELOADS.c.nhs_number.in_(bindparam("patients", expanding=True)))
    .order_by(CASELOADS.c.nhs_number, CASELOADS.c.service)
)


def _padded(values: set[str]) -> list[str]:
    """The values, repeated up to a power of two: a prepared IN list is compiled per length,
    so this keeps the lengths few (a repeat changes nothing an IN finds)."""
    listed = sorted(values)
    size = 1 << (len(listed) - 1).bit_length()
    return listed + [listed[-1]] * (size - len(listed))


def _polled(
    session: Session, practice_ods: str, after: int, limit: int, **options: Any
) -> list[dict[str, Any]]:
    """`practice_alerts` without filters: the prepared statements, and the same views."""
    rows = _POLL.execute(session, {"ods": practice_ods, "after": after, "limit": limit}).rows
    if not rows:
        return []
    read = [(AlertRow._make(row[:_RISK_AT]), row[_RISK_AT:]) for row in rows]
    patients = _padded({alert.nhs_number for alert, _ in read})
    caseloads: dict[str, list[CaseloadRow]] = {}
    for found in _CASELOADS.execute(session, {"patients": patients}).rows:
        caseloads.setdefault(found[0], []).append(CaseloadRow._make(found))
    return [
        alert_view(
            alert,
            risk=RiskRow._make(risk) if risk[0] is not None else None,
            caseload=caseloads.get(alert.nhs_number, ()),
            **options,
        )
        for alert, risk in read
    ]


def practice_alerts(
    session: Session,
    practice_ods: str,
    after: int,
    limit: int,
    *,
    kind: str | None = None,
    band: str | None = None,
    since: datetime | None = None,
    status: str | None = None,
    state: str | None = None,
    now: datetime | None = None,
    overdue_after: timedelta = OVERDUE_AFTER,
) -> list[dict[str, Any]]:
    """A practice's alerts with ids above `after`, oldest first, at most `limit`.

    Filters: `kind`; `band`, the patient's current risk band; `since`, alerts received
    (`created_at`) at or after that moment; `status` (active, retracted); `state` (new, seen,
    actioned). Each page costs two queries, whatever its size: the alerts with their
    patients' risk, and the patients' caseloads (none for an empty page without filters).
    """
    moment = now or datetime.now(UTC)
    if kind is None and band is None and since is None and status is None and state is None:
        return _polled(session, practice_ods, after, limit, now=moment, overdue_after=overdue_after)
    # Filtered (someone's search): the ORM's query, built for the filters given.
    query = (
        select(PracticeAlert, PatientRisk)
        .outerjoin(PatientRisk, col(PatientRisk.nhs_number) == col(PracticeAlert.nhs_number))
        .where(PracticeAlert.practice_ods == practice_ods, col(PracticeAlert.alert_id) > after)
    )
    if kind is not None:
        query = query.where(PracticeAlert.kind == kind)
    if band is not None:
        query = query.where(PatientRisk.band == band)
    if since is not None:
        query = query.where(col(PracticeAlert.created_at) >= since)
    if status is not None:
        query = query.where(PracticeAlert.status == status)
    if state is not None:
        query = query.where(_state_is(state))
    rows = session.exec(query.order_by(col(PracticeAlert.alert_id)).limit(limit)).all()
    caseloads = _caseloads(session, {alert.nhs_number for alert, _ in rows})
    return [
        alert_view(
            alert,
            now=moment,
            overdue_after=overdue_after,
            risk=risk,
            caseload=caseloads.get(alert.nhs_number, ()),
        )
        for alert, risk in rows
    ]


def practice_alert(
    session: Session, practice_ods: str, alert_id: int, **options: Any
) -> dict[str, Any] | None:
    """One of the practice's alerts, as `practice_alerts` shows it (`options`: its `now` and
    `overdue_after`); None when the practice has no such alert (another practice's included)."""
    found = practice_alerts(session, practice_ods, alert_id - 1, 1, **options)
    return found[0] if found and found[0]["alert_id"] == alert_id else None


def practice_inbox(
    session: Session, practice_ods: str, limit: int, **options: Any
) -> list[dict[str, Any]]:
    """The practice's newest `limit` alerts, newest first, as `practice_alerts` shows them."""
    newest = session.exec(
        select(PracticeAlert.alert_id)
        .where(PracticeAlert.practice_ods == practice_ods)
        .order_by(col(PracticeAlert.alert_id).desc())
        .limit(limit)
    ).all()
    ids = [alert_id for alert_id in newest if alert_id is not None]
    if not ids:
        return []
    return list(reversed(practice_alerts(session, practice_ods, min(ids) - 1, limit, **options)))


def messages(
    session: Session, status: MessageStatus, after: int, limit: int
) -> list[dict[str, Any]]:
    """Stored messages with one status and ids above `after`, oldest first (never the raw)."""
    query = select(Hl7Message).where(Hl7Message.status == status)
    rows = _page(session, query, Hl7Message.id, after, limit)
    return [message_view(message) for message in rows]


# The alert stream's reads (entrypoints/alert_stream.py): one poll of every practice's new
# alerts, then the list's view of just those.
STREAM_CATCH_UP_PAGE = 500  # alerts per store read while a stream catches up


def newest_alert_id(session: Session) -> int:
    return session.exec(select(func.max(col(PracticeAlert.alert_id)))).one() or 0


# The stream's tick, every `alert_stream_poll_ms`: prepared (ADR 7).
_ALERTS_AFTER = Prepared(
    core_select(ALERTS.c.alert_id, ALERTS.c.practice_ods)
    .where(ALERTS.c.alert_id > bindparam("after"))
    .order_by(ALERTS.c.alert_id)
    .limit(bindparam("limit"))
)


def alerts_after(session: Session, after: int, limit: int) -> list[tuple[int, str]]:
    """(alert_id, practice) of every practice's alerts above `after`, oldest first."""
    rows = _ALERTS_AFTER.execute(session, {"after": after, "limit": limit}).rows
    return [(int(alert_id), practice) for alert_id, practice in rows]


def views_of(
    session: Session, wanted: dict[str, set[int]], after: int, **options: Any
) -> dict[str, list[dict[str, Any]]]:
    """The list's view (`practice_alerts`, with its `options`) of exactly these alerts, per
    practice."""
    found: dict[str, list[dict[str, Any]]] = {}
    for practice, ids in wanted.items():
        # `ids` are the practice's lowest ids above `after`, bar ones committed since.
        page = practice_alerts(session, practice, after, len(ids) + STREAM_CATCH_UP_PAGE, **options)
        found[practice] = [view for view in page if view["alert_id"] in ids]
    return found

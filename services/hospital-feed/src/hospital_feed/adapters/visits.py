"""Visit state, patient registrations and merges (issue 10): the tables and their SQL.

The rows mirror domain/visits.py's `Visit` and `Registration`; the service layer holds a
lock per visit and per patient (`serialize_on`) while it reads, decides and writes, so two
messages for one visit (HTTP and MLLP at once) are applied one after the other.

Every ADT reads and writes its visit and registration, so those statements are prepared
(ensemble_runtime.prepared, ADR 7): through the ORM they were most of intake's time. The
lock makes read-then-UPDATE-else-INSERT safe. Merges are rare and keep the ORM.
"""

import hashlib
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Index, Table, bindparam, insert, update
from sqlalchemy import select as core_select
from sqlmodel import Field, Session, SQLModel, col, select

from ensemble_contracts import limits
from ensemble_runtime.db import UtcDateTime, serialize_on
from ensemble_runtime.prepared import Prepared
from hospital_feed.domain.visits import Registration, Visit, VisitStatus


class VisitRow(SQLModel, table=True):
    """One hospital visit (PV1-19) at one sending facility (MSH-4), as last reconciled."""

    __tablename__ = "visits"
    __table_args__ = (Index("ix_visits_nhs_number", "nhs_number"),)

    sending_facility: str = Field(primary_key=True, max_length=50)
    visit_number: str = Field(primary_key=True, max_length=limits.VISIT_NUMBER)
    nhs_number: str = Field(max_length=10)
    status: str = Field(max_length=20)
    patient_class: str | None = Field(default=None, max_length=limits.CODE)
    location: str | None = Field(default=None, max_length=limits.LOCATION)
    practice_ods: str | None = Field(default=None, max_length=limits.ODS_CODE)
    # The newest event time applied (EVN-6, else PV1-44/45, else EVN-2): older facts lose.
    last_event_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    status_before: str | None = Field(default=None, max_length=20)  # what A13/A22 restore
    previous_location: str | None = Field(default=None, max_length=limits.LOCATION)  # A12
    last_trigger: str = Field(default="", max_length=10)
    updated_at: datetime = Field(sa_type=UtcDateTime)  # the unit of work's clock


class RegisteredPractice(SQLModel, table=True):
    """The patient's registered practice (PD1-3) as of the newest message naming it; routing
    sends alerts of events not newer than `as_of` to this practice."""

    __tablename__ = "registered_practices"

    nhs_number: str = Field(primary_key=True, max_length=10)
    practice_ods: str = Field(max_length=limits.ODS_CODE)
    as_of: datetime | None = Field(default=None, sa_type=UtcDateTime)
    updated_at: datetime = Field(sa_type=UtcDateTime)


class PatientMerge(SQLModel, table=True):
    """A40: the retired NHS number now is the surviving one (later messages follow it)."""

    __tablename__ = "patient_merges"
    __table_args__ = (Index("ix_patient_merges_surviving", "surviving_nhs_number"),)

    retired_nhs_number: str = Field(primary_key=True, max_length=10)
    surviving_nhs_number: str = Field(max_length=10)
    merged_at: datetime | None = Field(default=None, sa_type=UtcDateTime)  # the A40's time
    recorded_at: datetime = Field(sa_type=UtcDateTime)


VISITS = cast(Table, VisitRow.__table__)  # type: ignore[attr-defined]
REGISTRATIONS = cast(Table, RegisteredPractice.__table__)  # type: ignore[attr-defined]
MERGES = cast(Table, PatientMerge.__table__)  # type: ignore[attr-defined]

# The visit's state columns, in `Visit`'s field order (the key columns come first).
_VISIT_STATE = (
    "nhs_number",
    "status",
    "patient_class",
    "location",
    "practice_ods",
    "last_event_at",
    "started_at",
    "ended_at",
    "status_before",
    "previous_location",
    "last_trigger",
)
_VISIT_KEY = (
    VISITS.c.sending_facility == bindparam("key_facility"),
    VISITS.c.visit_number == bindparam("key_visit"),
)
_GET_VISIT = Prepared(core_select(*(VISITS.c[name] for name in _VISIT_STATE)).where(*_VISIT_KEY))
# Bind names differ from the columns': SQLAlchemy keeps a column's own name for itself.
_UPDATE_VISIT = Prepared(
    update(VISITS)
    .where(*_VISIT_KEY)
    .values({name: bindparam(f"new_{name}") for name in (*_VISIT_STATE, "updated_at")})
)
_INSERT_VISIT = Prepared(insert(VISITS))
_GET_REGISTRATION = Prepared(
    core_select(REGISTRATIONS.c.practice_ods, REGISTRATIONS.c.as_of).where(
        REGISTRATIONS.c.nhs_number == bindparam("key_nhs")
    )
)
_UPDATE_REGISTRATION = Prepared(
    update(REGISTRATIONS)
    .where(REGISTRATIONS.c.nhs_number == bindparam("key_nhs"))
    .values(
        practice_ods=bindparam("new_practice_ods"),
        as_of=bindparam("new_as_of"),
        updated_at=bindparam("new_updated_at"),
    )
)
_INSERT_REGISTRATION = Prepared(insert(REGISTRATIONS))
_SURVIVOR = Prepared(
    core_select(MERGES.c.surviving_nhs_number).where(
        MERGES.c.retired_nhs_number == bindparam("key_nhs")
    )
)


def _visit(sending_facility: str, visit_number: str, state: dict[str, Any]) -> Visit:
    """A visit from its key and its state columns (`_VISIT_STATE`)."""
    return Visit(
        sending_facility=sending_facility,
        visit_number=visit_number,
        nhs_number=state["nhs_number"],
        status=VisitStatus(state["status"]),
        patient_class=state["patient_class"],
        location=state["location"],
        practice_ods=state["practice_ods"],
        last_event_at=state["last_event_at"],
        started_at=state["started_at"],
        ended_at=state["ended_at"],
        status_before=VisitStatus(state["status_before"]) if state["status_before"] else None,
        previous_location=state["previous_location"],
        last_trigger=state["last_trigger"],
    )


def _visit_columns(visit: Visit) -> dict[str, Any]:
    """The visit's state as column values."""
    return {
        "nhs_number": visit.nhs_number,
        "status": visit.status.value,
        "patient_class": visit.patient_class,
        "location": visit.location,
        "practice_ods": visit.practice_ods,
        "last_event_at": visit.last_event_at,
        "started_at": visit.started_at,
        "ended_at": visit.ended_at,
        "status_before": visit.status_before.value if visit.status_before else None,
        "previous_location": visit.previous_location,
        "last_trigger": visit.last_trigger,
    }


class VisitRepository:
    """Visits by (facility, visit number), and by patient."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def lock(self, sending_facility: str, visit_number: str) -> None:
        """Until the transaction ends, this visit is this unit of work's alone."""
        serialize_on(self._session, f"hospital_feed.visit|{sending_facility}|{visit_number}")

    def get(self, sending_facility: str, visit_number: str) -> Visit | None:
        row = _GET_VISIT.execute(
            self._session, {"key_facility": sending_facility, "key_visit": visit_number}
        ).first()
        if row is None:
            return None
        return _visit(sending_facility, visit_number, dict(zip(_VISIT_STATE, row, strict=True)))

    def save(self, visit: Visit, now: datetime) -> None:
        columns = _visit_columns(visit) | {"updated_at": now}
        key = {"key_facility": visit.sending_facility, "key_visit": visit.visit_number}
        updated = _UPDATE_VISIT.execute(
            self._session, key | {f"new_{name}": value for name, value in columns.items()}
        )
        if updated.rowcount == 0:
            _INSERT_VISIT.execute(
                self._session,
                columns
                | {"sending_facility": visit.sending_facility, "visit_number": visit.visit_number},
            )

    def of_patient(self, nhs_number: str) -> list[Visit]:
        rows = self._session.exec(
            select(VisitRow)
            .where(col(VisitRow.nhs_number) == nhs_number)
            .order_by(col(VisitRow.sending_facility), col(VisitRow.visit_number))
        )
        return [
            _visit(
                row.sending_facility, row.visit_number, {n: getattr(row, n) for n in _VISIT_STATE}
            )
            for row in rows
        ]

    def move_patient(self, retired: str, surviving: str, now: datetime) -> int:
        """Every visit of the retired NHS number is the surviving one's; how many moved."""
        self._session.flush()
        done = self._session.execute(
            update(VisitRow)
            .where(col(VisitRow.nhs_number) == retired)
            .values(nhs_number=surviving, updated_at=now)
            .execution_options(synchronize_session="fetch")
        )
        return int(getattr(done, "rowcount", 0) or 0)


class RegistrationRepository:
    """Each patient's registered practice, and the merges that retired NHS numbers."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def lock(self, nhs_number: str) -> None:
        # By a digest: the key is a statement parameter, and a server may log statements.
        patient = hashlib.sha256(nhs_number.encode()).hexdigest()[:32]
        serialize_on(self._session, f"hospital_feed.patient|{patient}")

    def get(self, nhs_number: str) -> Registration | None:
        row = _GET_REGISTRATION.execute(self._session, {"key_nhs": nhs_number}).first()
        return Registration(nhs_number, row[0], row[1]) if row is not None else None

    def save(self, registration: Registration, now: datetime) -> None:
        updated = _UPDATE_REGISTRATION.execute(
            self._session,
            {
                "key_nhs": registration.nhs_number,
                "new_practice_ods": registration.practice_ods,
                "new_as_of": registration.as_of,
                "new_updated_at": now,
            },
        )
        if updated.rowcount == 0:
            _INSERT_REGISTRATION.execute(
                self._session,
                {
                    "nhs_number": registration.nhs_number,
                    "practice_ods": registration.practice_ods,
                    "as_of": registration.as_of,
                    "updated_at": now,
                },
            )

    def delete(self, nhs_number: str) -> None:
        row = self._session.get(RegisteredPractice, nhs_number)
        if row is not None:
            self._session.delete(row)
            self._session.flush()

    def survivor_of(self, nhs_number: str) -> str | None:
        """The NHS number a merge replaced this one with (followed to the end), if any."""
        seen = {nhs_number}
        current = nhs_number
        while surviving := _SURVIVOR.execute(self._session, {"key_nhs": current}).scalar():
            current = surviving
            if current in seen:  # a merge loop (A40 back and forth): stop at the last
                break
            seen.add(current)
        return current if current != nhs_number else None

    def record_merge(
        self, retired: str, surviving: str, merged_at: datetime | None, now: datetime
    ) -> bool:
        """Remember the merge; False when this very merge was recorded before (a repeat)."""
        row = self._session.get(PatientMerge, retired)
        if row is not None and row.surviving_nhs_number == surviving:
            return False
        if row is None:
            row = PatientMerge(
                retired_nhs_number=retired,
                surviving_nhs_number=surviving,
                merged_at=merged_at,
                recorded_at=now,
            )
        row.surviving_nhs_number = surviving
        row.merged_at = merged_at
        row.recorded_at = now
        # The surviving number is no longer retired: an A40 the other way round undoes it.
        undone = self._session.get(PatientMerge, surviving)
        if undone is not None:
            self._session.delete(undone)
        self._session.add(row)
        self._session.flush()
        return True

"""Visit state, patient registrations and merges (issue 10): the tables and their SQL.

The rows mirror domain/visits.py's `Visit` and `Registration`; the service layer holds a
lock per visit and per patient (`serialize_on`) while it reads, decides and writes, so two
messages for one visit (HTTP and MLLP at once) are applied one after the other.
"""

import hashlib
from datetime import datetime

from sqlalchemy import Index, update
from sqlmodel import Field, Session, SQLModel, col, select

from ensemble_contracts import limits
from ensemble_runtime.db import UtcDateTime, serialize_on
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


def _visit(row: VisitRow) -> Visit:
    return Visit(
        sending_facility=row.sending_facility,
        visit_number=row.visit_number,
        nhs_number=row.nhs_number,
        status=VisitStatus(row.status),
        patient_class=row.patient_class,
        location=row.location,
        practice_ods=row.practice_ods,
        last_event_at=row.last_event_at,
        started_at=row.started_at,
        ended_at=row.ended_at,
        status_before=VisitStatus(row.status_before) if row.status_before else None,
        previous_location=row.previous_location,
        last_trigger=row.last_trigger,
    )


class VisitRepository:
    """Visits by (facility, visit number), and by patient."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def lock(self, sending_facility: str, visit_number: str) -> None:
        """Until the transaction ends, this visit is this unit of work's alone."""
        serialize_on(self._session, f"hospital_feed.visit|{sending_facility}|{visit_number}")

    def get(self, sending_facility: str, visit_number: str) -> Visit | None:
        row = self._session.get(VisitRow, (sending_facility, visit_number))
        return _visit(row) if row is not None else None

    def save(self, visit: Visit, now: datetime) -> None:
        row = self._session.get(VisitRow, (visit.sending_facility, visit.visit_number))
        if row is None:
            row = VisitRow(
                sending_facility=visit.sending_facility,
                visit_number=visit.visit_number,
                nhs_number=visit.nhs_number,
                status=visit.status,
                updated_at=now,
            )
        row.nhs_number = visit.nhs_number
        row.status = visit.status.value
        row.patient_class = visit.patient_class
        row.location = visit.location
        row.practice_ods = visit.practice_ods
        row.last_event_at = visit.last_event_at
        row.started_at = visit.started_at
        row.ended_at = visit.ended_at
        row.status_before = visit.status_before.value if visit.status_before else None
        row.previous_location = visit.previous_location
        row.last_trigger = visit.last_trigger
        row.updated_at = now
        self._session.add(row)
        self._session.flush()

    def of_patient(self, nhs_number: str) -> list[Visit]:
        rows = self._session.exec(
            select(VisitRow)
            .where(col(VisitRow.nhs_number) == nhs_number)
            .order_by(col(VisitRow.sending_facility), col(VisitRow.visit_number))
        )
        return [_visit(row) for row in rows]

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
        row = self._session.get(RegisteredPractice, nhs_number)
        return Registration(row.nhs_number, row.practice_ods, row.as_of) if row else None

    def save(self, registration: Registration, now: datetime) -> None:
        row = self._session.get(RegisteredPractice, registration.nhs_number)
        if row is None:
            row = RegisteredPractice(
                nhs_number=registration.nhs_number,
                practice_ods=registration.practice_ods,
                updated_at=now,
            )
        row.practice_ods = registration.practice_ods
        row.as_of = registration.as_of
        row.updated_at = now
        self._session.add(row)
        self._session.flush()

    def delete(self, nhs_number: str) -> None:
        row = self._session.get(RegisteredPractice, nhs_number)
        if row is not None:
            self._session.delete(row)
            self._session.flush()

    def survivor_of(self, nhs_number: str) -> str | None:
        """The NHS number a merge replaced this one with (followed to the end), if any."""
        seen = {nhs_number}
        current = nhs_number
        while (row := self._session.get(PatientMerge, current)) is not None:
            current = row.surviving_nhs_number
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

"""What the coaching team (and the startup roster file) asks scheduling to do."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from ensemble_runtime.definition import Command
from scheduling.adapters.orm import Appointment, PatientPreference
from scheduling.domain.appointment import ChangedBy
from scheduling.domain.coach import Coach


@dataclass(frozen=True)
class UpsertCoaches(Command[int]):
    """Add or replace these coaches by coach_id; answers how many."""

    coaches: tuple[Coach, ...]


@dataclass(frozen=True)
class BookProgramme(Command[bool]):
    """Book an accepted referral's programme as `referral.accepted` would; answers whether
    it was new. Two bookings racing for one slot: the loser runs again and sees the winner.
    Bookings arriving together share one transaction (each in its savepoint, run in turn, so
    each sees the slots the ones before it took): one commit and fsync for the group."""

    rerun_on_conflict = True
    group_commit = True
    referral_id: UUID
    nhs_number: str
    practice_ods: str
    service: str
    language: str | None


@dataclass(frozen=True)
class MarkAttended(Command[Appointment]):
    appointment_id: UUID


@dataclass(frozen=True)
class MarkDidNotAttend(Command[Appointment]):
    """Also books the re-offer: a concurrent booking of that slot means run again."""

    rerun_on_conflict = True
    appointment_id: UUID


@dataclass(frozen=True)
class CancelAppointment(Command[Appointment]):
    rerun_on_conflict = True  # the freed slot rebooks the waiting list
    appointment_id: UUID
    by: ChangedBy = ChangedBy.STAFF
    reason: str | None = None  # kept in the store, never published


@dataclass(frozen=True)
class RescheduleAppointment(Command[Appointment]):
    """Move a booked, future appointment: to `starts_at` (a wall time in `timezone`, or an
    aware instant), or to the same coach's next free slot when no time is given. A concurrent
    twin taking the slot trips the store's (coach, start) index: run again, and the check
    then answers SlotTaken."""

    rerun_on_conflict = True
    appointment_id: UUID
    by: ChangedBy
    reason: str | None = None
    starts_at: datetime | None = None
    timezone: str | None = None


@dataclass(frozen=True)
class PutPatientPreference(Command[PatientPreference]):
    nhs_number: str
    timezone: str
    day_start: int
    day_end: int
    coach_change_requested: bool = False


@dataclass(frozen=True)
class ResumeProgramme(Command[int]):
    """A paused programme goes on from its first session not yet held; answers the session
    number it resumed from."""

    rerun_on_conflict = True
    referral_id: UUID

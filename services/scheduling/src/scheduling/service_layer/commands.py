"""What the coaching team (and the startup roster file) asks scheduling to do."""

from dataclasses import dataclass
from uuid import UUID

from ensemble_runtime.definition import Command
from scheduling.adapters.orm import Appointment
from scheduling.domain.coach import Coach


@dataclass(frozen=True)
class UpsertCoaches(Command[int]):
    """Add or replace these coaches by coach_id; answers how many."""

    coaches: tuple[Coach, ...]


@dataclass(frozen=True)
class MarkAttended(Command[Appointment]):
    appointment_id: UUID


@dataclass(frozen=True)
class MarkDidNotAttend(Command[Appointment]):
    appointment_id: UUID


@dataclass(frozen=True)
class CancelAppointment(Command[Appointment]):
    appointment_id: UUID

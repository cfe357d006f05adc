"""scheduling's unit of work: the roster, the appointments and the waiting list."""

from sqlmodel import Session

from ensemble_runtime.unit_of_work import UnitOfWork
from scheduling.adapters.repository import (
    AppointmentRepository,
    CoachRepository,
    PatientPreferenceRepository,
    ProgrammeRepository,
    WaitingListRepository,
)
from scheduling.config import Settings


class SchedulingUnitOfWork(UnitOfWork[Settings]):
    coaches: CoachRepository
    appointments: AppointmentRepository
    waiting_list: WaitingListRepository
    programmes: ProgrammeRepository
    preferences: PatientPreferenceRepository

    def open_repositories(self, session: Session) -> None:
        self.coaches = CoachRepository(session)
        self.appointments = AppointmentRepository(session)
        self.waiting_list = WaitingListRepository(session)
        self.programmes = ProgrammeRepository(session)
        self.preferences = PatientPreferenceRepository(session)

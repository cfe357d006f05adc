"""A referral to health coaching or complex care, and the rules for its lifecycle.

requested (a GP)            → accepted | declined
proposed  (hot onboarding)  → accepted | declined | withdrawn (scoring withdrew the trigger)
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, Literal, get_args
from uuid import UUID, uuid4

from referral.domain.nhs_number import parse_nhs_number

Service = Literal["health_coaching", "complex_care"]
Source = Literal["gp", "hot_onboarding"]
Status = Literal["requested", "proposed", "accepted", "declined", "withdrawn"]

SERVICES: Final[tuple[Service, ...]] = get_args(Service)
STATUSES: Final[tuple[Status, ...]] = get_args(Status)
# Open: the patient is waiting for, or already in, the service. One open referral per service.
OPEN_STATUSES: Final[tuple[Status, ...]] = ("requested", "proposed", "accepted")
_ALLOWED: Final[dict[Status, frozenset[Status]]] = {
    "requested": frozenset({"accepted", "declined"}),
    "proposed": frozenset({"accepted", "declined", "withdrawn"}),
}
# Hot-onboarding proposals are triaged while the patient is still in hospital.
TRIAGE_WORKING_DAYS: Final[dict[Source, int]] = {"hot_onboarding": 2, "gp": 5}


class ReferralError(Exception):
    """A business rule said no."""


class InvalidTransition(ReferralError):
    def __init__(self, current: Status, target: Status) -> None:
        super().__init__(f"a {current} referral cannot become {target}")
        self.current = current
        self.target = target


class UnknownService(ReferralError, ValueError):
    def __init__(self) -> None:
        super().__init__(f"service must be one of {', '.join(SERVICES)}")


def add_working_days(start: datetime, days: int) -> datetime:
    """Monday to Friday, same time of day; bank holidays are not modelled yet."""
    moment = start
    while days > 0:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            days -= 1
    return moment


def triage_due(created_at: datetime, source: Source) -> datetime:
    return add_working_days(created_at, TRIAGE_WORKING_DAYS[source])


def _service(value: str) -> Service:
    for service in SERVICES:
        if value == service:
            return service
    raise UnknownService


@dataclass
class Referral:
    nhs_number: str
    practice_ods: str
    service: Service
    source: Source
    status: Status
    created_at: datetime
    due_by: datetime
    updated_at: datetime
    referral_id: UUID = field(default_factory=uuid4)
    reason: str | None = None
    decline_reason: str | None = None
    preferred_language: str | None = None
    # Hot onboarding only: the scoring event that proposed it, and the encounter behind that.
    source_event_id: UUID | None = None
    trigger_event_id: UUID | None = None

    @classmethod
    def request(
        cls,
        *,
        nhs_number: str,
        practice_ods: str,
        service: str,
        now: datetime,
        reason: str | None = None,
        preferred_language: str | None = None,
    ) -> "Referral":
        """A GP refers a patient (InvalidNhsNumber / UnknownService when the input is wrong)."""
        return cls(
            nhs_number=parse_nhs_number(nhs_number),
            practice_ods=practice_ods,
            service=_service(service),
            source="gp",
            status="requested",
            created_at=now,
            updated_at=now,
            due_by=triage_due(now, "gp"),
            reason=reason,
            preferred_language=preferred_language,
        )

    @classmethod
    def propose(
        cls,
        *,
        nhs_number: str,
        practice_ods: str,
        now: datetime,
        source_event_id: UUID,
        trigger_event_id: UUID,
        reason: str,
        preferred_language: str | None = None,
    ) -> "Referral":
        """Hot onboarding proposes complex care for a high-risk patient who is in hospital."""
        return cls(
            nhs_number=parse_nhs_number(nhs_number),
            practice_ods=practice_ods,
            service="complex_care",
            source="hot_onboarding",
            status="proposed",
            created_at=now,
            updated_at=now,
            due_by=triage_due(now, "hot_onboarding"),
            reason=reason,
            preferred_language=preferred_language,
            source_event_id=source_event_id,
            trigger_event_id=trigger_event_id,
        )

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def accept(self, now: datetime) -> None:
        self._become("accepted", now)

    def decline(self, reason: str, now: datetime) -> None:
        self._become("declined", now)
        self.decline_reason = reason

    def withdraw(self, now: datetime) -> None:
        self._become("withdrawn", now)

    def _become(self, target: Status, now: datetime) -> None:
        if target not in _ALLOWED.get(self.status, frozenset()):
            raise InvalidTransition(self.status, target)
        self.status = target
        self.updated_at = now

"""A referral to health coaching or complex care, and the rules for its lifecycle.

requested (a GP) | proposed (hot onboarding)
  → triaged (a priority)  → consent recorded (given / declined / withdrawn)
  → accepted (needs consent given) → active (needs a coach or keyworker)
  → completed | discharged (with an outcome code)
declined: by staff before acceptance, or when the patient declines consent;
withdrawn: by the GP while open, or by scoring while a proposal is untriaged.
Every change is checked before anything is touched, so a refused one changes nothing.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Literal, get_args
from uuid import UUID, uuid4

from referral.domain.nhs_number import parse_nhs_number
from referral.domain.sla import Priority, SlaPolicy, Stage, add_working_days

Service = Literal["health_coaching", "complex_care"]
Source = Literal["gp", "hot_onboarding"]
Status = Literal[
    "requested",
    "proposed",
    "triaged",
    "accepted",
    "active",
    "completed",
    "discharged",
    "declined",
    "withdrawn",
]
Consent = Literal["given", "declined", "withdrawn"]
ConsentMethod = Literal["verbal", "written", "phone", "video", "digital"]
WorkerRole = Literal["coach", "keyworker"]
CompletionOutcome = Literal["goals_met", "goals_partly_met", "programme_finished"]
DischargeOutcome = Literal[
    "not_engaged",
    "consent_withdrawn",
    "moved_away",
    "transferred",
    "clinical_decision",
    "deceased",
]

SERVICES: Final[tuple[Service, ...]] = get_args(Service)
STATUSES: Final[tuple[Status, ...]] = get_args(Status)
CONSENTS: Final[tuple[Consent, ...]] = get_args(Consent)
# Open: the patient is waiting for, or already in, the service. One open referral per service.
OPEN_STATUSES: Final[tuple[Status, ...]] = (
    "requested",
    "proposed",
    "triaged",
    "accepted",
    "active",
)
ALLOWED: Final[dict[Status, frozenset[Status]]] = {
    "requested": frozenset({"triaged", "declined", "withdrawn"}),
    "proposed": frozenset({"triaged", "declined", "withdrawn"}),
    "triaged": frozenset({"accepted", "declined", "withdrawn"}),
    "accepted": frozenset({"active", "discharged", "withdrawn"}),
    "active": frozenset({"completed", "discharged", "withdrawn"}),
}
# The clock that runs in each status (none once the patient is active or the referral closed).
STAGE_OF: Final[dict[Status, Stage]] = {
    "requested": "triage",
    "proposed": "triage",
    "triaged": "acceptance",
    "accepted": "activation",
}
# The coaching service works with coaches, complex care with keyworkers.
ROLE_FOR: Final[dict[Service, WorkerRole]] = {
    "health_coaching": "coach",
    "complex_care": "keyworker",
}
DEFAULT_SLA: Final = SlaPolicy()


class ReferralError(Exception):
    """A business rule said no."""


class InvalidTransition(ReferralError):
    """The change is not open to a referral in its status; `allowed` are the next statuses."""

    def __init__(self, current: Status, target: str, why: str | None = None) -> None:
        allowed = sorted(ALLOWED.get(current, frozenset()))
        super().__init__(why or f"a {current} referral cannot become {target}")
        self.current = current
        self.target = target
        self.allowed = allowed


class InvalidAssignment(ReferralError, ValueError):
    """The people named cannot take this referral (wrong role, the same person twice)."""


class UnknownService(ReferralError, ValueError):
    def __init__(self) -> None:
        super().__init__(f"service must be one of {', '.join(SERVICES)}")


def triage_due(
    created_at: datetime,
    source: Source,
    service: str = "complex_care",
    sla: SlaPolicy = DEFAULT_SLA,
) -> datetime:
    return add_working_days(created_at, sla.triage_days(service, source))


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
    priority: Priority | None = None
    # The clock `due_by` belongs to (None: no clock runs), and the last clock whose breach
    # was announced, so each referral and stage breaches once.
    sla_stage: Stage | None = "triage"
    breach_announced_for: Stage | None = None
    consent: Consent | None = None
    consent_by: str | None = None
    consent_at: datetime | None = None
    consent_method: ConsentMethod | None = None
    worker_role: WorkerRole | None = None
    worker_id: str | None = None
    worker_name: str | None = None
    supervisor_id: str | None = None
    supervisor_name: str | None = None
    outcome: str | None = None

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
        sla: SlaPolicy = DEFAULT_SLA,
    ) -> "Referral":
        """A GP refers a patient (InvalidNhsNumber / UnknownService when the input is wrong)."""
        patient = parse_nhs_number(nhs_number)  # the patient is checked first
        chosen = _service(service)
        return cls(
            nhs_number=patient,
            practice_ods=practice_ods,
            service=chosen,
            source="gp",
            status="requested",
            created_at=now,
            updated_at=now,
            due_by=triage_due(now, "gp", chosen, sla),
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
        sla: SlaPolicy = DEFAULT_SLA,
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
            due_by=triage_due(now, "hot_onboarding", "complex_care", sla),
            reason=reason,
            preferred_language=preferred_language,
            source_event_id=source_event_id,
            trigger_event_id=trigger_event_id,
        )

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def triage(self, priority: Priority, now: datetime, sla: SlaPolicy = DEFAULT_SLA) -> None:
        self._check("triaged")
        self.priority = priority
        self._become("triaged", now, sla)

    def record_consent(
        self, decision: Consent, *, by: str, at: datetime, method: ConsentMethod, now: datetime
    ) -> None:
        """Consent is recorded once triaged. Declining it declines the referral; withdrawing
        it (only once given) declines a triaged referral and discharges an accepted or active
        one. Giving it again after a withdrawal is a new referral, not this one."""
        target: Status | None = None
        if decision == "given":
            if self.status != "triaged" or self.consent == "given":
                raise InvalidTransition(self.status, "consented", self._why_consent("given"))
        elif decision == "declined":
            if self.status != "triaged" or self.consent == "given":
                raise InvalidTransition(self.status, "declined", self._why_consent("declined"))
            target = "declined"
        else:
            if self.consent != "given" or not self.is_open:
                raise InvalidTransition(self.status, "withdrawn", "no consent given to withdraw")
            target = "declined" if self.status == "triaged" else "discharged"
        if target is not None:
            self._check(target)
        self.consent, self.consent_by, self.consent_at = decision, by, at
        self.consent_method = method
        if target == "declined":
            self.decline_reason = f"consent {decision}"
            self._become(target, now)
        elif target == "discharged":
            self.outcome = "consent_withdrawn"
            self._become(target, now)
        else:
            self.updated_at = now

    def _why_consent(self, decision: str) -> str:
        if self.status != "triaged":
            return f"consent is {decision} on a triaged referral, not a {self.status} one"
        return "consent is already given"

    def accept(self, now: datetime, sla: SlaPolicy = DEFAULT_SLA) -> None:
        self._check("accepted")
        if self.consent != "given":
            raise InvalidTransition(self.status, "accepted", "accepting needs consent given")
        self._become("accepted", now, sla)

    def activate(self, now: datetime) -> None:
        self._check("active")
        if self.worker_id is None:
            raise InvalidTransition(
                self.status, "active", f"assign a {ROLE_FOR[self.service]} first"
            )
        self._become("active", now)

    def complete(self, outcome: CompletionOutcome, now: datetime) -> None:
        self._check("completed")
        self.outcome = outcome
        self._become("completed", now)

    def discharge(self, outcome: DischargeOutcome, now: datetime) -> None:
        self._check("discharged")
        self.outcome = outcome
        self._become("discharged", now)

    def decline(self, reason: str, now: datetime) -> None:
        self._check("declined")
        self.decline_reason = reason
        self._become("declined", now)

    def withdraw(self, now: datetime) -> None:
        self._check("withdrawn")
        self._become("withdrawn", now)

    def assign(
        self,
        *,
        role: WorkerRole,
        worker: tuple[str, str],
        supervisor: tuple[str, str],
        now: datetime,
    ) -> None:
        """A coach (health coaching) or keyworker (complex care) and a supervisor, each
        (id, name), while the referral is triaged, accepted or active."""
        if self.status not in ("triaged", "accepted", "active"):
            raise InvalidTransition(
                self.status, "assigned", f"a {self.status} referral cannot be assigned"
            )
        if role != ROLE_FOR[self.service]:
            raise InvalidAssignment(f"{self.service} referrals go to a {ROLE_FOR[self.service]}")
        if worker[0] == supervisor[0]:
            raise InvalidAssignment("the supervisor must be someone other than the worker")
        self.worker_role = role
        self.worker_id, self.worker_name = worker
        self.supervisor_id, self.supervisor_name = supervisor
        self.updated_at = now

    def stage_breached(self, now: datetime) -> Stage | None:
        """The running clock, when it ran out and its breach is not yet announced."""
        if self.sla_stage is None or self.due_by > now:
            return None
        return None if self.breach_announced_for == self.sla_stage else self.sla_stage

    def _check(self, target: Status) -> None:
        if target not in ALLOWED.get(self.status, frozenset()):
            raise InvalidTransition(self.status, target)

    def _become(self, target: Status, now: datetime, sla: SlaPolicy = DEFAULT_SLA) -> None:
        self._check(target)
        self.status = target
        self.updated_at = now
        stage = STAGE_OF.get(target)
        if stage is not None and stage != self.sla_stage:
            # A new clock starts; untriaged clocks are set at creation.
            self.due_by = add_working_days(
                now, sla.stage_days(self.service, self.priority or "routine", stage)
            )
        self.sla_stage = stage

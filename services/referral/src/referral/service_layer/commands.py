"""What callers ask referral to do; each command has one handler, named in service.py."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from ensemble_runtime.definition import Command
from referral.domain.referral import (
    CompletionOutcome,
    Consent,
    ConsentMethod,
    DischargeOutcome,
    Referral,
    WorkerRole,
)
from referral.domain.sla import Priority


@dataclass(frozen=True)
class Requested:
    """The referral asked for; `merged`: the request joined this open referral of the
    practice's (200 with a note), rather than opening a new one (201)."""

    referral: Referral
    merged: bool = False


@dataclass(frozen=True)
class RequestReferral(Command[Requested]):
    """A GP refers a patient; the practice is the caller's, never taken from the body.

    Two requests for one patient and service racing each other: the loser trips the
    one-open-referral index, runs again, and then finds the winner (and merges into it).
    """

    practice_ods: str
    nhs_number: str
    service: str
    reason: str | None = None
    preferred_language: str | None = None
    requested_by: str = "unknown"

    rerun_on_conflict = True


@dataclass(frozen=True)
class AcceptReferral(Command[Referral]):
    referral_id: UUID


@dataclass(frozen=True)
class DeclineReferral(Command[Referral]):
    referral_id: UUID
    reason: str


@dataclass(frozen=True)
class TriageReferral(Command[Referral]):
    referral_id: UUID
    priority: Priority


@dataclass(frozen=True)
class RecordConsent(Command[Referral]):
    """Who recorded it (the staff user), when the patient decided, and how."""

    referral_id: UUID
    decision: Consent
    method: ConsentMethod
    recorded_by: str
    decided_at: datetime | None = None  # None: now


@dataclass(frozen=True)
class ActivateReferral(Command[Referral]):
    referral_id: UUID


@dataclass(frozen=True)
class CompleteReferral(Command[Referral]):
    referral_id: UUID
    outcome: CompletionOutcome


@dataclass(frozen=True)
class DischargeReferral(Command[Referral]):
    referral_id: UUID
    outcome: DischargeOutcome


@dataclass(frozen=True)
class WithdrawReferral(Command[Referral]):
    """The referring GP withdraws its own referral while it is open."""

    referral_id: UUID
    practice_ods: str


@dataclass(frozen=True)
class AssignReferral(Command[Referral]):
    referral_id: UUID
    role: WorkerRole
    worker_id: str
    worker_name: str
    supervisor_id: str
    supervisor_name: str


@dataclass(frozen=True)
class AddNote(Command[dict[str, object]]):
    """A free-text note on a referral: kept in the store, never on a topic or in a log.
    `practice_ods`: the calling practice (None for staff), which must own the referral."""

    referral_id: UUID
    text: str
    author: str
    practice_ods: str | None = None


@dataclass(frozen=True)
class FindSlaBreaches(Command[int]):
    """Announce each clock that ran out, once per referral and stage; at most `limit`."""

    limit: int = 500

"""What callers ask referral to do; each command has one handler, named in service.py."""

from dataclasses import dataclass
from uuid import UUID

from ensemble_runtime.definition import Command
from referral.domain.referral import Referral


@dataclass(frozen=True)
class RequestReferral(Command[Referral]):
    """A GP refers a patient; the practice is the caller's, never taken from the body.

    Two requests for one patient and service racing each other: the loser trips the
    one-open-referral index, runs again, and then finds the winner (a Conflict).
    """

    practice_ods: str
    nhs_number: str
    service: str
    reason: str | None = None
    preferred_language: str | None = None

    rerun_on_conflict = True


@dataclass(frozen=True)
class AcceptReferral(Command[Referral]):
    referral_id: UUID


@dataclass(frozen=True)
class DeclineReferral(Command[Referral]):
    referral_id: UUID
    reason: str

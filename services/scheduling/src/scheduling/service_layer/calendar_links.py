"""A coach's secret calendar link: issued (which revokes any earlier one) and revoked by staff.
The secret is shown once; the store keeps its SHA-256 only."""

import hashlib
import secrets
from dataclasses import dataclass

from ensemble_runtime.definition import Command
from scheduling.adapters.orm import CalendarLink
from scheduling.adapters.unit_of_work import SchedulingUnitOfWork


class UnknownCoach(LookupError):
    pass


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IssueCalendarLink(Command[str]):
    coach_id: str


@dataclass(frozen=True)
class RevokeCalendarLink(Command[bool]):
    coach_id: str


def issue_calendar_link(uow: SchedulingUnitOfWork, command: IssueCalendarLink) -> str:
    if uow.coaches.get(command.coach_id) is None:
        raise UnknownCoach(command.coach_id)
    secret = secrets.token_urlsafe(32)
    uow.coaches.put_calendar_link(
        CalendarLink(
            coach_id=command.coach_id, secret_sha256=digest(secret), created_at=uow.clock()
        )
    )
    uow.commit()
    return secret


def revoke_calendar_link(uow: SchedulingUnitOfWork, command: RevokeCalendarLink) -> bool:
    dropped = uow.coaches.drop_calendar_link(command.coach_id)
    uow.commit()
    return dropped

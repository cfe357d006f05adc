"""A referral's programme of sessions and what a missed one leads to.

A programme is a first session, `follow_ups` follow-ups each `interval` after the one before,
and a review `review_after` the last follow-up (none when zero). Each session is booked on or
after its target day, with the coach of the sessions before it when they can (continuity).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from scheduling.domain.appointment import AppointmentKind


class ProgrammeStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    CLOSED = "closed"


class DnaOutcome(StrEnum):
    REOFFER = "reoffer"  # the first DNA of a programme: the session is offered again
    ESCALATE = "escalate"  # the second: the referrer is told, the programme closes or pauses


@dataclass(frozen=True)
class Session:
    number: int  # 1-based place in the programme
    kind: AppointmentKind
    after_previous: timedelta  # how long after the previous session's start (0 for the first)


@dataclass(frozen=True)
class ProgrammePlan:
    follow_ups: int = 3
    interval: timedelta = timedelta(days=14)
    review_after: timedelta = timedelta(days=28)

    def __post_init__(self) -> None:
        if self.follow_ups < 0 or (self.follow_ups and self.interval <= timedelta(0)):
            raise ValueError("follow-ups need a positive interval")
        if self.review_after < timedelta(0):
            raise ValueError("the review cannot come before the last follow-up")

    def sessions(self) -> list[Session]:
        planned = [Session(1, AppointmentKind.FIRST, timedelta(0))]
        planned += [
            Session(n, AppointmentKind.FOLLOW_UP, self.interval)
            for n in range(2, self.follow_ups + 2)
        ]
        if self.review_after > timedelta(0):
            planned.append(Session(len(planned) + 1, AppointmentKind.REVIEW, self.review_after))
        return planned

    def session(self, number: int) -> Session:
        return self.sessions()[number - 1]

    def target(self, number: int, previous_start: datetime | None, now: datetime) -> datetime:
        """The earliest moment session `number` may start."""
        if number == 1 or previous_start is None:
            return now
        return max(now, previous_start + self.session(number).after_previous)


def after_dna(dna_count: int) -> DnaOutcome:
    """What the programme's `dna_count`-th missed session leads to."""
    return DnaOutcome.REOFFER if dna_count <= 1 else DnaOutcome.ESCALATE

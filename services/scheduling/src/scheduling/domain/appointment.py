"""An appointment's life: booked, then cancelled, attended or missed — once."""

from enum import StrEnum


class AppointmentStatus(StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"
    ATTENDED = "attended"
    DID_NOT_ATTEND = "did_not_attend"


class AppointmentKind(StrEnum):
    FIRST = "first"
    FOLLOW_UP = "follow_up"
    REVIEW = "review"


class ChangedBy(StrEnum):
    PATIENT = "patient"
    COACH = "coach"
    STAFF = "staff"
    POLICY = "policy"  # the DNA policy


class InvalidTransition(Exception):
    """The appointment is not in a state that allows this change (HTTP 409)."""


class ImpossibleTime(ValueError):
    """A requested time that cannot be booked: in a clock-change gap, in the past or outside
    the coach's working pattern (HTTP 422)."""


# Statuses that keep the coach's time taken (a cancelled slot is free again).
OCCUPYING = frozenset(
    {AppointmentStatus.BOOKED, AppointmentStatus.ATTENDED, AppointmentStatus.DID_NOT_ATTEND}
)


def transition(current: str, target: AppointmentStatus) -> AppointmentStatus:
    """Only a booked appointment changes; every outcome is final."""
    if current != AppointmentStatus.BOOKED or target == AppointmentStatus.BOOKED:
        raise InvalidTransition(f"a {current} appointment cannot become {target}")
    return target

"""A practice team's acknowledgement of an alert: new, then seen, then actioned."""

from datetime import datetime, timedelta
from enum import StrEnum


class AlertState(StrEnum):
    NEW = "new"
    SEEN = "seen"
    ACTIONED = "actioned"


class Outcome(StrEnum):
    """What the team did: a fixed list, so the figures can be counted."""

    CALLED_PATIENT = "called_patient"
    BOOKED_REVIEW = "booked_review"
    ADDED_TO_HUDDLE = "added_to_huddle"
    NO_ACTION_NEEDED = "no_action_needed"


OUTCOME_LABELS = {
    Outcome.CALLED_PATIENT: "Called patient",
    Outcome.BOOKED_REVIEW: "Booked review",
    Outcome.ADDED_TO_HUDDLE: "Added to huddle",
    Outcome.NO_ACTION_NEEDED: "No action needed",
}
HIGH_BANDS = frozenset({"high", "very_high"})  # unactioned alerts of these bands go overdue


def state_of(seen_at: datetime | None, actioned_at: datetime | None) -> AlertState:
    if actioned_at is not None:
        return AlertState.ACTIONED
    return AlertState.SEEN if seen_at is not None else AlertState.NEW


def is_overdue(
    state: AlertState,
    risk_band: str | None,
    created_at: datetime,
    now: datetime,
    overdue_after: timedelta,
) -> bool:
    """An alert about a high-risk patient that nobody has actioned in time."""
    return (
        state is not AlertState.ACTIONED
        and risk_band in HIGH_BANDS
        and now - created_at >= overdue_after
    )

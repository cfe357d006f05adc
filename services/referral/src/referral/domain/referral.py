"""Referral lifecycle rules and triage deadlines."""

from datetime import datetime, timedelta
from typing import Final

OPEN_STATUSES: Final = ("requested", "proposed", "accepted")
_ALLOWED: Final = {
    "requested": {"accepted", "declined"},
    "proposed": {"accepted", "declined", "withdrawn"},
}
# Hot-onboarding proposals are triaged while the patient is still in hospital.
TRIAGE_WORKING_DAYS: Final = {"hot_onboarding": 2, "gp": 5}


class InvalidTransition(Exception):
    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"a {current} referral cannot become {target}")


def transition(current: str, target: str) -> str:
    if target not in _ALLOWED.get(current, set()):
        raise InvalidTransition(current, target)
    return target


def add_working_days(start: datetime, days: int) -> datetime:
    """Monday to Friday; bank holidays are not modelled yet."""
    moment = start
    while days > 0:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            days -= 1
    return moment


def triage_due(created_at: datetime, source: str) -> datetime:
    return add_working_days(created_at, TRIAGE_WORKING_DAYS[source])

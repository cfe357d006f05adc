"""Least privilege between practices: a practice acts only for the patients on its list.

referral learns where a patient is registered from the events it consumes (an encounter's
PD1-3, a hot-onboarding trigger). A patient it has never seen registered anywhere may be
referred by any practice: a GP knows its own list, and the referral records that practice.
"""

from datetime import UTC, datetime


def practice_code(raw: str) -> str | None:
    """An ODS code as referral stores and compares it (upper case), or None when blank."""
    code = raw.strip().upper()
    return code or None


def may_act_for(practice_ods: str, registered_with: str | None) -> bool:
    """True for the patient's registered practice, or anyone while no registration is known."""
    return registered_with is None or registered_with == practice_ods


def as_of(occurred_at: datetime, now: datetime) -> datetime:
    """When a registration fact was true: the event's time, but never later than now.

    A producer's clock (or a forged event) far in the future must not pin a registration
    so that no genuine, later event can ever replace it. A time without an offset is UTC.
    """
    aware = occurred_at if occurred_at.tzinfo is not None else occurred_at.replace(tzinfo=UTC)
    return min(aware, now)


def may_see(
    referral_practice: str, caller_practice: str | None, registered_with: str | None
) -> bool:
    """Staff (caller None) see any referral; a practice its own referrals of patients still
    registered with it, or whose registration is unknown."""
    if caller_practice is None:
        return True
    return referral_practice == caller_practice and may_act_for(caller_practice, registered_with)

"""What hospital-feed keeps of other services' events: when a fact it projects was true."""

from datetime import UTC, datetime

from ensemble_contracts import limits


def fact_time(occurred_at: datetime, now: datetime) -> datetime:
    """When a projected fact (a score, a referral status) was true: the event's
    `occurred_at`, read as UTC when it has no offset, and never later than now.

    The envelope's time is the producer's clock, unchecked: one in the future must not pin a
    projection so that no genuine, later event can replace it, and one outside the plausible
    range (1900-2199) is taken as the time it was received.
    """
    aware = occurred_at if occurred_at.tzinfo is not None else occurred_at.replace(tzinfo=UTC)
    if not limits.EARLIEST <= aware < limits.LATEST:
        return now
    return min(aware.astimezone(UTC), now)

"""scheduling's test builders: a kit with a roster, coaches and referral events."""

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from ensemble_contracts.referral import ReferralEvent
from ensemble_devkit.synthetic import test_nhs_numbers
from ensemble_devkit.testkit import FrozenClock, ServiceKit, tokens
from scheduling.adapters.unit_of_work import SchedulingUnitOfWork
from scheduling.config import Settings
from scheduling.domain.coach import WEEKDAYS, Coach
from scheduling.service import DEFINITION
from scheduling.service_layer.commands import UpsertCoaches

SchedulingKit = ServiceKit[Settings, SchedulingUnitOfWork]
STAFF = ("staff", "coaching-lead")  # kind and principal of the staff caller in tests
EVERY_DAY = {d: [["00:00", "24:00"]] for d in WEEKDAYS}
# A new patient per referral unless a test names one: continuity keeps a patient's coach.
_patients = test_nhs_numbers(start=500_000)


def scheduling_kit(
    database_url: str,
    coaches: list[dict[str, Any]] | None = None,
    clock: FrozenClock | None = None,
    **settings: Any,
) -> SchedulingKit:
    """scheduling on a fresh store with this roster; booking around the clock by default."""
    values: dict[str, Any] = {
        "staff_tokens": tokens(*STAFF),
        "patient_timezone": "",  # most tests book around the clock
        "follow_ups": 0,  # and only the first session (tests of programmes set their own)
        "review_after_days": 0,
        "reminder_scan_seconds": 0,  # tests scan for reminders themselves
        **settings,
    }
    kit = ServiceKit(DEFINITION, database_url, clock, **values)
    kit.execute(UpsertCoaches(tuple(Coach.from_json(c) for c in coaches or [])))
    return kit


def coach(
    coach_id: str,
    languages: list[str],
    zone: str = "Asia/Kolkata",
    hours: dict[str, list[list[str]]] | None = None,
) -> dict[str, Any]:
    return {
        "coach_id": coach_id,
        "display_name": f"Coach {coach_id}",
        "languages": languages,
        "timezone": zone,
        "weekly_hours": EVERY_DAY if hours is None else hours,
    }


def referral_event(
    event_type: str = "referral.accepted", language: str | None = "en", **fields: Any
) -> ReferralEvent:
    values: dict[str, Any] = {
        "event_type": event_type,
        "producer": "referral",
        "referral_id": uuid4(),
        "nhs_number": next(_patients),
        "practice_ods": "L85001",
        "service": "health_coaching",
        "source": "gp",
        "status": event_type.split(".")[1],
        "preferred_language": language,
        **fields,
    }
    return ReferralEvent(**values)


def follow_on(event: ReferralEvent, event_type: str) -> ReferralEvent:
    """A later event about the same referral (new event id, same correlation)."""
    return referral_event(
        event_type,
        event.preferred_language,
        referral_id=event.referral_id,
        nhs_number=event.nhs_number,
        correlation_id=event.correlation_id,
    )


def started(kit: SchedulingKit, starts_at: datetime | str) -> None:
    """Move the kit's clock to a session's start: what happened may be recorded from then."""
    start = datetime.fromisoformat(starts_at) if isinstance(starts_at, str) else starts_at
    kit.clock.now = max(kit.clock.now, start)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)

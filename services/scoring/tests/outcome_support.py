"""Referral and appointment events for the outcome tests, and a small practice to report on:
two enrolled patients and their would-be comparison patients, with hospital use around the
enrolment date."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from ensemble_contracts.hospital import EncounterEventType
from ensemble_contracts.referral import ReferralEvent
from ensemble_contracts.scheduling import AppointmentEvent, AppointmentEventType
from ensemble_devkit.testkit import tokens

from .support import NHS_NUMBERS, NOW, Kit, encounter, high_risk, load, scoring_kit

PRACTICE = "L85001"
ENROLLED_ON = NOW - timedelta(days=180)  # six months of follow-up when the report is read


def outcomes_kit(folder: Path) -> Kit:
    """scoring on a fresh SQLite store, with staff and two practices that hold tokens."""
    return scoring_kit(
        f"sqlite:///{folder / 'scoring.db'}", practice_tokens=tokens("practice", PRACTICE, "L85002")
    )


def referral(
    nhs: str,
    status: str,
    referral_id: UUID,
    service: str = "health_coaching",
    occurred_at: datetime | None = None,
    practice: str = PRACTICE,
    **fields: Any,
) -> ReferralEvent:
    event_type = fields.pop("event_type", f"referral.{status.replace('active', 'activated')}")
    return ReferralEvent(
        event_type=event_type,
        producer="referral",
        referral_id=referral_id,
        nhs_number=nhs,
        practice_ods=practice,
        service=service,
        source="gp",
        status=status,
        occurred_at=occurred_at or NOW,
        **fields,
    )


def appointment(
    nhs: str,
    referral_id: UUID,
    starts_at: datetime,
    event_type: str = AppointmentEventType.ATTENDED,
    appointment_id: UUID | None = None,
    occurred_at: datetime | None = None,
    **fields: Any,
) -> AppointmentEvent:
    values: dict[str, Any] = {
        "service": "health_coaching",
        "practice_ods": PRACTICE,
        **fields,
    }
    return AppointmentEvent(
        event_type=event_type,
        producer="scheduling",
        nhs_number=nhs,
        appointment_id=appointment_id or uuid4(),
        referral_id=referral_id,
        coach_id="coach-1",
        language="en",
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=45),
        coach_timezone="Europe/London",
        occurred_at=occurred_at or starts_at + timedelta(hours=1),
        **values,
    )


def attendances(kit: Kit, nhs: str, *days_from_enrolment: int) -> None:
    """A&E attendances of the patient this many days from the enrolment date (negative: before)."""
    for offset in days_from_enrolment:
        at = ENROLLED_ON + timedelta(days=offset)
        kit.consume(
            encounter(
                nhs, EncounterEventType.AE_ATTENDANCE, visit_number=uuid4().hex[:12], event_at=at
            )
        )


@dataclass
class Practice:
    """Who is who in `seed_practice`'s practice."""

    enrolled: str
    comparison: str
    other_enrolled: str
    referral_id: UUID
    extra: dict[str, str] = field(default_factory=dict)


def seed_practice(kit: Kit) -> Practice:
    """Two patients enrolled in health coaching on ENROLLED_ON at L85001 (very high, 85+), one
    never-enrolled patient like them, and hospital use: the enrolled went to A&E 4 times in
    the year before and once since; the comparison patient 4 times before and 3 times since
    (their own fall: regression to the mean). The second enrolled patient has no match left."""
    enrolled, comparison, other = next(NHS_NUMBERS), next(NHS_NUMBERS), next(NHS_NUMBERS)
    load(
        kit,
        high_risk(enrolled, pam_level=2, as_of="2026-05-01"),
        high_risk(comparison, as_of="2026-05-01"),
        high_risk(other, as_of="2026-05-01"),
    )
    attendances(kit, enrolled, -300, -200, -100, -10, 60)
    attendances(kit, comparison, -290, -190, -90, -20, 30, 90, 150)
    referral_id, other_referral = uuid4(), uuid4()
    kit.consume(
        referral(enrolled, "active", referral_id, occurred_at=ENROLLED_ON - timedelta(days=7))
    )
    for week in range(3):
        kit.consume(appointment(enrolled, referral_id, ENROLLED_ON + timedelta(days=7 * week)))
    kit.consume(appointment(other, other_referral, ENROLLED_ON + timedelta(days=2)))
    # A later extract: PAM level 2 -> 3 and 12 -> 10 repeat medicines since enrolment.
    load(
        kit, {"nhs_number": enrolled, "pam_level": 3, "repeat_medicines": 10, "as_of": "2026-11-01"}
    )
    return Practice(enrolled, comparison, other, referral_id)

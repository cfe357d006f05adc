"""Helpers shared by the scoring tests: events, profiles and a look at the outbox."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import count
from typing import Any
from uuid import uuid4

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from ensemble_contracts.hospital import EncounterEvent, EncounterEventType
from ensemble_contracts.nhs_number import check_digit
from ensemble_runtime.outbox import OutboxMessage
from ensemble_runtime.unit_of_work import UnitOfWork
from scoring.service_layer.extracts import ProfileIn
from scoring.service_layer.handlers import HotOnboardingPolicy, handle_encounter, load_profiles


def _numbers() -> Iterator[str]:
    for serial in count(100_000):
        first_nine = f"999{serial:06d}"
        digit = check_digit(first_nine)
        if digit is not None:
            yield f"{first_nine}{digit}"


_unused = _numbers()


def new_nhs_number() -> str:
    """A valid test-range NHS number not used before in this session."""
    return next(_unused)


def high_risk(nhs_number: str, **changes: Any) -> dict[str, Any]:
    """Very high without any hospital use: 27 + 6 + 9 + 7 + 13 + 11 = 73 points."""
    return {
        "nhs_number": nhs_number,
        "practice_ods": "L85001",
        "birth_date": "1938-05-04",
        "conditions": ["diabetes", "copd", "chd", "heart_failure", "depression"],
        "repeat_medicines": 12,
        "efi_deficits": 10,
        "deprivation_quintile": 1,
        "preferred_language": "pa",
        **changes,
    }


def moderate_risk(nhs_number: str, **changes: Any) -> dict[str, Any]:
    """25 points: two physical conditions (16) and age 75+ (9). An admission makes it 32: high."""
    return {
        "nhs_number": nhs_number,
        "practice_ods": "L85002",
        "birth_date": "1940-01-01",
        "conditions": ["diabetes", "ckd"],
        "repeat_medicines": 2,
        "efi_deficits": 2,
        "deprivation_quintile": 3,
        "preferred_language": "en",
        **changes,
    }


def load(engine: Engine, *profiles: dict[str, Any]) -> int:
    with UnitOfWork(engine, "scoring") as uow:
        return load_profiles(uow, [ProfileIn.model_validate(p) for p in profiles])


def encounter(
    nhs_number: str,
    event_type: str = EncounterEventType.ADMITTED,
    visit_number: str | None = "V1",
    emergency: bool = True,
    practice_ods: str | None = "L85001",
    event_at: datetime | None = None,
    facility: str = "RCB",
) -> EncounterEvent:
    trigger = {
        EncounterEventType.ADMITTED: "A01",
        EncounterEventType.AE_ATTENDANCE: "A04",
        EncounterEventType.ADMISSION_CANCELLED: "A11",
        EncounterEventType.DISCHARGED: "A03",
    }.get(event_type, "A02")
    return EncounterEvent(
        event_type=event_type,
        producer="hospital-feed",
        nhs_number=nhs_number,
        practice_ods=practice_ods,
        sending_facility=facility,
        trigger_event=trigger,
        source_message_id=uuid4().hex,
        visit_number=visit_number,
        patient_class="E" if event_type == EncounterEventType.AE_ATTENDANCE else "I",
        emergency=emergency,
        event_at=event_at or datetime.now(UTC),
    )


def handle(
    engine: Engine, event: EncounterEvent, policy: HotOnboardingPolicy | None = None
) -> None:
    """As the consumer runs a handler: one unit of work, committed afterwards."""
    with UnitOfWork(engine, "scoring") as uow:
        handle_encounter(uow, event, policy)
        uow.commit()


def published(engine: Engine, topic: str, nhs_number: str) -> list[dict[str, Any]]:
    """Events staged in the outbox for one patient on one topic, oldest first."""
    with Session(engine) as session:
        rows = session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.topic == topic, OutboxMessage.key == nhs_number)
            .order_by(col(OutboxMessage.id))
        ).all()
    return [json.loads(row.payload) for row in rows]

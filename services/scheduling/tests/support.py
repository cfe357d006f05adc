"""Fixtures for scheduling tests."""

from typing import Any
from uuid import uuid4

from sqlmodel import Session, select

from ensemble_contracts.referral import ReferralEvent
from ensemble_contracts.scheduling import AppointmentEvent
from ensemble_runtime.db import create_schema
from ensemble_runtime.outbox import OutboxMessage
from ensemble_runtime.unit_of_work import UnitOfWork
from scheduling.adapters.orm import CoachRecord
from scheduling.bootstrap import Service, bootstrap
from scheduling.config import Settings
from scheduling.service_layer.handlers import upsert_coaches

EVERY_DAY = {d: [["00:00", "23:59"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def service_on(database_url: str, coaches: list[dict[str, Any]] | None = None) -> Service:
    service = bootstrap(
        Settings(
            database_url=database_url,
            kafka_bootstrap_servers="127.0.0.1:1",
            staff_tokens='{"staff": "staff-token"}',
        )
    )
    create_schema(service.engine)
    with UnitOfWork(service.engine, "scheduling") as uow:
        upsert_coaches(uow, [CoachRecord(**c) for c in coaches or []])
    return service


def coach(coach_id: str, languages: list[str], zone: str = "Asia/Kolkata") -> dict[str, Any]:
    return {
        "coach_id": coach_id,
        "display_name": coach_id,
        "languages": languages,
        "timezone": zone,
        "weekly_hours": EVERY_DAY,
    }


def accepted(
    language: str | None = "pa", event_type: str = "referral.accepted", **fields: Any
) -> ReferralEvent:
    return ReferralEvent(
        **{
            "event_type": event_type,
            "producer": "referral",
            "referral_id": uuid4(),
            "nhs_number": "9990000018",
            "practice_ods": "L85001",
            "service": "complex_care",
            "source": "hot_onboarding",
            "status": event_type.split(".")[1],
            "preferred_language": language,
            **fields,
        }
    )


def published(service: Service) -> list[AppointmentEvent]:
    with Session(service.engine) as session:
        rows = session.exec(select(OutboxMessage).order_by(OutboxMessage.id))
        return [AppointmentEvent.model_validate_json(r.payload) for r in rows]

"""Fixtures for referral tests."""

from uuid import uuid4

from sqlmodel import Session, select

from ensemble_contracts.referral import ReferralEvent
from ensemble_contracts.scoring import HotOnboarding
from ensemble_runtime.db import create_schema
from ensemble_runtime.outbox import OutboxMessage
from referral.bootstrap import Service, bootstrap
from referral.config import Settings


def service_on(database_url: str) -> Service:
    service = bootstrap(
        Settings(
            database_url=database_url,
            kafka_bootstrap_servers="127.0.0.1:1",
            practice_tokens='{"L85001": "p1-token", "L85002": "p2-token"}',
            staff_tokens='{"staff": "staff-token"}',
        )
    )
    create_schema(service.engine)
    return service


def trigger(
    nhs_number: str = "9990000018", event_type: str = "hot_onboarding.triggered"
) -> HotOnboarding:
    return HotOnboarding(
        event_type=event_type,
        producer="scoring",
        nhs_number=nhs_number,
        practice_ods="L85001",
        band="very_high",
        score=61,
        model_version="ensemble-risk-1.0.0",
        trigger="admission",
        trigger_event_id=uuid4(),
        preferred_language="pa",
    )


def published(service: Service) -> list[ReferralEvent]:
    with Session(service.engine) as session:
        rows = session.exec(select(OutboxMessage).order_by(OutboxMessage.id))
        return [ReferralEvent.model_validate_json(r.payload) for r in rows]

"""Helpers shared by referral's tests."""

from uuid import UUID, uuid4

from sqlmodel import Session, col, select

from ensemble_contracts.referral import ReferralEvent
from ensemble_contracts.scoring import HotOnboarding, HotOnboardingEventType
from ensemble_contracts.topics import REFERRALS
from ensemble_runtime.db import create_schema
from ensemble_runtime.outbox import OutboxMessage
from ensemble_runtime.unit_of_work import UnitOfWork
from referral.bootstrap import Service, bootstrap
from referral.config import Settings
from referral.entrypoints.kafka import SUBSCRIPTIONS

PRACTICE_TOKENS = {"L85001": "p1-token", "L85002": "p2-token"}
STAFF_TOKEN = "staff-token"


def service_on(database_url: str) -> Service:
    service = bootstrap(
        Settings(
            database_url=database_url,
            kafka_bootstrap_servers="127.0.0.1:1",  # never contacted: no lifespan in tests
            practice_tokens='{"L85001": "p1-token", "L85002": "p2-token"}',
            staff_tokens='{"staff": "staff-token"}',
        )
    )
    create_schema(service.engine)
    return service


def unit_of_work(service: Service) -> UnitOfWork:
    return UnitOfWork(service.engine, "referral")


def trigger(
    nhs_number: str = "9990000018",
    practice_ods: str = "L85001",
    trigger_event_id: UUID | None = None,
) -> HotOnboarding:
    """A hot-onboarding trigger as scoring publishes it: new event_id, new encounter."""
    return HotOnboarding(
        event_type=HotOnboardingEventType.TRIGGERED,
        producer="scoring",
        causation_id=uuid4(),
        nhs_number=nhs_number,
        practice_ods=practice_ods,
        band="very_high",
        score=61,
        model_version="ensemble-risk-1.0.0",
        trigger="admission",
        trigger_event_id=trigger_event_id or uuid4(),
        preferred_language="pa",
    )


def withdrawal(of: HotOnboarding) -> HotOnboarding:
    """Scoring's withdrawal after an A11: a new event naming the same encounter."""
    return of.model_copy(
        update={
            "event_type": HotOnboardingEventType.WITHDRAWN,
            "event_id": uuid4(),
            "correlation_id": uuid4(),
            "causation_id": uuid4(),
        }
    )


def consume(service: Service, *events: HotOnboarding) -> list[str]:
    """Deliver events the way the runtime does (inbox + handler + commit), minus Kafka."""
    (subscription,) = SUBSCRIPTIONS
    return [service.runtime.consumers.apply(subscription, event) for event in events]


def published(service: Service) -> list[ReferralEvent]:
    """Events in the outbox, oldest first (all must be on the referrals topic)."""
    with Session(service.engine) as session:
        rows = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all()
    assert {r.topic for r in rows} <= {REFERRALS.name}
    assert all(r.key == ReferralEvent.model_validate_json(r.payload).nhs_number for r in rows)
    return [ReferralEvent.model_validate_json(r.payload) for r in rows]

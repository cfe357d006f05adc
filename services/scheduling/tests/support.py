"""Fixtures for scheduling tests."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from ensemble_contracts.referral import ReferralEvent
from ensemble_contracts.scheduling import AppointmentEvent
from ensemble_runtime.consumer import Outcome, Subscription
from ensemble_runtime.db import create_schema
from ensemble_runtime.outbox import OutboxMessage
from ensemble_runtime.service import Service
from ensemble_runtime.unit_of_work import UnitOfWork
from scheduling.bootstrap import bootstrap
from scheduling.config import Settings
from scheduling.domain.coach import WEEKDAYS, Coach
from scheduling.entrypoints.kafka import subscriptions
from scheduling.service_layer.handlers import Clock, upsert_coaches, utc_now

STAFF = {"Authorization": "Bearer staff-token"}
EVERY_DAY = {d: [["00:00", "24:00"]] for d in WEEKDAYS}


def settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "kafka_bootstrap_servers": "127.0.0.1:1",  # never contacted: no lifespan in tests
        "staff_tokens": '{"staff": "staff-token"}',
        "patient_timezone": "",  # most tests book around the clock
        **overrides,
    }
    return Settings(**values)


@dataclass
class Harness:
    """A wired service plus the consumer subscription it was built with."""

    service: Service
    subscription: Subscription[Any]

    @property
    def engine(self) -> Engine:
        return self.service.engine

    def consume(self, *events: ReferralEvent) -> list[Outcome]:
        """Run events through the real consumer transaction (inbox + handler + commit)."""
        return [self.service.runtime.consumers.apply(self.subscription, e) for e in events]

    def published(self) -> list[AppointmentEvent]:
        with Session(self.engine) as session:
            rows = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))
            return [AppointmentEvent.model_validate_json(r.payload) for r in rows]

    def client(self, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.service.app)
        return httpx.AsyncClient(transport=transport, base_url="http://scheduling", headers=headers)


def service_on(
    database_url: str,
    coaches: list[dict[str, Any]] | None = None,
    clock: Clock = utc_now,
    **overrides: Any,
) -> Harness:
    config = settings(database_url, **overrides)
    service = bootstrap(config, clock=clock)
    create_schema(service.engine)
    with UnitOfWork(service.engine, "scheduling") as uow:
        upsert_coaches(uow, [Coach.from_json(c) for c in coaches or []])
    (subscription,) = subscriptions(config.slot_policy(), clock)
    return Harness(service, subscription)


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
        "nhs_number": "9990000018",
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


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)

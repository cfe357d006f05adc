"""Fixtures for hospital-feed tests: a real store and the service wired to it."""

from sqlalchemy import Engine
from sqlmodel import Session, select

from ensemble_runtime.outbox import OutboxMessage
from hospital_feed.bootstrap import Service, bootstrap
from hospital_feed.config import Settings

TOKENS = {
    "sender_tokens": '{"RCB": "rcb-token", "RVJ": "rvj-token"}',
    "practice_tokens": '{"L85001": "p1-token", "L85002": "p2-token"}',
    "staff_tokens": '{"staff": "staff-token"}',
}


def service_on(database_url: str) -> Service:
    settings = Settings(database_url=database_url, kafka_bootstrap_servers="127.0.0.1:1", **TOKENS)
    service = bootstrap(settings)
    from ensemble_runtime.db import create_schema

    create_schema(service.engine)
    return service


def published(engine: Engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage)))

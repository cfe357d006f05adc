"""Helpers for hospital-feed tests: a real store and the service wired to it."""

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from ensemble_contracts.hospital import EncounterEvent
from ensemble_runtime.db import create_schema
from ensemble_runtime.outbox import OutboxMessage
from ensemble_runtime.unit_of_work import UnitOfWork
from hospital_feed.adapters.orm import Hl7Message, PracticeAlert
from hospital_feed.bootstrap import Service, bootstrap
from hospital_feed.config import Settings
from hospital_feed.service_layer.handlers import receive_hl7v2

TOKENS = {
    "sender_tokens": '{"RCB": "rcb-token", "RVJ": "rvj-token"}',
    "practice_tokens": '{"L85001": "p1-token", "L85002": "p2-token"}',
    "staff_tokens": '{"staff": "staff-token"}',
}


def service_on(database_url: str) -> Service:
    settings = Settings(database_url=database_url, kafka_bootstrap_servers="127.0.0.1:1", **TOKENS)
    service = bootstrap(settings)
    create_schema(service.engine)
    return service


def receive(engine: Engine, raw: str, sender: str = "RCB") -> str:
    with UnitOfWork(engine, "hospital-feed") as uow:
        return receive_hl7v2(uow, sender, raw)


def published(engine: Engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))))


def published_events(engine: Engine) -> list[EncounterEvent]:
    return [EncounterEvent.model_validate_json(row.payload) for row in published(engine)]


def stored(engine: Engine) -> list[Hl7Message]:
    with Session(engine) as session:
        return list(session.exec(select(Hl7Message).order_by(col(Hl7Message.id))))


def alerts(engine: Engine) -> list[PracticeAlert]:
    with Session(engine) as session:
        return list(session.exec(select(PracticeAlert).order_by(col(PracticeAlert.alert_id))))


def msa(ack: str) -> str:
    """The MSA segment of an ACK."""
    return next(segment for segment in ack.split("\r") if segment.startswith("MSA|"))

"""Shared helpers for the runtime's own tests."""

from uuid import UUID, uuid4

from sqlmodel import Field, SQLModel

from ensemble_contracts.hospital import EncounterEvent, EncounterEventType
from ensemble_runtime.config import ServiceSettings
from ensemble_runtime.unit_of_work import UnitOfWork


class SeenEncounter(SQLModel, table=True):
    """What the test consumer did: one row per handled event, in handling order."""

    __tablename__ = "runtime_test_seen"

    id: int | None = Field(default=None, primary_key=True)
    correlation_id: UUID = Field(index=True)
    nhs_number: str
    sequence: int


FAILING_SEQUENCE = 666  # the handler fails on this one while it is in FAILING
FAILING = {FAILING_SEQUENCE}


def record_encounter(uow: UnitOfWork, event: EncounterEvent) -> None:
    if event.producer != "runtime-tests":
        return  # the topic is shared with other tests and the demo: only count our own
    if int(event.source_message_id) in FAILING:
        raise RuntimeError("handler failed")
    uow.session.add(
        SeenEncounter(
            correlation_id=event.correlation_id,
            nhs_number=event.nhs_number,
            sequence=int(event.source_message_id),
        )
    )


def encounter(nhs_number: str, sequence: int, correlation_id: UUID | None = None) -> EncounterEvent:
    return EncounterEvent(
        event_type=EncounterEventType.ADMITTED,
        producer="runtime-tests",
        correlation_id=correlation_id or uuid4(),
        nhs_number=nhs_number,
        sending_facility="RCB",
        trigger_event="A01",
        source_message_id=str(sequence),
    )


def settings(database_url: str, bootstrap: str = "127.0.0.1:1") -> ServiceSettings:
    return ServiceSettings(
        service_name="runtime-tests",
        database_url=database_url,
        kafka_bootstrap_servers=bootstrap,
        http_port=0,
        consumer_retry_base_seconds=0.01,
        outbox_poll_seconds=0.05,
    )

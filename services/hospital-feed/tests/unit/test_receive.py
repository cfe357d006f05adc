from pathlib import Path

import pytest
from sqlmodel import Session, select

from ensemble_contracts.hospital import EncounterEvent
from ensemble_devkit.synthetic import adt_message
from ensemble_runtime.unit_of_work import UnitOfWork
from hospital_feed.adapters.orm import Hl7Message, PracticeAlert
from hospital_feed.bootstrap import Service
from hospital_feed.service_layer.handlers import project_alert, receive_hl7v2

from ..support import published, service_on


@pytest.fixture
def service(tmp_path: Path) -> Service:
    return service_on(f"sqlite:///{tmp_path / 'feed.db'}")


def receive(service: Service, raw: str, sender: str = "RCB") -> str:
    with UnitOfWork(service.engine, "hospital-feed") as uow:
        return receive_hl7v2(uow, sender, raw)


def statuses(service: Service) -> list[str]:
    with Session(service.engine) as session:
        return [m.status for m in session.exec(select(Hl7Message).order_by(Hl7Message.id))]


def test_an_admission_is_stored_published_and_acknowledged(service: Service) -> None:
    ack = receive(service, adt_message("A01", "9990000018", "L85001", "C1", "V1"))
    assert "MSA|AA|C1|" in ack
    (row,) = published(service.engine)
    event = EncounterEvent.model_validate_json(row.payload)
    assert (row.topic, row.key) == ("hospital.encounters.v1", "9990000018")
    assert (event.event_type, event.practice_ods, event.emergency) == (
        "encounter.admitted",
        "L85001",
        True,
    )
    assert statuses(service) == ["accepted"]


def test_a_resend_gets_the_same_ack_and_publishes_nothing_new(service: Service) -> None:
    message = adt_message("A01", "9990000018", "L85001", "C1", "V1")
    first, second = receive(service, message), receive(service, message)
    assert first.split("\r")[1] == second.split("\r")[1] == "MSA|AA|C1|"
    assert len(published(service.engine)) == 1
    assert statuses(service) == ["accepted"]


def test_a_reused_control_id_with_other_content_is_a_new_message(service: Service) -> None:
    receive(service, adt_message("A01", "9990000018", "L85001", "C1", "V1"))
    receive(service, adt_message("A03", "9990000018", "L85001", "C1", "V1"))
    assert [r.event_type for r in published(service.engine)] == [
        "encounter.admitted",
        "encounter.discharged",
    ]


def test_the_same_event_under_a_new_control_id_is_not_published_twice(service: Service) -> None:
    message = adt_message("A01", "9990000018", "L85001", "C1", "V1")
    receive(service, message)
    receive(service, message.replace("|C1|", "|C2|"))
    assert len(published(service.engine)) == 1
    assert statuses(service) == ["accepted", "duplicate"]


@pytest.mark.parametrize("nhs", ["9999999999", "9434765918", "3333333333"])
def test_unknown_patients_are_held_not_lost(service: Service, nhs: str) -> None:
    ack = receive(service, adt_message("A01", nhs, "L85001", "C1", "V1"))
    assert "MSA|AA|C1|" in ack
    assert published(service.engine) == []
    assert statuses(service) == ["held"]


def test_a_broken_message_is_kept_and_answered_with_a_reason(service: Service) -> None:
    ack = receive(service, "MSH|^~\\&|PAS|RCB|E|E|20261122||ADT^A01|C9|P|2.4\rPV1|1|I")
    assert "MSA|AE|C9|required segment PID is missing" in ack
    assert "ERR|" in ack
    assert statuses(service) == ["rejected"]


def test_a_sender_may_only_send_for_its_own_facility(service: Service) -> None:
    ack = receive(service, adt_message("A01", "9990000018", "L85001", "C1", "V1"), sender="RVJ")
    assert "MSA|AR|C1|" in ack
    assert published(service.engine) == []


def test_alerts_go_to_the_registered_practice_once_and_cancels_retract(service: Service) -> None:
    receive(service, adt_message("A01", "9990000018", "L85001", "C1", "V1"))
    receive(service, adt_message("A11", "9990000018", "L85001", "C2", "V1"))
    events = [EncounterEvent.model_validate_json(r.payload) for r in published(service.engine)]
    for event in [*events, events[0]]:  # the admission twice: still one alert
        with UnitOfWork(service.engine, "hospital-feed") as uow:
            project_alert(uow, event)
            uow.commit()
    with Session(service.engine) as session:
        alerts = list(session.exec(select(PracticeAlert).order_by(PracticeAlert.alert_id)))
    assert [(a.practice_ods, a.kind, a.status) for a in alerts] == [
        ("L85001", "admitted", "retracted"),
        ("L85001", "admission_cancelled", "active"),
    ]

"""The feed's store on SQLite and PostgreSQL: receive, dedupe, project alerts."""

from sqlmodel import Session, select

from ensemble_contracts.hospital import EncounterEvent
from ensemble_devkit.synthetic import adt_message
from ensemble_runtime.unit_of_work import UnitOfWork
from hospital_feed.adapters.orm import PracticeAlert
from hospital_feed.service_layer.handlers import project_alert, receive_hl7v2

from ..support import published, service_on


def test_receive_dedupe_and_alerts(database_url: str) -> None:
    service = service_on(database_url)
    message = adt_message("A01", "9990000018", "L85001", "C1", "V1")
    for _ in range(2):
        with UnitOfWork(service.engine, "hospital-feed") as uow:
            assert "MSA|AA|C1|" in receive_hl7v2(uow, "RCB", message)
    (row,) = published(service.engine)
    event = EncounterEvent.model_validate_json(row.payload)
    for _ in range(2):
        with UnitOfWork(service.engine, "hospital-feed") as uow:
            project_alert(uow, event)
            uow.commit()
    with Session(service.engine) as session:
        alerts = list(session.exec(select(PracticeAlert)))
    assert [(a.practice_ods, a.nhs_number, a.kind) for a in alerts] == [
        ("L85001", "9990000018", "admitted")
    ]
    assert alerts[0].event_at is not None
    service.engine.dispose()

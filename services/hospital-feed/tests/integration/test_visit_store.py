"""Visit state, registrations and merges on SQLite and PostgreSQL (adapters/visits.py)."""

from datetime import UTC, datetime

from ensemble_contracts.hospital import EncounterEventType as T
from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS
from hospital_feed.domain.visits import Registration, Visit, VisitStatus

from ..samples import adt
from ..support import alerts, feed_kit, receive, stored

AT = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def test_visits_registrations_and_merges_round_trip(database_url: str) -> None:
    kit = feed_kit(database_url)
    try:
        visit = Visit(
            "RCB",
            "V" * 50,
            "9990000026",
            VisitStatus.ON_LEAVE,
            patient_class="I",
            location="L" * 200,
            practice_ods="L85001",
            last_event_at=AT,
            started_at=AT,
            status_before=VisitStatus.ADMITTED,
            previous_location="WARD 1",
            last_trigger="A21",
        )
        with kit.unit_of_work() as uow:
            uow.visits.lock("RCB", visit.visit_number)
            uow.visits.save(visit, AT)
            uow.registrations.lock("9990000026")
            uow.registrations.save(Registration("9990000026", "L85001", AT), AT)
            uow.commit()
        with kit.unit_of_work() as uow:
            assert uow.visits.get("RCB", visit.visit_number) == visit
            assert uow.visits.get("RVJ", visit.visit_number) is None
            assert uow.registrations.record_merge("9990000026", "9990000018", AT, AT)
            assert not uow.registrations.record_merge("9990000026", "9990000018", AT, AT)
            assert uow.visits.move_patient("9990000026", "9990000018", AT) == 1
            uow.commit()
        with kit.unit_of_work() as uow:
            (moved,) = uow.visits.of_patient("9990000018")
            assert moved.nhs_number == "9990000018" and moved.status is VisitStatus.ON_LEAVE
            assert uow.registrations.survivor_of("9990000026") == "9990000018"
            assert uow.registrations.survivor_of("9990000018") is None
            # the same merge the other way round undoes the first
            assert uow.registrations.record_merge("9990000018", "9990000026", AT, AT)
            assert uow.registrations.survivor_of("9990000026") is None
            uow.registrations.delete("9990000026")
            assert uow.registrations.get("9990000026") is None
    finally:
        kit.dispose()


def test_out_of_order_visit_and_a_merge_end_in_the_right_state(database_url: str) -> None:
    kit = feed_kit(database_url)
    try:
        receive(kit, adt("A03", nhs="9990000026", control_id="D1", evn6="202611231000"))
        receive(kit, adt("A01", nhs="9990000026", control_id="A1", evn6="202611221000"))
        receive(kit, adt("A08", nhs="9990000026", control_id="U1", evn6="202611220900"))
        merge = adt("A40", nhs="9990000018", control_id="M1", evn6="202611240900")
        receive(kit, merge + "MRG|9990000026^^^NHS^NH\r")
        receive(kit, merge.replace("M1", "M2") + "MRG|9990000026^^^NHS^NH\r")
        published = kit.published(HOSPITAL_ENCOUNTERS)
        assert [e.event_type for e in published] == [T.DISCHARGED, T.ADMITTED, T.MERGED]
        assert published[1].discharged_at == published[0].event_at
        assert [m.status for m in stored(kit)] == ["accepted"] * 5
        with kit.unit_of_work() as uow:
            found = uow.visits.get("RCB", "V00123")
            assert found is not None
            assert (found.status, found.nhs_number) == (VisitStatus.DISCHARGED, "9990000018")
            assert uow.registrations.get("9990000026") is None
            kept = uow.registrations.get("9990000018")
            assert kept is not None and kept.practice_ods == "L85001"
        kit.consume(*published)
        assert [a.kind for a in alerts(kit)] == ["discharged"]
    finally:
        kit.dispose()

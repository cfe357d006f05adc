"""Receiving ADT with visit state (service_layer/visits.py): the events published, the
alerts made, the visit and registration kept; out of order, repeated and late."""

from ensemble_contracts.hospital import EncounterEvent
from ensemble_contracts.hospital import EncounterEventType as T
from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS
from hospital_feed.domain.visits import Visit, VisitStatus
from hospital_feed.service_layer.handlers import project_alert

from ..samples import adt
from ..support import FeedKit, alerts, msa, receive, stored

SURVIVING, RETIRED = "9990000018", "9990000026"


def events(kit: FeedKit) -> list[EncounterEvent]:
    return kit.published(HOSPITAL_ENCOUNTERS)


def visit(kit: FeedKit, number: str = "V00123") -> Visit | None:
    with kit.unit_of_work() as uow:
        return uow.visits.get("RCB", number)


def test_a_discharge_before_its_admission_is_told_once_and_the_admission_is_history(
    kit: FeedKit,
) -> None:
    receive(kit, adt("A03", control_id="D1", evn6="202611231000", discharge_at="202611231000"))
    receive(kit, adt("A01", control_id="A1", evn6="202611221000"))
    receive(kit, adt("A01", control_id="A2", evn6="202611221000"))  # a repeat
    discharged, admitted = events(kit)
    assert (discharged.event_type, admitted.event_type) == (T.DISCHARGED, T.ADMITTED)
    assert admitted.discharged_at == discharged.event_at  # the visit was already over
    assert [m.status for m in stored(kit)] == ["accepted", "accepted", "duplicate"]
    kit.consume(discharged, admitted)
    assert [a.kind for a in alerts(kit)] == ["discharged"]  # no "now in hospital"
    found = visit(kit)
    assert found is not None and found.status is VisitStatus.DISCHARGED


def test_an_update_of_nothing_alerts_no_one_and_an_older_one_changes_nothing(
    kit: FeedKit,
) -> None:
    receive(kit, adt("A01", control_id="A1", evn6="202611221000", patient_class="E"))
    receive(kit, adt("A08", control_id="U1", evn6="202611221100", patient_class="E"))
    assert [e.event_type for e in events(kit)] == [T.ADMITTED]
    receive(kit, adt("A08", control_id="U2", evn6="202611221300", patient_class="I"))
    receive(kit, adt("A08", control_id="U3", evn6="202611221200", patient_class="O"))  # older
    admitted, changed = events(kit)
    assert (changed.event_type, changed.previous_patient_class, changed.patient_class) == (
        T.CLASS_CHANGED,
        "E",
        "I",
    )
    found = visit(kit)
    assert found is not None and found.patient_class == "I"
    kit.consume(admitted, changed)
    assert [a.kind for a in alerts(kit)] == ["admitted", "class_changed"]


def test_a_practice_change_is_told_to_the_new_practice_and_re_routes_what_follows(
    kit: FeedKit,
) -> None:
    receive(kit, adt("A01", control_id="A1", evn6="202611221000", practice="L85001"))
    receive(kit, adt("A31", control_id="R1", evn6="202611221100", practice="L85002"))
    receive(kit, adt("A31", control_id="R2", evn6="202611221100", practice="L85002"))  # again
    # the discharge names no practice: the registration says where it goes
    receive(kit, adt("A03", control_id="D1", evn6="202611231000", practice=None))
    admitted, moved, discharged = events(kit)
    assert (moved.event_type, moved.previous_practice_ods, moved.practice_ods) == (
        T.PRACTICE_CHANGED,
        "L85001",
        "L85002",
    )
    kit.consume(admitted, moved, discharged)
    assert [(a.practice_ods, a.kind) for a in alerts(kit)] == [
        ("L85001", "admitted"),
        ("L85002", "practice_changed"),
        ("L85002", "discharged"),
    ]


def test_leave_and_a_cancelled_transfer_undo_only_the_last_transfer(kit: FeedKit) -> None:
    receive(kit, adt("A01", control_id="A1", evn6="202611221000", location="WARD 1"))
    receive(kit, adt("A02", control_id="T1", evn6="202611221100", location="WARD 2"))
    receive(kit, adt("A02", control_id="T2", evn6="202611221200", location="WARD 3"))
    receive(kit, adt("A12", control_id="X1", evn6="202611221205", location="WARD 3"))
    receive(kit, adt("A21", control_id="L1", evn6="202611221300", location="WARD 2"))
    receive(kit, adt("A22", control_id="L2", evn6="202611221900", location="WARD 2"))
    published = events(kit)
    assert [e.event_type for e in published] == [
        T.ADMITTED,
        T.TRANSFERRED,
        T.TRANSFERRED,
        T.TRANSFER_CANCELLED,
        T.LEAVE_STARTED,
        T.LEAVE_ENDED,
    ]
    assert published[3].location == "WARD 2"  # back where the last transfer moved from
    kit.consume(*published)
    assert [(a.kind, a.status) for a in alerts(kit)] == [
        ("admitted", "active"),
        ("transferred", "active"),
        ("transferred", "retracted"),  # only the transfer the A12 cancelled
        ("transfer_cancelled", "active"),
        ("leave_started", "active"),
        ("leave_ended", "active"),
    ]


def merge(control_id: str, retired: str | None = RETIRED) -> str:
    mrg = f"MRG|{retired}^^^NHS^NH\r" if retired else ""
    return adt("A40", nhs=SURVIVING, control_id=control_id, evn6="202611231200") + mrg


def test_a_merge_moves_the_retired_patient_s_visits_and_later_messages_follow_it(
    kit: FeedKit,
) -> None:
    receive(kit, adt("A01", nhs=RETIRED, control_id="A1", visit="V9", practice="L85002"))
    assert msa(receive(kit, merge("M1"))) == "MSA|AA|M1|"
    assert msa(receive(kit, merge("M2"))) == "MSA|AA|M2|"  # the same merge again
    admitted, merged = events(kit)
    assert (merged.event_type, merged.nhs_number, merged.merged_from_nhs_number) == (
        T.MERGED,
        SURVIVING,
        RETIRED,
    )
    found = visit(kit, "V9")
    assert found is not None and found.nhs_number == SURVIVING
    with kit.unit_of_work() as uow:
        assert uow.registrations.get(RETIRED) is None
        registration = uow.registrations.get(SURVIVING)
        assert registration is not None and registration.practice_ods == "L85002"
    # a late discharge under the retired number is the surviving patient's
    receive(kit, adt("A03", nhs=RETIRED, control_id="D1", visit="V9", evn6="202611231300"))
    late = events(kit)[-1]
    assert (late.event_type, late.nhs_number) == (T.DISCHARGED, SURVIVING)
    kit.consume(admitted, merged, late)
    assert [(a.nhs_number, a.kind) for a in alerts(kit)] == [
        (RETIRED, "admitted"),
        (SURVIVING, "discharged"),
    ]  # the merge itself alerts no one


def test_a_merge_without_a_retired_nhs_number_is_held(kit: FeedKit) -> None:
    assert msa(receive(kit, merge("M1", retired=None))) == "MSA|AA|M1|"
    assert [m.status for m in stored(kit)] == ["held"]
    assert events(kit) == []


def test_a_merge_or_a_type_this_version_does_not_know_alerts_no_one(kit: FeedKit) -> None:
    known = adt("A01", control_id="A1")
    receive(kit, known)
    (admitted,) = events(kit)
    told = alerts(kit)  # the admission's own alert, projected at intake
    unknown = admitted.model_copy(update={"event_type": "encounter.teleported"})
    merged = admitted.model_copy(update={"event_type": T.MERGED, "merged_from_nhs_number": RETIRED})
    with kit.unit_of_work() as uow:
        project_alert(uow, unknown)
        project_alert(uow, merged)
        uow.commit()
    assert alerts(kit) == told

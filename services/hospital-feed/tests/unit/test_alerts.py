from uuid import uuid4

from ensemble_contracts.hospital import EncounterEvent
from ensemble_contracts.hospital import EncounterEventType as T
from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS
from hospital_feed.domain.encounters import ALERT_KIND
from hospital_feed.service import DEFINITION
from hospital_feed.service_layer.handlers import project_alert

from ..samples import adt
from ..support import FeedKit, alerts, receive


def project(kit: FeedKit, *events: EncounterEvent) -> None:
    """The handler itself, past the runtime's inbox (as a replay would reach it)."""
    for event in events:
        with kit.unit_of_work() as uow:
            project_alert(uow, event)
            uow.commit()


def consume(kit: FeedKit, event: EncounterEvent) -> str:
    """The consumer path the runtime takes for a Kafka message (inbox included)."""
    (outcome,) = kit.consume(event)
    return outcome


def encounter(**fields: object) -> EncounterEvent:
    base: dict[str, object] = {
        "event_type": T.ADMITTED,
        "producer": "hospital-feed",
        "nhs_number": "9990000018",
        "practice_ods": "L85001",
        "sending_facility": "RCB",
        "trigger_event": "A01",
        "source_message_id": f"C-{uuid4().hex[:8]}",
        "visit_number": "V1",
        "location": "WARD 7",
    }
    return EncounterEvent.model_validate(base | fields)


def test_subscription_covers_every_encounter_type() -> None:
    (subscription,) = [s for s in DEFINITION.subscriptions if s.topic == HOSPITAL_ENCOUNTERS]
    assert subscription.group == "hospital-feed.alerts"
    # Every type is taken; all but a merge make an alert (ADR 9).
    assert set(subscription.handlers) == set(T.ALL) == set(ALERT_KIND) | {T.MERGED}
    assert set(subscription.handlers.values()) == {project_alert}
    assert DEFINITION.publishes == [HOSPITAL_ENCOUNTERS]


def test_an_encounter_alerts_the_registered_practice_only(kit: FeedKit) -> None:
    receive(kit, adt(practice="L85001", nhs="9990000018", control_id="C1"))
    receive(kit, adt(practice="L85002", nhs="9990000026", control_id="C2"))
    for event in kit.published(HOSPITAL_ENCOUNTERS):
        assert consume(kit, event) == "duplicate"  # intake projected it (alerts_at_intake)
    by_practice = {a.practice_ods: a for a in alerts(kit)}
    assert set(by_practice) == {"L85001", "L85002"}
    assert by_practice["L85001"].nhs_number == "9990000018"
    assert by_practice["L85002"].nhs_number == "9990000026"
    first = by_practice["L85001"]
    assert (first.kind, first.status, first.sending_facility) == ("admitted", "active", "RCB")
    assert (first.visit_number, first.location) == ("V00123", "WARD 7 BAY 2 BED 4 RCB")
    assert first.event_at is not None


def test_no_practice_no_alert(kit: FeedKit) -> None:
    project(kit, encounter(practice_ods=None))
    assert alerts(kit) == []


def test_the_same_event_twice_gives_one_alert(kit: FeedKit) -> None:
    event = encounter()
    assert consume(kit, event) == "processed"
    assert consume(kit, event) == "duplicate"  # the runtime's inbox
    project(kit, event)  # and the handler itself, past the inbox (e.g. a replay)
    assert len(alerts(kit)) == 1


def test_each_kind_of_encounter_becomes_its_alert_kind(kit: FeedKit) -> None:
    kinds = {
        T.ADMITTED: "admitted",
        T.TRANSFERRED: "transferred",
        T.DISCHARGED: "discharged",
        T.AE_ATTENDANCE: "ae_attendance",
    }
    project(kit, *(encounter(event_type=t, visit_number=f"V-{t}") for t in kinds))
    assert [a.kind for a in alerts(kit)] == list(kinds.values())


def test_a_cancelled_admission_retracts_the_alert_and_says_so(kit: FeedKit) -> None:
    receive(kit, adt("A01", control_id="C1", visit="V9"))
    receive(kit, adt("A11", control_id="C2", visit="V9"))
    admitted, cancelled = kit.published(HOSPITAL_ENCOUNTERS)
    for event in (admitted, cancelled):
        consume(kit, event)
    first, second = alerts(kit)
    assert (first.kind, first.status, first.retracted_by_event_id) == (
        "admitted",
        "retracted",
        cancelled.event_id,
    )
    assert (second.kind, second.status) == ("admission_cancelled", "active")


def test_a_cancelled_discharge_retracts_only_the_discharge(kit: FeedKit) -> None:
    admitted = encounter(event_type=T.ADMITTED)
    discharged = encounter(event_type=T.DISCHARGED, trigger_event="A03")
    undone = encounter(event_type=T.DISCHARGE_CANCELLED, trigger_event="A13")
    project(kit, admitted, discharged, undone)
    assert [(a.kind, a.status) for a in alerts(kit)] == [
        ("admitted", "active"),
        ("discharged", "retracted"),
        ("discharge_cancelled", "active"),
    ]


def test_a_cancellation_touches_only_the_same_patient_and_visit_and_tells_whoever_was_told(
    kit: FeedKit,
) -> None:
    other_visit = encounter(visit_number="V2")
    other_patient = encounter(nhs_number="9990000026")
    # The patient's admission went to L85002 (PD1-3 then); the cancellation names L85001.
    earlier_practice = encounter(practice_ods="L85002")
    cancel = encounter(event_type=T.ADMISSION_CANCELLED, trigger_event="A11")
    project(kit, other_visit, other_patient, earlier_practice, cancel)
    states = [(a.practice_ods, a.kind, a.status) for a in alerts(kit)]
    assert states == [
        ("L85001", "admitted", "active"),
        ("L85001", "admitted", "active"),
        ("L85002", "admitted", "retracted"),
        ("L85001", "admission_cancelled", "active"),
        ("L85002", "admission_cancelled", "active"),
    ]
    project(kit, cancel)  # again, past the inbox: nothing more
    assert len(alerts(kit)) == 5


def test_a_cancellation_without_visit_number_retracts_nothing(kit: FeedKit) -> None:
    project(
        kit,
        encounter(visit_number=None),
        encounter(event_type=T.ADMISSION_CANCELLED, visit_number=None),
    )
    assert [(a.kind, a.status) for a in alerts(kit)] == [
        ("admitted", "active"),
        ("admission_cancelled", "active"),
    ]

import pytest
from sqlmodel import Session

from ensemble_contracts.hospital import EncounterEventType as T
from ensemble_runtime.unit_of_work import UnitOfWork
from hospital_feed.adapters.orm import Hl7Message
from hospital_feed.bootstrap import Service
from hospital_feed.domain.hl7_message import Hl7Error
from hospital_feed.service_layer import handlers
from hospital_feed.service_layer.handlers import NotReprocessable, reprocess

from ..samples import RCB_A01, RCB_A03, V23_A04_AE, adt
from ..support import msa, published, published_events, receive, stored


def test_an_admission_is_stored_published_and_acknowledged(service: Service) -> None:
    ack = receive(service.engine, RCB_A01)
    assert msa(ack) == "MSA|AA|RCB0000001|"
    (row,) = published(service.engine)
    assert (row.topic, row.key, row.event_type) == (
        "hospital.encounters.v1",
        "9990000018",
        T.ADMITTED,
    )
    (event,) = published_events(service.engine)
    assert event.producer == "hospital-feed"
    assert (event.practice_ods, event.sending_facility) == ("L85001", "RCB")
    assert (event.trigger_event, event.source_message_id) == ("A01", "RCB0000001")
    assert (event.visit_number, event.patient_class, event.admission_type) == ("V00123", "I", "21")
    assert event.emergency is True  # admission method 21
    assert event.location == "WARD 7 BAY 2 BED 4 RCB"
    assert event.event_at is not None and event.event_at.tzinfo is not None
    (message,) = stored(service.engine)
    assert (message.status, message.ack_code, message.event_id) == (
        "accepted",
        "AA",
        event.event_id,
    )
    assert message.raw == RCB_A01  # the clinical store keeps the message as sent
    assert message.sender == "RCB"


def test_ae_attendance_and_discharge_from_real_feed_shapes(service: Service) -> None:
    receive(service.engine, V23_A04_AE)
    receive(service.engine, RCB_A03)
    attendance, discharge = published_events(service.engine)
    assert (attendance.event_type, attendance.emergency) == (T.AE_ATTENDANCE, True)
    assert attendance.practice_ods == "L85002"
    assert attendance.location == "A&E CUBE 3 RCB"
    assert discharge.event_type == T.DISCHARGED
    assert discharge.discharge_disposition == "01"
    assert discharge.event_at == discharge.discharged_at  # no EVN-6: PV1-45


@pytest.mark.parametrize("trigger", ["A08", "A28", "A31", "A05"])
def test_non_event_triggers_are_accepted_and_stored_but_not_published(
    service: Service, trigger: str
) -> None:
    assert msa(receive(service.engine, adt(trigger))) == "MSA|AA|CTRL-0001|"
    assert published(service.engine) == []
    assert [(m.status, m.trigger) for m in stored(service.engine)] == [("accepted", trigger)]


def test_an_a04_that_is_not_an_ae_attendance_publishes_nothing(service: Service) -> None:
    receive(service.engine, adt("A04", patient_class="O"))
    assert published(service.engine) == []
    assert stored(service.engine)[0].status == "accepted"


def test_a_resend_gets_the_same_ack_and_publishes_nothing_new(service: Service) -> None:
    first, second = receive(service.engine, RCB_A01), receive(service.engine, RCB_A01)
    assert msa(first) == msa(second) == "MSA|AA|RCB0000001|"
    assert len(published(service.engine)) == 1
    assert len(stored(service.engine)) == 1


def test_a_resent_rejected_message_gets_the_same_rejection(service: Service) -> None:
    broken = adt(admit_at="not-a-date")
    first, second = receive(service.engine, broken), receive(service.engine, broken)
    assert msa(first) == msa(second)
    assert msa(first).startswith("MSA|AE|CTRL-0001|")
    assert len(stored(service.engine)) == 1


def test_a_resent_held_message_is_still_aa_and_stored_once(service: Service) -> None:
    held = adt(nhs="9999999999")
    assert msa(receive(service.engine, held)) == msa(receive(service.engine, held))
    assert [m.status for m in stored(service.engine)] == ["held"]


def test_a_reused_control_id_with_other_content_is_a_new_message(service: Service) -> None:
    receive(service.engine, adt("A01", control_id="C1"))
    ack = receive(service.engine, adt("A03", control_id="C1", discharge_at="202611231000"))
    assert msa(ack) == "MSA|AA|C1|"
    assert [e.event_type for e in published_events(service.engine)] == [T.ADMITTED, T.DISCHARGED]
    assert [m.status for m in stored(service.engine)] == ["accepted", "accepted"]


def test_the_same_event_under_a_new_control_id_is_not_published_twice(service: Service) -> None:
    receive(service.engine, adt(control_id="C1"))
    ack = receive(service.engine, adt(control_id="C2"))
    assert msa(ack) == "MSA|AA|C2|"
    assert len(published(service.engine)) == 1
    assert [m.status for m in stored(service.engine)] == ["accepted", "duplicate"]


def test_the_same_bytes_from_another_sender_are_not_a_resend(service: Service) -> None:
    refused = receive(service.engine, RCB_A01, sender="RVJ")
    assert msa(refused).startswith("MSA|AR|RCB0000001|")
    assert msa(receive(service.engine, RCB_A01, sender="RCB")) == "MSA|AA|RCB0000001|"
    assert len(published(service.engine)) == 1


@pytest.mark.parametrize(
    ("pid3", "reason"),
    [
        ("9999999999^^^NHS^NH", "placeholder"),
        ("3333333333^^^NHS^NH", "placeholder"),
        ("9434765918^^^NHS^NH", "modulus-11"),
        ("99900000^^^NHS^NH", "not ten digits"),
        ("RCB123^^^RCB^MR", "no NHS number"),
    ],
)
def test_unknown_patients_are_held_not_lost(service: Service, pid3: str, reason: str) -> None:
    ack = receive(service.engine, adt(pid3=pid3))
    assert msa(ack) == "MSA|AA|CTRL-0001|"
    assert "ERR" not in ack
    assert published(service.engine) == []
    (message,) = stored(service.engine)
    assert message.status == "held"
    assert message.error is not None and reason in message.error
    assert "9999999999" not in message.error and "9434765918" not in message.error


def test_a_broken_message_is_kept_and_answered_ae_with_a_reason(service: Service) -> None:
    raw = "MSH|^~\\&|PAS|RCB|E|E|20261122||ADT^A01|C9|P|2.4\rPV1|1|I"
    ack = receive(service.engine, raw)
    assert msa(ack) == "MSA|AE|C9|required segment PID is missing"
    assert "\rERR|||100^" in ack
    (message,) = stored(service.engine)
    assert (message.status, message.ack_code, message.error_code) == ("rejected", "AE", "100")
    assert (message.control_id, message.trigger, message.raw) == ("C9", "A01", raw)
    assert published(service.engine) == []


def test_an_unreadable_message_is_kept_and_answered_ar_with_empty_msa_2(service: Service) -> None:
    ack = receive(service.engine, "this is not HL7 9990000018")
    assert msa(ack) == "MSA|AR||message does not start with an MSH segment"
    assert "9990000018" not in ack
    (message,) = stored(service.engine)
    assert (message.status, message.ack_code, message.control_id) == ("rejected", "AR", "")


def test_an_unsupported_message_type_is_ar(service: Service) -> None:
    raw = adt().replace("ADT^A01^ADT_A01", "ORU^R01^ORU_R01")
    assert msa(receive(service.engine, raw)).startswith("MSA|AR|CTRL-0001|unsupported")


def test_a_sender_may_only_send_for_its_own_facility(service: Service) -> None:
    ack = receive(service.engine, adt(facility="RCB"), sender="RVJ")
    assert msa(ack) == f"MSA|AR|CTRL-0001|{handlers.SENDER_NOT_ALLOWED}"
    assert "\rERR|||204^" in ack
    assert published(service.engine) == []
    (message,) = stored(service.engine)
    assert (message.status, message.sender, message.sending_facility) == ("rejected", "RVJ", "RCB")


def test_reprocess_after_a_fix_publishes_and_later_resends_get_aa(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_parser(_raw: str) -> None:  # a parser bug, since fixed
        raise Hl7Error("AE", "102", "a date/time field is not an HL7 timestamp")

    monkeypatch.setattr(handlers, "parse_adt", broken_parser)
    assert msa(receive(service.engine, RCB_A01)).startswith("MSA|AE|")
    monkeypatch.undo()
    (message,) = stored(service.engine)
    assert message.id is not None
    with UnitOfWork(service.engine, "hospital-feed") as uow:
        result = reprocess(uow, message.id)
    assert result is not None and (result.status, result.ack_code) == ("accepted", "AA")
    (event,) = published_events(service.engine)
    with Session(service.engine) as session:
        again = session.get(Hl7Message, message.id)
    assert again is not None
    assert (again.status, again.event_id, again.error) == ("accepted", event.event_id, None)
    assert again.reprocessed_at is not None
    assert msa(receive(service.engine, RCB_A01)) == "MSA|AA|RCB0000001|"  # resend: new answer
    assert len(published(service.engine)) == 1


def test_reprocess_a_held_message_that_is_still_unknown_stays_held(service: Service) -> None:
    receive(service.engine, adt(nhs="3333333333"))
    (message,) = stored(service.engine)
    assert message.id is not None
    with UnitOfWork(service.engine, "hospital-feed") as uow:
        result = reprocess(uow, message.id)
    assert result is not None and result.status == "held"
    assert published(service.engine) == []


def test_only_rejected_or_held_messages_are_reprocessed(service: Service) -> None:
    receive(service.engine, RCB_A01)
    (message,) = stored(service.engine)
    assert message.id is not None
    with UnitOfWork(service.engine, "hospital-feed") as uow, pytest.raises(NotReprocessable):
        reprocess(uow, message.id)
    with UnitOfWork(service.engine, "hospital-feed") as uow:
        assert reprocess(uow, 12345) is None
    assert len(published(service.engine)) == 1


def test_nothing_is_stored_or_published_when_the_transaction_fails(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_commit(self: UnitOfWork) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(UnitOfWork, "commit", failing_commit)
    with pytest.raises(RuntimeError):
        receive(service.engine, RCB_A01)  # no ACK at all: the sender will resend
    monkeypatch.undo()
    assert stored(service.engine) == []
    assert published(service.engine) == []

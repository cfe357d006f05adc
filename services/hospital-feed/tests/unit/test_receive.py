from collections.abc import MutableMapping
from typing import Any

import pytest
from structlog.testing import capture_logs

from ensemble_contracts.hospital import EncounterEventType as T
from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS
from ensemble_runtime.unit_of_work import UnitOfWork
from hospital_feed.adapters.orm import MessageStatus
from hospital_feed.domain.hl7_message import Hl7Error, decode_body
from hospital_feed.domain.stored_text import restored
from hospital_feed.service_layer import handlers
from hospital_feed.service_layer.commands import ReceiveHl7, ReprocessMessage
from hospital_feed.service_layer.handlers import NotReprocessable

from ..samples import RCB_A01, RCB_A03, V23_A04_AE, adt
from ..support import FeedKit, alerts, msa, receive, stored


def test_an_admission_is_stored_published_and_acknowledged(kit: FeedKit) -> None:
    ack = receive(kit, RCB_A01)
    assert msa(ack) == "MSA|AA|RCB0000001|"
    assert kit.published_topics() == {"hospital.encounters.v1"}
    (event,) = kit.published(HOSPITAL_ENCOUNTERS)  # each checked to be keyed by its NHS number
    assert (event.key, event.event_type) == ("9990000018", T.ADMITTED)
    assert event.producer == "hospital-feed"
    assert (event.practice_ods, event.sending_facility) == ("L85001", "RCB")
    assert (event.trigger_event, event.source_message_id) == ("A01", "RCB0000001")
    assert (event.visit_number, event.patient_class, event.admission_type) == ("V00123", "I", "21")
    assert event.emergency is True  # admission method 21
    assert event.location == "WARD 7 BAY 2 BED 4 RCB"
    assert event.event_at is not None and event.event_at.tzinfo is not None
    (message,) = stored(kit)
    assert (message.status, message.ack_code, message.event_id) == (
        "accepted",
        "AA",
        event.event_id,
    )
    assert message.raw == RCB_A01  # the clinical store keeps the message as sent
    assert message.sender == "RCB"
    assert message.received_at == kit.clock()  # the unit of work's clock, read back as UTC


def test_ae_attendance_and_discharge_from_real_feed_shapes(kit: FeedKit) -> None:
    receive(kit, V23_A04_AE)
    receive(kit, RCB_A03)
    attendance, discharge = kit.published(HOSPITAL_ENCOUNTERS)
    assert (attendance.event_type, attendance.emergency) == (T.AE_ATTENDANCE, True)
    assert attendance.practice_ods == "L85002"
    assert attendance.location == "A&E CUBE 3 RCB"
    assert discharge.event_type == T.DISCHARGED
    assert discharge.discharge_disposition == "01"
    assert discharge.event_at == discharge.discharged_at  # no EVN-6: PV1-45


@pytest.mark.parametrize("trigger", ["A08", "A28", "A31", "A05"])
def test_non_event_triggers_are_accepted_and_stored_but_not_published(
    kit: FeedKit, trigger: str
) -> None:
    assert msa(receive(kit, adt(trigger))) == "MSA|AA|CTRL-0001|"
    assert kit.published_topics() == set()
    assert [(m.status, m.trigger) for m in stored(kit)] == [("accepted", trigger)]


def test_an_a04_that_is_not_an_ae_attendance_publishes_nothing(kit: FeedKit) -> None:
    receive(kit, adt("A04", patient_class="O"))
    assert kit.published_topics() == set()
    assert stored(kit)[0].status == "accepted"


def test_a_resend_gets_the_same_ack_and_publishes_nothing_new(kit: FeedKit) -> None:
    first, second = receive(kit, RCB_A01), receive(kit, RCB_A01)
    assert msa(first) == msa(second) == "MSA|AA|RCB0000001|"
    assert len(kit.published(HOSPITAL_ENCOUNTERS)) == 1
    assert len(stored(kit)) == 1


def test_a_resent_rejected_message_gets_the_same_rejection(kit: FeedKit) -> None:
    broken = adt(admit_at="not-a-date")
    first, second = receive(kit, broken), receive(kit, broken)
    assert msa(first) == msa(second)
    assert msa(first).startswith("MSA|AE|CTRL-0001|")
    assert len(stored(kit)) == 1


def test_a_resent_held_message_is_still_aa_and_stored_once(kit: FeedKit) -> None:
    held = adt(nhs="9999999999")
    assert msa(receive(kit, held)) == msa(receive(kit, held))
    assert [m.status for m in stored(kit)] == ["held"]


def test_a_reused_control_id_with_other_content_is_a_new_message(kit: FeedKit) -> None:
    receive(kit, adt("A01", control_id="C1"))
    ack = receive(kit, adt("A03", control_id="C1", discharge_at="202611231000"))
    assert msa(ack) == "MSA|AA|C1|"
    assert [e.event_type for e in kit.published(HOSPITAL_ENCOUNTERS)] == [T.ADMITTED, T.DISCHARGED]
    assert [m.status for m in stored(kit)] == ["accepted", "accepted"]


def test_the_same_event_under_a_new_control_id_is_not_published_twice(kit: FeedKit) -> None:
    receive(kit, adt(control_id="C1"))
    ack = receive(kit, adt(control_id="C2"))
    assert msa(ack) == "MSA|AA|C2|"
    assert len(kit.published(HOSPITAL_ENCOUNTERS)) == 1
    assert [m.status for m in stored(kit)] == ["accepted", "duplicate"]


def test_the_same_bytes_from_another_sender_are_not_a_resend(kit: FeedKit) -> None:
    refused = receive(kit, RCB_A01, sender="RVJ")
    assert msa(refused).startswith("MSA|AR|RCB0000001|")
    assert msa(receive(kit, RCB_A01, sender="RCB")) == "MSA|AA|RCB0000001|"
    assert len(kit.published(HOSPITAL_ENCOUNTERS)) == 1


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
def test_unknown_patients_are_held_not_lost(kit: FeedKit, pid3: str, reason: str) -> None:
    ack = receive(kit, adt(pid3=pid3))
    assert msa(ack) == "MSA|AA|CTRL-0001|"
    assert "ERR" not in ack
    assert kit.published_topics() == set()
    (message,) = stored(kit)
    assert message.status == "held"
    assert message.error is not None and reason in message.error
    assert "9999999999" not in message.error and "9434765918" not in message.error


def test_a_broken_message_is_kept_and_answered_ae_with_a_reason(kit: FeedKit) -> None:
    raw = "MSH|^~\\&|PAS|RCB|E|E|20261122||ADT^A01|C9|P|2.4\rPV1|1|I"
    ack = receive(kit, raw)
    assert msa(ack) == "MSA|AE|C9|required segment PID is missing"
    assert "\rERR|||100^" in ack
    (message,) = stored(kit)
    assert (message.status, message.ack_code, message.error_code) == ("rejected", "AE", "100")
    assert (message.control_id, message.trigger, message.raw) == ("C9", "A01", raw)
    assert kit.published_topics() == set()


def test_an_unreadable_message_is_kept_and_answered_ar_with_empty_msa_2(kit: FeedKit) -> None:
    ack = receive(kit, "this is not HL7 9990000018")
    assert msa(ack) == "MSA|AR||message does not start with an MSH segment"
    assert "9990000018" not in ack
    (message,) = stored(kit)
    assert (message.status, message.ack_code, message.control_id) == ("rejected", "AR", "")


def test_an_unsupported_message_type_is_ar(kit: FeedKit) -> None:
    raw = adt().replace("ADT^A01^ADT_A01", "ORU^R01^ORU_R01")
    assert msa(receive(kit, raw)).startswith("MSA|AR|CTRL-0001|unsupported")


def test_a_sender_may_only_send_for_its_own_facility(kit: FeedKit) -> None:
    ack = receive(kit, adt(facility="RCB"), sender="RVJ")
    assert msa(ack) == f"MSA|AR|CTRL-0001|{handlers.SENDER_NOT_ALLOWED}"
    assert "\rERR|||204^" in ack
    assert kit.published_topics() == set()
    (message,) = stored(kit)
    assert (message.status, message.sender, message.sending_facility) == ("rejected", "RVJ", "RCB")


def test_reprocess_after_a_fix_publishes_and_later_resends_get_aa(
    kit: FeedKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_parser(_raw: str) -> None:  # a parser bug, since fixed
        raise Hl7Error("AE", "102", "a date/time field is not an HL7 timestamp")

    monkeypatch.setattr(handlers, "parse_adt", broken_parser)
    assert msa(receive(kit, RCB_A01)).startswith("MSA|AE|")
    monkeypatch.undo()
    (message,) = stored(kit)
    assert message.id is not None
    kit.clock.advance(minutes=5)
    result = kit.execute(ReprocessMessage(message.id))
    assert result is not None and (result.status, result.ack_code) == ("accepted", "AA")
    (event,) = kit.published(HOSPITAL_ENCOUNTERS)
    (again,) = stored(kit)
    assert again.id == message.id
    assert (again.status, again.event_id, again.error) == ("accepted", event.event_id, None)
    assert again.reprocessed_at is not None
    assert again.reprocessed_at == kit.clock() and again.received_at < again.reprocessed_at
    assert msa(receive(kit, RCB_A01)) == "MSA|AA|RCB0000001|"  # resend: new answer
    assert len(kit.published(HOSPITAL_ENCOUNTERS)) == 1


def test_reprocess_a_held_message_that_is_still_unknown_stays_held(kit: FeedKit) -> None:
    receive(kit, adt(nhs="3333333333"))
    (message,) = stored(kit)
    assert message.id is not None
    result = kit.execute(ReprocessMessage(message.id))
    assert result is not None and result.status == "held"
    assert kit.published_topics() == set()


def test_only_rejected_or_held_messages_are_reprocessed(kit: FeedKit) -> None:
    receive(kit, RCB_A01)
    (message,) = stored(kit)
    assert message.id is not None
    with pytest.raises(NotReprocessable):
        kit.execute(ReprocessMessage(message.id))
    assert kit.execute(ReprocessMessage(12345)) is None
    assert len(kit.published(HOSPITAL_ENCOUNTERS)) == 1


def test_nothing_is_stored_or_published_when_the_transaction_fails(
    kit: FeedKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_commit(self: UnitOfWork[Any]) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(UnitOfWork, "commit", failing_commit)
    with pytest.raises(RuntimeError):
        receive(kit, RCB_A01)  # no ACK at all: the sender will resend
    monkeypatch.undo()
    assert stored(kit) == []
    assert kit.published_topics() == set()


# --- issue 7: every input answered and kept -------------------------------------------------


def test_a_nul_byte_is_answered_ae_and_the_message_kept_escaped(kit: FeedKit) -> None:
    raw = adt(location="WARD\x007^^^RCB")
    ack = receive(kit, raw)
    assert msa(ack) == f"MSA|AE|CTRL-0001|{handlers.NUL_NOT_ALLOWED}"
    assert "\rERR|||102^" in ack
    (message,) = stored(kit)
    assert (message.status, message.ack_code, message.raw_escaped) == ("rejected", "AE", True)
    assert "\x00" not in message.raw
    assert restored(message.raw, message.raw_escaped) == raw
    assert kit.published_topics() == set()
    assert msa(receive(kit, raw)) == msa(ack)  # a resend: the same answer, stored once
    assert len(stored(kit)) == 1


def test_a_nul_byte_in_an_unreadable_message_is_ar(kit: FeedKit) -> None:
    assert msa(receive(kit, "\x00\x00garbage")).startswith("MSA|AR||the message contains NUL")
    assert stored(kit)[0].status == "rejected"


def test_nul_bytes_in_the_header_are_kept_out_of_columns_and_the_ack(kit: FeedKit) -> None:
    raw = adt(control_id="C\x001", facility="RCB")
    ack = receive(kit, raw)
    assert "\x00" not in ack and msa(ack).startswith("MSA|AE|C1|")
    (message,) = stored(kit)
    assert message.control_id == "C1"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"evn6": "00010101000000+0100"}, "EVN-6"),  # OverflowError, not ValueError
        ({"admit_at": "99991231235959-1400"}, "PV1-44"),
        ({"evn6": "99991231"}, "EVN-6"),
        ({"evn6": "18000101"}, "EVN-6"),
    ],
)
def test_impossible_dates_are_ae_naming_the_field_and_kept(
    kit: FeedKit, overrides: dict[str, Any], field: str
) -> None:
    ack = receive(kit, adt(**overrides))
    assert msa(ack).startswith(f"MSA|AE|CTRL-0001|{field} is ")
    assert [(m.status, m.ack_code, m.error_code) for m in stored(kit)] == [
        ("rejected", "AE", "102")
    ]
    assert kit.published_topics() == set()


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"visit": "V" * 51}, "PV1-19 is longer than 50 characters"),
        ({"location": "W" * 201}, "PV1-3 is longer than 200 characters"),
        ({"control_id": "C" * 201}, "MSH-10 is longer than 200 characters"),
        ({"patient_class": "I" * 21}, "PV1-2 is longer than 20 characters"),
        ({"disposition": "0" * 21}, "PV1-36 is longer than 20 characters"),
    ],
)
def test_fields_over_the_contracts_limits_are_ae_and_kept(
    kit: FeedKit, overrides: dict[str, Any], reason: str
) -> None:
    ack = receive(kit, adt(**overrides))
    assert f"|{reason} (the hospital.encounters.v1 limit)" in msa(ack)
    assert msa(ack).startswith("MSA|AE|")
    (message,) = stored(kit)
    assert (message.status, message.error) == (
        "rejected",
        f"{reason} (the hospital.encounters.v1 limit)",
    )
    assert kit.published_topics() == set()
    # the next message flows as usual
    assert msa(receive(kit, adt(control_id="NEXT", visit="V2"))) == "MSA|AA|NEXT|"
    assert len(kit.published(HOSPITAL_ENCOUNTERS)) == 1


def test_an_msh_4_over_the_ods_limit_from_a_sender_named_so_is_ae(kit: FeedKit) -> None:
    ack = receive(kit, adt(facility="RCBTRUST00001"), sender="RCBTRUST00001")
    assert "MSH-4 is longer than 12 characters" in msa(ack)


def test_an_oversized_field_in_a_message_that_publishes_nothing_is_accepted(kit: FeedKit) -> None:
    assert msa(receive(kit, adt("A08", visit="V" * 80))) == "MSA|AA|CTRL-0001|"
    assert stored(kit)[0].status == "accepted"


def test_an_event_the_contract_refuses_is_ae_naming_fields_not_values(
    kit: FeedKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = handlers._encounter

    def with_a_bad_nhs_number(message: Any, event_type: str) -> Any:
        event = real(message, event_type)  # checks pass, then the contract says no
        return type(event)(**(event.model_dump() | {"nhs_number": "99900000X8"}))

    monkeypatch.setattr(handlers, "_encounter", with_a_bad_nhs_number)
    ack = receive(kit, adt())
    assert msa(ack) == (
        "MSA|AE|CTRL-0001|the encounter does not fit hospital.encounters.v1: nhs_number"
    )
    assert "99900000X8" not in ack
    assert stored(kit)[0].status == "rejected"


def test_a_bug_while_judging_is_answered_ar_and_the_message_kept(
    kit: FeedKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crashing(_raw: str) -> None:
        raise ZeroDivisionError("9990000018 SMITH")

    monkeypatch.setattr(handlers, "parse_adt", crashing)
    with capture_logs() as logs:
        ack = receive(kit, RCB_A01)
    assert msa(ack) == f"MSA|AR|RCB0000001|{handlers.NOT_PROCESSED}"
    assert "\rERR|||207^" in ack
    assert stored(kit)[0].status == "rejected"
    assert {"event": "hl7 message could not be judged", "error": "ZeroDivisionError"}.items() <= (
        logs[0].items()
    )
    assert "9990000018" not in repr(logs) and "SMITH" not in repr(logs)


def test_the_charset_the_bytes_were_read_with_is_kept(kit: FeedKit) -> None:
    body = adt(location="SALL\xc9^^^RCB").encode("latin-1") + b"\xff\xfe"
    raw, charset = decode_body(body)
    assert msa(kit.execute(ReceiveHl7("RCB", raw, charset))) == "MSA|AA|CTRL-0001|"
    (message,) = stored(kit)
    assert message.raw_charset == "iso-8859-1"
    assert message.raw.encode(message.raw_charset) == body


def test_a_lone_surrogate_is_answered_and_stored_escaped(kit: FeedKit) -> None:
    """Only a caller handing in text (not bytes) can send one: the contract refuses it (AE
    naming the fields, from the pydantic error), and the store keeps it escaped."""
    raw = adt(location="W\ud8007^^^RCB", control_id="S\udc001")
    ack = receive(kit, raw)
    assert msa(ack) == (
        "MSA|AE|S\ufffd1|the encounter does not fit hospital.encounters.v1: "
        "location, source_message_id"
    )
    ack.encode("utf-8")
    (message,) = stored(kit)
    assert message.raw_escaped and restored(message.raw, True) == raw


def test_reprocessing_an_escaped_message_reads_it_as_received(
    kit: FeedKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = adt(location="WARD\x007^^^RCB")
    receive(kit, raw)
    (message,) = stored(kit)
    assert message.id is not None and message.raw_escaped
    seen: list[str] = []

    def judge(
        uow: Any, sender: str, text: str, header: Any, parsed: Any = None
    ) -> handlers.Verdict:
        seen.append(text)
        return handlers.Verdict(MessageStatus.REJECTED, "AE", "still broken", "102")

    monkeypatch.setattr(handlers, "judge", judge)
    result = kit.execute(ReprocessMessage(message.id))
    assert result is not None and result.status == "rejected"
    assert seen == [raw]


# --- issue 7: a cancellation re-opens the business key ---------------------------------------


def test_a_readmission_after_a_cancelled_admission_is_published_and_alerted(
    kit: FeedKit,
) -> None:
    assert msa(receive(kit, adt("A01", control_id="C1"))) == "MSA|AA|C1|"
    assert msa(receive(kit, adt("A11", control_id="C2"))) == "MSA|AA|C2|"
    assert msa(receive(kit, adt("A01", control_id="C3"))) == "MSA|AA|C3|"  # same visit, time
    assert [m.status for m in stored(kit)] == ["accepted", "accepted", "accepted"]
    events = kit.published(HOSPITAL_ENCOUNTERS)
    assert [e.event_type for e in events] == [T.ADMITTED, T.ADMISSION_CANCELLED, T.ADMITTED]
    assert set(kit.consume(*events)) == {"duplicate"}  # intake projected them
    assert [(a.kind, a.status) for a in alerts(kit)] == [
        ("admitted", "retracted"),
        ("admission_cancelled", "active"),
        ("admitted", "active"),  # the practice sees the patient is in again
    ]
    # the re-admission is deduplicated like any event, and may be cancelled again
    assert msa(receive(kit, adt("A01", control_id="C4"))) == "MSA|AA|C4|"
    assert stored(kit)[-1].status == "duplicate"
    receive(kit, adt("A11", control_id="C5"))
    assert stored(kit)[-1].status == "accepted"
    assert len(kit.published(HOSPITAL_ENCOUNTERS)) == 4


def test_a_cancellation_resent_under_a_new_control_id_is_still_a_duplicate(
    kit: FeedKit,
) -> None:
    receive(kit, adt("A01", control_id="C1"))
    receive(kit, adt("A11", control_id="C2"))
    receive(kit, adt("A11", control_id="C3"))
    assert [m.status for m in stored(kit)] == ["accepted", "accepted", "duplicate"]


def test_a_redischarge_after_a_cancelled_discharge_is_published(kit: FeedKit) -> None:
    at = "202611231000"
    receive(kit, adt("A03", control_id="D1", discharge_at=at))
    receive(kit, adt("A13", control_id="D2", discharge_at=at))
    assert msa(receive(kit, adt("A03", control_id="D3", discharge_at=at))) == "MSA|AA|D3|"
    events = kit.published(HOSPITAL_ENCOUNTERS)
    assert [e.event_type for e in events] == [T.DISCHARGED, T.DISCHARGE_CANCELLED, T.DISCHARGED]
    kit.consume(*events)
    assert [(a.kind, a.status) for a in alerts(kit)] == [
        ("discharged", "retracted"),
        ("discharge_cancelled", "active"),
        ("discharged", "active"),
    ]


def test_a_cancellation_reopens_only_its_own_visit_and_patient(kit: FeedKit) -> None:
    receive(kit, adt("A01", control_id="C1", visit="V1"))
    receive(kit, adt("A01", control_id="C2", visit="V2"))
    receive(kit, adt("A01", control_id="C3", visit="V1", nhs="9990000026"))
    receive(kit, adt("A11", control_id="C4", visit="V1"))
    receive(kit, adt("A01", control_id="C5", visit="V2"))  # V2 was not cancelled
    receive(kit, adt("A01", control_id="C6", visit="V1", nhs="9990000026"))  # nor this one
    receive(kit, adt("A03", control_id="C7", visit="V1", discharge_at="202611231000"))
    receive(kit, adt("A13", control_id="C8", visit="V1", discharge_at="202611231000"))
    receive(kit, adt("A01", control_id="C9", visit="V1"))
    statuses = {m.control_id: m.status for m in stored(kit)}
    assert [statuses[c] for c in ("C5", "C6")] == ["duplicate", "duplicate"]
    # V1's admission was cancelled by C4, so C9 is a genuine re-admission
    assert statuses["C9"] == "accepted"


# --- issue 7: no patient data in logs ----------------------------------------------------------


def received_log(logs: list[MutableMapping[str, Any]]) -> MutableMapping[str, Any]:
    (line,) = [entry for entry in logs if entry["event"] == "hl7 message received"]
    return line


def test_the_received_log_carries_a_confirmed_header(kit: FeedKit) -> None:
    with capture_logs() as logs:
        receive(kit, RCB_A01)
    line = received_log(logs)
    assert (line["sending_facility"], line["control_id"], line["trigger"]) == (
        "RCB",
        "RCB0000001",
        "A01",
    )
    assert line["header_confirmed"] is True


PATIENT = "PID|1||9990000018^^^NHS^NH||SMITH^JANE||19410302|F|||1 HIGH ST^^YORK^^YO1 1AA"


@pytest.mark.parametrize(
    "raw",
    [
        f"MSH|^~\\&|PAS|RCB\x1c{PATIENT}|||||||||||||||||",
        f"MSH|^~|PAS|RCB\t{PATIENT}|||2.4",
        f"MSH|^~\\&|PAS|RCB|E|E|2026|\x0b{PATIENT}",
        adt().replace("\r", "\x1c").replace("PID|1||9990000018^^^NHS^NH||TEST^PATIENT", PATIENT),
    ],
)
def test_without_a_confirmed_msh_no_header_field_is_logged(kit: FeedKit, raw: str) -> None:
    with capture_logs() as logs:
        ack = receive(kit, raw, sender="RCB")
    assert ack.startswith("MSH|")
    line = received_log(logs)
    assert line["header_confirmed"] is False
    assert not {"sending_facility", "control_id", "trigger"} & line.keys()
    text = repr(logs)
    for secret in ("SMITH", "JANE", "19410302", "YO1 1AA", "HIGH ST", "9990000018"):
        assert secret not in text
    assert len(stored(kit)) == 1  # kept all the same

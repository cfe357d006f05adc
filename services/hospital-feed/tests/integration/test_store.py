"""The feed's store on SQLite and PostgreSQL: receive, dedupe, hold, reject, alerts."""

import asyncio

from ensemble_contracts.hospital import EncounterEvent
from ensemble_contracts.hospital import EncounterEventType as T
from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS
from hospital_feed.domain.hl7_message import decode_body
from hospital_feed.domain.stored_text import restored
from hospital_feed.service_layer.commands import ReceiveHl7

from ..samples import RCB_A01, adt
from ..support import alerts, feed_kit, msa, receive, stored


def test_receive_dedupe_hold_reject_and_alerts(database_url: str) -> None:
    kit = feed_kit(database_url)
    try:
        assert msa(receive(kit, RCB_A01)) == "MSA|AA|RCB0000001|"
        assert msa(receive(kit, RCB_A01)) == "MSA|AA|RCB0000001|"  # resend
        assert msa(receive(kit, RCB_A01.replace("RCB0000001", "RCB0000002"))).startswith(
            "MSA|AA|"
        )  # same event, new MSH-10
        assert msa(receive(kit, adt(nhs="9999999999", control_id="H1"))) == "MSA|AA|H1|"
        assert msa(receive(kit, adt(admit_at="bad", control_id="R1"))).startswith("MSA|AE|R1|")
        assert msa(receive(kit, adt("A11", visit="V00123", control_id="X1"))) == "MSA|AA|X1|"
        assert [(m.status, m.control_id) for m in stored(kit)] == [
            ("accepted", "RCB0000001"),
            ("duplicate", "RCB0000002"),
            ("held", "H1"),
            ("rejected", "R1"),
            ("accepted", "X1"),
        ]
        admitted, cancelled = kit.published(HOSPITAL_ENCOUNTERS)
        assert (admitted.event_type, cancelled.event_type) == (T.ADMITTED, T.ADMISSION_CANCELLED)
        assert admitted.event_at is not None and admitted.event_at.utcoffset() is not None

        # Intake projected both in the transactions that stored them; the consumer finds
        # them done and changes nothing.
        told = [
            ("L85001", "9990000018", "admitted", "retracted"),
            ("L85001", "9990000018", "admission_cancelled", "active"),
        ]
        assert [(a.practice_ods, a.nhs_number, a.kind, a.status) for a in alerts(kit)] == told
        outcomes = kit.consume(admitted, admitted, cancelled)
        assert outcomes == ["duplicate", "duplicate", "duplicate"]
        assert [(a.practice_ods, a.nhs_number, a.kind, a.status) for a in alerts(kit)] == told
        assert alerts(kit)[0].event_at is not None
    finally:
        kit.dispose()


async def test_a_resend_racing_its_original_gets_the_same_ack(database_url: str) -> None:
    """Both commit attempts trip the resend key; the loser reruns and answers as a resend."""
    kit = feed_kit(database_url)
    try:
        twins = [kit.execute_async(ReceiveHl7("RCB", RCB_A01)) for _ in range(4)]
        acks = await asyncio.gather(*twins)
        assert {msa(ack) for ack in acks} == {"MSA|AA|RCB0000001|"}
        assert [(m.status, m.control_id) for m in stored(kit)] == [("accepted", "RCB0000001")]
        assert len(kit.published(HOSPITAL_ENCOUNTERS)) == 1
    finally:
        kit.dispose()


# --- issue 7, on SQLite and PostgreSQL ----------------------------------------------------


def test_every_input_is_answered_and_kept(database_url: str) -> None:
    """NUL bytes, overflowing and implausible dates, any bytes, oversized fields, a lone
    surrogate and a mebibyte of delimiters: each answered, each stored, and the next
    message still flows."""
    kit = feed_kit(database_url)
    inputs = {
        "NUL": adt(control_id="N1", location="WARD\x007^^^RCB"),
        "NUL-HEADER": adt(control_id="N\x002"),
        "YEAR-0": adt(control_id="Y0", evn6="00010101000000+0100"),
        "YEAR-9999": adt(control_id="Y9", admit_at="99991231235959-1400"),
        "YEAR-2500": adt(control_id="Y25", evn6="25000101"),
        "PV1-19": adt(control_id="V1", visit="V" * 51),
        "PV1-3": adt(control_id="L1", location="W" * 300),
        "MSH-10": adt(control_id="C" * 250),
        "SURROGATE": adt(control_id="S1", location="W\ud800^^^RCB"),
        "DELIMITERS": adt(control_id="D1").split("\r")[0] + "\rZ|" * (1024 * 1024 // 3),
    }
    body = b"MSH|^~\\&|PAS|RCB|E|E|2026||ADT^A01|B1|P|2.4\r\xff\xfe\x00\x81"
    try:
        answers = {name: msa(receive(kit, raw)) for name, raw in inputs.items()}
        answers["BYTES"] = msa(kit.execute(ReceiveHl7("RCB", *decode_body(body))))
        assert {name: answer.split("|")[1] for name, answer in answers.items()} == {
            "NUL": "AE",
            "NUL-HEADER": "AE",
            "YEAR-0": "AE",
            "YEAR-9999": "AE",
            "YEAR-2500": "AE",
            "PV1-19": "AE",
            "PV1-3": "AE",
            "MSH-10": "AE",
            "SURROGATE": "AE",
            "DELIMITERS": "AR",
            "BYTES": "AE",
        }
        assert "EVN-6 is not a valid date/time" in answers["YEAR-0"]
        assert "PV1-44 is not a valid date/time" in answers["YEAR-9999"]
        assert "PV1-19 is longer than 50 characters" in answers["PV1-19"]
        assert answers["DELIMITERS"].startswith("MSA|AR|D1|too many segments")
        rows = stored(kit)
        assert len(rows) == len(answers)
        assert {row.status for row in rows} == {"rejected"}
        by_control = {row.control_id: row for row in rows}
        assert restored(by_control["N1"].raw, by_control["N1"].raw_escaped) == inputs["NUL"]
        assert by_control["N2"].raw_escaped
        assert restored(by_control["S1"].raw, True) == inputs["SURROGATE"]
        assert by_control["C" * 200].error == (
            "MSH-10 is longer than 200 characters (the hospital.encounters.v1 limit)"
        )
        assert by_control["B1"].raw_charset == "iso-8859-1" and by_control["B1"].raw_escaped
        stored_bytes = restored(by_control["B1"].raw, True).encode(by_control["B1"].raw_charset)
        assert stored_bytes == body
        assert kit.published_topics() == set()
        # resends get the same answers; then a normal message flows
        assert msa(receive(kit, inputs["NUL"])) == answers["NUL"]
        assert msa(receive(kit, adt(control_id="OK"))) == "MSA|AA|OK|"
        assert len(kit.published(HOSPITAL_ENCOUNTERS)) == 1
    finally:
        kit.dispose()


def test_a_cancellation_reopens_the_business_key(database_url: str) -> None:
    kit = feed_kit(database_url)
    try:
        for trigger, control_id in (("A01", "C1"), ("A11", "C2"), ("A01", "C3"), ("A01", "C4")):
            receive(kit, adt(trigger, control_id=control_id))
        assert [m.status for m in stored(kit)] == ["accepted", "accepted", "accepted", "duplicate"]
        events = kit.published(HOSPITAL_ENCOUNTERS)
        assert [e.event_type for e in events] == [T.ADMITTED, T.ADMISSION_CANCELLED, T.ADMITTED]
        kit.consume(*events)
        assert [(a.kind, a.status) for a in alerts(kit)] == [
            ("admitted", "retracted"),
            ("admission_cancelled", "active"),
            ("admitted", "active"),
        ]
    finally:
        kit.dispose()


def test_alerts_take_any_practice_code_the_contract_allows(database_url: str) -> None:
    kit = feed_kit(database_url)
    try:
        event = EncounterEvent(
            event_type=T.ADMITTED,
            producer="hospital-feed",
            nhs_number="9990000018",
            practice_ods="P" * 12,
            sending_facility="RCB",
            trigger_event="A01",
            source_message_id="C1",
            visit_number="V\x001",
            location="WARD\x00 7",
        )
        assert kit.consume(event) == ["processed"]
        (alert,) = alerts(kit)
        assert (alert.practice_ods, alert.visit_number, alert.location) == (
            "P" * 12,
            "V1",
            "WARD 7",
        )
    finally:
        kit.dispose()

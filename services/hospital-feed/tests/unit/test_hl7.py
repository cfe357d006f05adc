from datetime import UTC, datetime

import pytest

from ensemble_devkit.synthetic import adt_message
from hospital_feed.domain.ack import build_ack, escape
from hospital_feed.domain.encounters import event_type_for, is_emergency
from hospital_feed.domain.hl7 import Hl7Error, parse_adt, parse_datetime

QUIRKY = (
    "\ufeffMSH|^~\\&|PAS|RCB|ENSEMBLE|ENSEMBLE|202611221015||ADT^A04|CTRL-9|P|2.3\n"
    "PID|1||123456^^^RCB^MR~999 000 0018^^^NHS||TEST^PATIENT\n"
    "ZU1|local|stuff\n"
    "PD1|||~TEST PRACTICE^^l85001~|G1234567\n"
    + "|".join(["PV1", "1", "E", "A\\T\\E^CUBE 3^RCB", *[""] * 15, "V77", *[""] * 16, "11"])
    + "\n"
)


def test_a_real_feeds_quirks_are_understood() -> None:
    message = parse_adt(QUIRKY)
    assert message.header.sending_facility == "RCB"
    assert message.header.trigger == "A04"  # from MSH-9 even without EVN (v2.3)
    assert message.nhs_number == "9990000018"
    assert message.practice_ods == "L85001"
    assert message.location == "A&E CUBE 3 RCB"
    assert message.visit_number == "V77"
    assert message.event_at is None
    assert event_type_for(message) == "encounter.ae_attendance"
    assert is_emergency(message)


@pytest.mark.parametrize(
    ("pid3", "expected"),
    [
        ("9990000026^^^NHS^NH", "9990000026"),
        ("9990000026^^^NHS^HN", "9990000026"),
        ("9990000026^^^NHS", "9990000026"),
        ("RCB123^^^RCB^MR", None),
    ],
)
def test_nhs_number_is_found_however_pid3_carries_it(pid3: str, expected: str | None) -> None:
    raw = adt_message("A01", "9990000018", "L85001", "C1", "V1").replace(
        "9990000018^^^NHS^NH", pid3
    )
    assert parse_adt(raw).nhs_number == expected


def test_datetimes_minute_precision_offsets_and_uk_local_time() -> None:
    assert parse_datetime("202607011015") == datetime(2026, 7, 1, 9, 15, tzinfo=UTC)  # BST
    assert parse_datetime("20261201101500") == datetime(2026, 12, 1, 10, 15, tzinfo=UTC)
    assert parse_datetime("20261201101500+0200") == datetime(2026, 12, 1, 8, 15, tzinfo=UTC)
    with pytest.raises(Hl7Error) as error:
        parse_datetime("yesterday")
    assert error.value.ack_code == "AE"


@pytest.mark.parametrize(
    ("trigger", "patient_class", "expected"),
    [
        ("A01", "I", "encounter.admitted"),
        ("A02", "I", "encounter.transferred"),
        ("A03", "I", "encounter.discharged"),
        ("A04", "E", "encounter.ae_attendance"),
        ("A04", "O", None),
        ("A06", "I", "encounter.admitted"),
        ("A08", "I", None),
        ("A11", "I", "encounter.admission_cancelled"),
        ("A13", "I", "encounter.discharge_cancelled"),
        ("A28", "I", None),
    ],
)
def test_trigger_mapping(trigger: str, patient_class: str, expected: str | None) -> None:
    raw = adt_message(trigger, "9990000018", "L85001", "C1", "V1", patient_class=patient_class)
    assert event_type_for(parse_adt(raw)) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("PID|1||9990000018", "AR"),
        ("MSH|^~\\&|PAS|RCB|E|E|20261122||ORU^R01|C1|P|2.4\rPID|1", "AR"),
        ("MSH|^~\\&|PAS|RCB|E|E|20261122||ADT^A01||P|2.4\rPID|1", "AR"),
        ("MSH|^~\\&|PAS|RCB|E|E|20261122||ADT^A01|C1|P|2.4\rPV1|1|I", "AE"),
    ],
)
def test_unacceptable_messages_say_why(raw: str, code: str) -> None:
    with pytest.raises(Hl7Error) as error:
        parse_adt(raw)
    assert error.value.ack_code == code
    assert error.value.text


def test_ack_echoes_the_control_id_and_explains_errors() -> None:
    header = parse_adt(adt_message("A01", "9990000018", "L85001", "CTRL-1", "V1")).header
    accepted = build_ack(header, "AA").split("\r")
    assert accepted[0].startswith("MSH|^~\\&|ENSEMBLE|ENSEMBLE|PAS|RCB|")
    assert "|ACK^A01^ACK|" in accepted[0]
    assert accepted[1] == "MSA|AA|CTRL-1|"
    rejected = build_ack(header, "AE", "required segment PID is missing", "100").split("\r")
    assert rejected[1] == "MSA|AE|CTRL-1|required segment PID is missing"
    assert rejected[2].startswith("ERR|||100^required segment PID is missing^HL70357|E")
    assert "MSA|AR||" in build_ack(None, "AR", "unreadable", "100")
    assert escape("A|B^C&D~E\\F") == "A\\F\\B\\S\\C\\T\\D\\R\\E\\E\\F"

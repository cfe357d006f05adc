from datetime import UTC, datetime
from typing import Any

import pytest

from hospital_feed.domain.hl7_message import (
    Hl7Error,
    decode_body,
    parse_adt,
    parse_datetime,
    parse_header,
)

from ..samples import RCB_A01, RCB_A03, V23_A04_AE, adt


def test_a_typical_itk_admission() -> None:
    message = parse_adt(RCB_A01)
    header = message.header
    assert (header.sending_application, header.sending_facility) == ("PAS", "RCB")
    assert (header.message_type, header.trigger, header.structure) == ("ADT", "A01", "ADT_A01")
    assert (header.control_id, header.version, header.processing_id) == ("RCB0000001", "2.4", "P")
    assert message.nhs_number == "9990000018"  # second PID-3 repetition, after the MRN
    assert message.practice_ods == "L85001"
    assert (message.patient_class, message.admission_type) == ("I", "21")
    assert message.location == "WARD 7 BAY 2 BED 4 RCB"
    assert message.visit_number == "V00123"
    assert message.occurred_at == datetime(2026, 11, 22, 10, 5, tzinfo=UTC)  # EVN-6
    assert message.recorded_at == datetime(2026, 11, 22, 10, 15, tzinfo=UTC)  # EVN-2
    assert message.admitted_at == datetime(2026, 11, 22, 10, 5, tzinfo=UTC)  # PV1-44


def test_an_old_v23_feed_with_bom_newlines_no_evn_and_escapes() -> None:
    message = parse_adt(V23_A04_AE)
    assert message.header.version == "2.3"
    assert message.header.trigger == "A04"  # from MSH-9 even without EVN
    assert message.header.structure == ""
    assert message.nhs_number == "9990000026"  # ^^^NHS^HN
    assert message.practice_ods == "L85002"  # PD1-3 with empty repetitions around it
    assert message.location == "A&E CUBE 3 RCB"  # A\T\E unescaped
    assert (message.occurred_at, message.recorded_at) == (None, None)
    # Minute precision, no offset: UK local time; 1 July is BST (UTC+1).
    assert message.admitted_at == datetime(2026, 7, 1, 9, 10, tzinfo=UTC)


def test_a_discharge_with_crlf_offsets_and_disposition() -> None:
    message = parse_adt(RCB_A03)
    assert message.nhs_number == "9990000034"  # ^^^NHS with no type code
    assert message.discharge_disposition == "01"
    assert message.discharged_at == datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # +0100
    assert message.admitted_at == datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize("end", ["\r", "\n", "\r\n"])
def test_segment_ends_do_not_matter(end: str) -> None:
    assert parse_adt(adt(end=end)) == parse_adt(adt(end="\r"))


def test_bom_and_mllp_framing_bytes_are_ignored() -> None:
    plain = parse_adt(adt())
    assert parse_adt("\ufeff" + adt()) == plain
    assert parse_adt("\x0b" + adt() + "\x1c\r") == plain


def test_z_segments_anywhere_are_ignored() -> None:
    raw = adt().replace("PD1|", "ZU1|X|Y\rZLW|1\rPD1|").replace("PID|", "ZXX|1\rPID|") + "ZPD|Z\r"
    message = parse_adt(raw)
    assert message.practice_ods == "L85001"
    assert message.visit_number == "V00123"


@pytest.mark.parametrize(
    ("pid3", "expected"),
    [
        ("9990000026^^^NHS^NH", "9990000026"),
        ("9990000026^^^NHS^HN", "9990000026"),
        ("9990000026^^^NHS", "9990000026"),
        ("9990000026^^^NHS&2.16.840.1.113883.2.1.4.1&ISO^NH", "9990000026"),
        ("RCB1^^^RCB^MR~999 000 0026^^^NHS^NH", "9990000026"),
        ("~RCB1^^^RCB^MR~9990000026^^^NHS~", "9990000026"),
        ("RCB123^^^RCB^MR", None),
        ("^^^NHS^NH~RCB1^^^RCB^MR", None),
    ],
)
def test_nhs_number_is_found_however_pid3_carries_it(pid3: str, expected: str | None) -> None:
    assert parse_adt(adt(pid3=pid3)).nhs_number == expected


@pytest.mark.parametrize(
    ("pd1_3", "expected"),
    [
        ("TEST SURGERY^^L85001", "L85001"),
        ("TEST SURGERY^^l85001~~", "L85001"),
        ("~TEST SURGERY^^L85001", "L85001"),
        ("", None),
        ("~~", None),
        ("TEST SURGERY", None),
        ("TEST SURGERY^^^^^^^^^L85003", "L85003"),  # XON-10 organisation identifier
        ("TEST SURGERY^^NOT AN ODS CODE", None),
    ],
)
def test_registered_practice_from_pd1_3(pd1_3: str, expected: str | None) -> None:
    assert parse_adt(adt(pd1_3=pd1_3)).practice_ods == expected


def test_missing_pd1_means_no_practice() -> None:
    raw = "\r".join(line for line in adt().split("\r") if not line.startswith("PD1")) + "\r"
    assert parse_adt(raw).practice_ods is None


def test_names_and_birth_dates_are_never_in_the_parsed_message() -> None:
    text = repr(parse_adt(RCB_A01)) + repr(parse_adt(V23_A04_AE))
    for secret in ("TEST^PATIENT", "PATIENT", "MRS", "19410302", "YO1 1AA", "TEST STREET"):
        assert secret not in text


def test_escape_sequences_in_fields() -> None:
    message = parse_adt(adt(location="A\\T\\E MAJORS\\F\\RESUS^^^RCB", visit="V\\S\\1"))
    assert message.location == "A&E MAJORS|RESUS RCB"
    assert message.visit_number == "V^1"


def test_evn_6_and_pv1_dates() -> None:
    message = parse_adt(adt("A03", evn6="202612011130+0000", discharge_at="202612011100"))
    assert message.occurred_at == datetime(2026, 12, 1, 11, 30, tzinfo=UTC)
    assert message.discharged_at == datetime(2026, 12, 1, 11, 0, tzinfo=UTC)  # GMT in winter


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("202607011015", datetime(2026, 7, 1, 9, 15, tzinfo=UTC)),  # BST
        ("20261201101500", datetime(2026, 12, 1, 10, 15, tzinfo=UTC)),  # GMT
        ("20261201101500.1234", datetime(2026, 12, 1, 10, 15, tzinfo=UTC)),
        ("20261201101500+0200", datetime(2026, 12, 1, 8, 15, tzinfo=UTC)),
        ("202612011015-0500", datetime(2026, 12, 1, 15, 15, tzinfo=UTC)),
        ("20261201", datetime(2026, 12, 1, 0, 0, tzinfo=UTC)),
        ("", None),
    ],
)
def test_datetimes(value: str, expected: datetime | None) -> None:
    assert parse_datetime(value) == expected


@pytest.mark.parametrize("value", ["yesterday", "20261301", "2026-12-01T10:00"])
def test_bad_datetimes_are_content_errors(value: str) -> None:
    with pytest.raises(Hl7Error) as error:
        parse_datetime(value)
    assert (error.value.ack_code, error.value.error_code) == ("AE", "102")


MSH = "MSH|^~\\&|PAS|RCB|ENSEMBLE|ENSEMBLE|20261122||"


@pytest.mark.parametrize(
    ("raw", "ack_code", "error_code"),
    [
        ("", "AR", "100"),
        ("PID|1||9990000018^^^NHS^NH", "AR", "100"),
        ("FHS|^~\\&|PAS|RCB\rBHS|^~\\&\r" + adt() + "BTS|1\rFTS|1\r", "AR", "200"),
        (adt() + adt(control_id="CTRL-0002"), "AR", "100"),
        (MSH + "ORU^R01|C1|P|2.4\rPID|1||9990000018^^^NHS", "AR", "200"),
        (MSH + "ADT^A01||P|2.4\rPID|1||9990000018^^^NHS", "AR", "101"),
        ("MSH|^~\\&|PAS||E|E|20261122||ADT^A01|C1|P|2.4\rPID|1||1^^^NHS", "AR", "101"),
        (MSH + "ADT|C1|P|2.4\rPID|1||9990000018^^^NHS", "AR", "201"),
        (MSH + "ADT^A01|C1|P|3.0\rPID|1||9990000018^^^NHS", "AR", "203"),
        (MSH + "ADT^A01|C1|P|2.4\rPV1|1|I", "AE", "100"),
        (MSH + "ADT^A01|C1|P|2.4\rPID|1||", "AE", "101"),
        (adt(admit_at="2026-11-22"), "AE", "102"),
    ],
)
def test_unacceptable_messages_say_how_to_answer(raw: str, ack_code: str, error_code: str) -> None:
    with pytest.raises(Hl7Error) as error:
        parse_adt(raw)
    assert (error.value.ack_code, error.value.error_code) == (ack_code, error_code)
    assert error.value.text
    assert "9990000018" not in error.value.text


def test_trigger_from_evn_when_msh_9_has_none() -> None:
    raw = adt().replace("ADT^A01^ADT_A01", "ADT")
    assert parse_adt(raw).header.trigger == "A01"


def test_header_of_a_message_with_a_broken_body() -> None:
    header = parse_header(MSH + "ADT^A01|C7|P|2.4\rPV1|1|I")
    assert (header.sending_facility, header.control_id, header.trigger) == ("RCB", "C7", "A01")


# --- issue 7: every input answered, bounded work, confirmed headers --------------------------


@pytest.mark.parametrize(
    ("value", "field", "says"),
    [
        ("00010101000000+0100", "EVN-6", "not a valid date/time"),  # year 0 in UTC: overflow
        ("99991231235959-1400", "EVN-6", "not a valid date/time"),  # past year 9999 in UTC
        ("99991231", "EVN-6", "outside the plausible range 1900-2199"),
        ("18991231", "PV1-44", "outside the plausible range 1900-2199"),
        ("22000101000000+0000", "PV1-45", "outside the plausible range 1900-2199"),
    ],
)
def test_overflowing_and_implausible_dates_are_content_errors_naming_the_field(
    value: str, field: str, says: str
) -> None:
    with pytest.raises(Hl7Error) as error:
        parse_datetime(value, field)
    assert (error.value.ack_code, error.value.error_code) == ("AE", "102")
    assert error.value.text == f"{field} is {says}"


def test_the_plausible_range_is_the_contracts() -> None:
    assert parse_datetime("19000101000000+0000") == datetime(1900, 1, 1, tzinfo=UTC)
    assert parse_datetime("21991231235959+0000") == datetime(2199, 12, 31, 23, 59, 59, tzinfo=UTC)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"evn6": "00010101000000+0001"}, "EVN-6"),
        ({"evn6": "00010101"}, "EVN-6"),
        ({"admit_at": "99991231235959-1400"}, "PV1-44"),
        ({"discharge_at": "30000101"}, "PV1-45"),
    ],
)
def test_a_message_with_an_impossible_date_names_the_field(
    overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(Hl7Error) as error:
        parse_adt(adt(**overrides))
    assert error.value.ack_code == "AE"
    assert error.value.text.startswith(f"{field} is ")


MIB = 1024 * 1024
HEAD = "MSH|^~\\&|PAS|RCB|E|E|202611221016||ADT^A01|C1|P|2.4\rEVN|A01|202611221016\rPID|1||"


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (HEAD + "\rZ|" * (MIB // 3), "too many segments"),
        (HEAD + "\rPID|" * (MIB // 5), "too many segments"),
        (HEAD + "|" * MIB, "too many fields"),
        ("MSH|" + "|" * MIB, "too many fields"),
        (HEAD + "|^~\\&\r" * (MIB // 6), "too many segments"),
        (HEAD + "~" * MIB, "PID-3 has more than 100 repetitions"),
    ],
    ids=["Z-segments", "PID-segments", "PID-pipes", "MSH-pipes", "mixed", "repetitions"],
)
def test_a_mebibyte_of_delimiters_is_refused_ar(raw: str, says: str) -> None:
    with pytest.raises(Hl7Error) as error:
        parse_adt(raw)
    assert error.value.ack_code == "AR"
    assert says in error.value.text


@pytest.mark.parametrize(
    "tail",
    ["^" * MIB, "\\" * MIB, "\\X\\" * (MIB // 3), "9990000018^^^NHS^NH\rPV1|1|I|" + "~^" * 49],
)
def test_a_mebibyte_within_the_bounds_still_parses(tail: str) -> None:
    """Big fields that stay within the bounds parse (each field is split once)."""
    message = parse_adt(HEAD + tail)
    assert message.header.control_id == "C1"


def test_unescaping_by_split_matches_the_escape_rules() -> None:
    message = parse_adt(
        adt(location="A\\T\\E\\.br\\X\\X41\\\\H\\B\\N\\^^^RCB", visit="V\\E\\1\\Zfoo\\2\\")
    )
    assert message.location == "A&E\nXAB RCB"
    assert message.visit_number == "V\\12\\"  # unknown \Zfoo\ dropped; an unpaired \ stays


def header_of(raw: str) -> tuple[bool, str, str, str]:
    header = parse_header(raw)
    return header.confirmed, header.sending_facility, header.control_id, header.trigger


def test_a_well_formed_msh_is_confirmed() -> None:
    for raw in (RCB_A01, V23_A04_AE, RCB_A03, adt(end="\n")):
        assert parse_header(raw).confirmed


PATIENT = "PID|1||9990000018^^^NHS^NH||SMITH^JANE||19410302|F|||1 HIGH ST^^YORK^^YO1 1AA"


@pytest.mark.parametrize(
    "raw",
    [
        # segment ends lost inside the MSH: what sits at MSH-4/9/10 comes from PID
        f"MSH|^~\\&|PAS|RCB\x1c{PATIENT}|||||||||||||||||",
        f"MSH|^~\\&|PAS|RCB\t{PATIENT}|||2.4",
        f"MSH|^~\\&|PAS|RCB|E|E|2026||ADT^A01|C1\x0b{PATIENT}",
        # no segment ends at all: the MSH line runs on through every segment
        adt().replace("\r", "")[:60] + PATIENT + "|" * 40,
        # encoding characters that do not parse
        "MSH|^^\\&|PAS|RCB|E|E|2026||ADT^A01|C1|P|2.4\r" + PATIENT,
        "MSH|^~|PAS|RCB|E|E|2026||ADT^A01|C1|P|2.4\r" + PATIENT,
        "MSH|^~\\a|PAS|RCB|E|E|2026||ADT^A01|C1|P|2.4\r" + PATIENT,
        # no version id in MSH-12
        "MSH|^~\\&|PAS|RCB|E|E|2026||ADT^A01|C1|P\r" + PATIENT,
    ],
)
def test_a_header_that_may_hold_other_segments_is_not_confirmed(raw: str) -> None:
    assert not parse_header(raw).confirmed


def test_decode_body_says_which_charset_and_loses_no_byte() -> None:
    assert decode_body("SALLÉ".encode()) == ("SALLÉ", "utf-8")
    every_byte = bytes(range(256))
    text, charset = decode_body(every_byte)
    assert charset == "iso-8859-1"
    assert text.encode(charset) == every_byte

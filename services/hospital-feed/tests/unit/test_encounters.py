from datetime import UTC, datetime

import pytest

from ensemble_contracts.hospital import EncounterEventType as T
from hospital_feed.domain.encounters import (
    business_key,
    event_time,
    event_type_for,
    is_emergency,
)
from hospital_feed.domain.hl7_message import parse_adt

from ..samples import adt


@pytest.mark.parametrize(
    ("trigger", "patient_class", "expected"),
    [
        ("A01", "I", T.ADMITTED),
        ("A02", "I", T.TRANSFERRED),
        ("A03", "I", T.DISCHARGED),
        ("A04", "E", T.AE_ATTENDANCE),
        ("A04", "O", None),
        ("A05", "I", None),
        ("A06", "I", T.ADMITTED),
        ("A08", "I", None),
        ("A08", "E", None),  # an update is never a new clinical event
        ("A11", "I", T.ADMISSION_CANCELLED),
        ("A12", "I", None),
        ("A13", "I", T.DISCHARGE_CANCELLED),
        ("A28", "I", None),
        ("A31", "I", None),
        ("A40", "I", None),
    ],
)
def test_trigger_mapping(trigger: str, patient_class: str, expected: str | None) -> None:
    assert event_type_for(parse_adt(adt(trigger, patient_class=patient_class))) == expected


@pytest.mark.parametrize(
    ("patient_class", "admission_type", "expected"),
    [
        ("E", "", True),
        ("I", "E", True),
        ("I", "21", True),
        ("I", "28", True),
        ("I", "2A", True),
        ("I", "2D", True),
        ("I", "11", False),  # waiting list (elective)
        ("I", "13", False),  # planned
        ("I", "31", False),  # maternity
        ("I", "81", False),  # transfer from another provider
        ("O", "", False),
        ("I", "R", False),  # HL7 0007 routine
    ],
)
def test_emergency(patient_class: str, admission_type: str, expected: bool) -> None:
    message = parse_adt(adt(patient_class=patient_class, admission_type=admission_type))
    assert is_emergency(message) is expected


def test_event_time_prefers_evn_6_then_pv1_then_evn_2() -> None:
    at = datetime(2026, 11, 22, 10, 15, tzinfo=UTC)
    assert event_time(parse_adt(adt("A01", evn6="202611221015"))) == at
    admitted = parse_adt(adt("A01", evn6="", admit_at="202611220900"))
    assert event_time(admitted) == datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    discharged = parse_adt(adt("A03", evn6="", discharge_at="202611231200"))
    assert event_time(discharged) == datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    transferred = parse_adt(adt("A02", evn6=""))  # PV1-44 is the admission, not the transfer
    assert event_time(transferred) == datetime(2026, 11, 22, 10, 16, tzinfo=UTC)  # EVN-2


def test_business_key_ignores_control_id_but_not_the_event() -> None:
    key = business_key(parse_adt(adt(control_id="C1")))
    assert key == business_key(parse_adt(adt(control_id="C2")))
    assert key != business_key(parse_adt(adt("A06", control_id="C1")))
    assert key != business_key(parse_adt(adt(visit="V2")))
    assert key != business_key(parse_adt(adt(evn6="202611221020")))
    assert key != business_key(parse_adt(adt(nhs="9990000026")))
    assert key != business_key(parse_adt(adt(facility="RVJ")))


def test_no_business_key_without_visit_or_time() -> None:
    bare = adt("A02", visit="", evn6="", admit_at="", with_evn=False)
    assert business_key(parse_adt(bare)) is None

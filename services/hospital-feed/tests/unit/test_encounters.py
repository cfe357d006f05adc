from datetime import UTC, datetime
from typing import Any

import pytest

from ensemble_contracts.hospital import EncounterEventType as T
from hospital_feed.domain.encounters import (
    REOPENS,
    RETRACTS,
    business_key,
    event_time,
    event_type_for,
    is_emergency,
    oversized_field,
    visit_key,
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


@pytest.mark.parametrize(
    ("overrides", "field", "limit"),
    [
        ({"visit": "V" * 51}, "PV1-19", 50),
        ({"location": "W" * 201}, "PV1-3", 200),
        ({"location": "W" * 100 + "^" + "B" * 100}, "PV1-3", 200),  # rendered "W... B..."
        ({"control_id": "C" * 201}, "MSH-10", 200),
        ({"facility": "R" * 13}, "MSH-4", 12),
        ({"patient_class": "I" * 21}, "PV1-2", 20),
        ({"admission_type": "2" * 21}, "PV1-4", 20),
        ({"disposition": "0" * 21}, "PV1-36", 20),
        ({"trigger": "A01" + "X" * 18}, "MSH-9", 20),
    ],
)
def test_fields_bound_for_the_topic_are_checked_against_the_contract(
    overrides: dict[str, Any], field: str, limit: int
) -> None:
    assert oversized_field(parse_adt(adt(**overrides))) == (field, limit)


def test_fields_at_their_limits_fit() -> None:
    message = parse_adt(
        adt(visit="V" * 50, location="W" * 200, control_id="C" * 200, facility="R" * 12)
    )
    assert oversized_field(message) is None


def test_the_visit_key_is_the_visit_not_the_event() -> None:
    admitted = parse_adt(adt("A01", control_id="C1"))
    cancelled = parse_adt(adt("A11", control_id="C2", evn6="202611221200"))
    assert visit_key(admitted) == visit_key(cancelled) == "RCB|V00123|9990000018"
    assert visit_key(parse_adt(adt(visit=""))) is None


def test_every_cancellation_reopens_what_its_alert_retracts_and_back() -> None:
    kinds = {  # the alerts each trigger can make (an A01 or A03 may tell a death)
        "A01": {"admitted", "died"},
        "A04": {"ae_attendance"},
        "A06": {"admitted"},
        "A03": {"discharged", "died"},
    }
    cancels = {"A11": T.ADMISSION_CANCELLED, "A13": T.DISCHARGE_CANCELLED}
    for cancel, event_type in cancels.items():
        assert set().union(*(kinds[t] for t in REOPENS[cancel])) == set(RETRACTS[event_type])
        for trigger in REOPENS[cancel]:
            assert REOPENS[trigger] == (cancel,)

"""What a raw message keeps past its retention: the header its ACK is rebuilt from."""

import pytest

from hospital_feed.adapters.message_retention import header_only, is_hl7v2
from hospital_feed.domain.hl7_message import parse_header

from ..samples import RCB_A01, RCB_A03, V23_A04_AE, adt


@pytest.mark.parametrize("raw", [RCB_A01, RCB_A03, V23_A04_AE, adt("A08", end="\n")])
def test_the_header_is_kept_and_the_patient_goes(raw: str) -> None:
    header = header_only(raw)
    assert parse_header(header) == parse_header(raw)  # the same ACK can be rebuilt
    assert [segment[:3] for segment in header.split("\r")] in (["MSH", "EVN"], ["MSH"])
    for patient_data in ("PID", "PV1", "PD1", "ZU1", "9990000018", "TEST^PATIENT"):
        assert patient_data not in header
    assert header_only(header) == header  # a text already cut is left as it is


def test_only_hl7v2_texts_are_cut() -> None:
    assert is_hl7v2(RCB_A01) and is_hl7v2(V23_A04_AE)  # a BOM before the MSH is fine
    assert not is_hl7v2('{"resourceType": "Encounter"}')  # a stored FHIR resource
    assert not is_hl7v2("PID|1||9990000018^^^NHS^NH\r")  # a frame with no MSH
    assert header_only("PID|1||9990000018^^^NHS^NH\r") == ""

"""Synthetic, obviously fake test data: NHS numbers from the 999 test range, HL7 v2 ADT."""

from collections.abc import Iterator
from datetime import UTC, datetime

from ensemble_contracts.nhs_number import check_digit


def test_nhs_numbers(start: int = 0) -> Iterator[str]:
    """Valid NHS numbers in 999 000 0000 to 999 999 9999, reserved for testing, never issued."""
    serial = start
    while serial < 1_000_000:
        first_nine = f"999{serial:06d}"
        serial += 1
        check = check_digit(first_nine)
        if check is not None:
            yield f"{first_nine}{check}"


def hl7_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S+0000")


def adt_message(
    trigger: str,
    nhs_number: str,
    practice_ods: str | None,
    control_id: str,
    visit_number: str,
    facility: str = "RCB",
    patient_class: str = "I",
    admission_type: str = "E",
    event_at: datetime | None = None,
    location: str = "WARD1^BED1^RCB",
) -> str:
    """An ITK-style HL7 v2.4 ADT message with `\\r` segment ends."""
    moment = hl7_timestamp(event_at or datetime.now(UTC))
    structure = {"A04": "ADT_A01", "A08": "ADT_A01", "A11": "ADT_A09", "A13": "ADT_A01"}
    practice = f"TEST PRACTICE^^{practice_ods}" if practice_ods else ""
    segments = [
        f"MSH|^~\\&|PAS|{facility}|ENSEMBLE|ENSEMBLE|{moment}||ADT^{trigger}^"
        f"{structure.get(trigger, f'ADT_{trigger}')}|{control_id}|P|2.4|||AL|NE",
        f"EVN|{trigger}|{moment}|||USER01|{moment}",
        f"PID|1||{nhs_number}^^^NHS^NH||TEST^PATIENT^^^MR||19450101|F|||1 TEST ST^^TESTTOWN",
        f"PD1|||{practice}|G1234567^TEST^DOCTOR",
        f"PV1|1|{patient_class}|{location}|{admission_type}|||||||||||||||{visit_number}"
        f"|||||||||||||||||||||||||{moment}",
    ]
    return "\r".join(segments) + "\r"

"""Every field that crosses a topic has a maximum, and clinical times a plausible range."""

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from ensemble_contracts import limits
from ensemble_contracts.hospital import EncounterEvent, EncounterEventType


def encounter(**fields: object) -> EncounterEvent:
    values: dict[str, object] = {
        "event_type": EncounterEventType.ADMITTED,
        "producer": "tests",
        "nhs_number": "9990000018",
        "sending_facility": "RCB",
        "trigger_event": "A01",
        "source_message_id": "MSG1",
        **fields,
    }
    return EncounterEvent.model_validate(values)


@pytest.mark.parametrize(
    ("field", "size"),
    [
        ("visit_number", limits.VISIT_NUMBER),
        ("location", limits.LOCATION),
        ("source_message_id", limits.CONTROL_ID),
        ("practice_ods", limits.ODS_CODE),
        ("patient_class", limits.CODE),
    ],
)
def test_a_field_at_its_maximum_is_kept_and_one_longer_is_refused(field: str, size: int) -> None:
    assert getattr(encounter(**{field: "X" * size}), field) == "X" * size
    with pytest.raises(ValidationError):
        encounter(**{field: "X" * (size + 1)})


@pytest.mark.parametrize("year", [1, 1899, 2200, 9999])
def test_implausible_clinical_dates_are_refused(year: int) -> None:
    with pytest.raises(ValidationError, match="plausible range"):
        encounter(event_at=datetime(year, 6, 1, tzinfo=UTC))


def test_plausible_dates_pass_unchanged() -> None:
    moment = datetime(2026, 11, 23, 10, 15, tzinfo=UTC)
    assert encounter(event_at=moment, admitted_at=moment).event_at == moment


def test_a_time_without_an_offset_is_read_as_utc() -> None:
    assert encounter(event_at="2026-11-23T08:00:00").event_at == datetime(
        2026, 11, 23, 8, 0, tzinfo=UTC
    )

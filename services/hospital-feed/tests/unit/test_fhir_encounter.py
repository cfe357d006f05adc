"""The pure FHIR Encounter -> AdtMessage mapper, over many Encounter shapes."""

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from ensemble_contracts.hospital import EncounterEventType as T
from hospital_feed.domain.encounters import event_time, event_type_for, has_died, is_emergency
from hospital_feed.domain.fhir_encounter import read_encounter
from hospital_feed.domain.fhir_resource import FhirError
from hospital_feed.domain.hl7_message import AdtMessage
from hospital_feed.domain.nhs_number import NhsNumberStatus, classify

from ..fhir_samples import UK_CORE, encounter, text


def mapped(
    resource: dict[str, Any], sender: str = "RCB", control_id: str | None = None
) -> AdtMessage:
    parsed = read_encounter(text(resource), sender, control_id).parsed
    assert isinstance(parsed, AdtMessage), parsed
    return parsed


def refused(raw: str) -> FhirError:
    parsed = read_encounter(raw, "RCB").parsed
    assert isinstance(parsed, FhirError)
    return parsed


def test_an_inpatient_in_progress_is_an_admission_with_everything_read() -> None:
    message = mapped(encounter("in-progress", "IMP"))
    assert message.header.trigger == "A01"
    assert message.header.sending_facility == "RCB"
    assert message.header.control_id == "Encounter/enc-1"
    assert (message.nhs_number, message.practice_ods) == ("9990000018", "L85001")
    assert (message.patient_class, message.visit_number) == ("I", "V1001")
    assert message.admitted_at == datetime(2026, 11, 22, 10, 15, tzinfo=UTC)
    assert event_type_for(message) == T.ADMITTED
    assert event_time(message) == message.admitted_at


@pytest.mark.parametrize("status", ["arrived", "triaged", "in-progress"])
def test_an_emergency_arrival_is_an_ae_attendance(status: str) -> None:
    message = mapped(encounter(status, "EMER"))
    assert (message.header.trigger, message.patient_class) == ("A04", "E")
    assert event_type_for(message) == T.AE_ATTENDANCE
    assert is_emergency(message)


def test_an_outpatient_arrival_is_stored_without_an_event() -> None:
    message = mapped(encounter("arrived", "AMB"))
    assert (message.header.trigger, message.patient_class) == ("A04", "O")
    assert event_type_for(message) is None


def test_finished_is_a_discharge_at_the_period_end() -> None:
    end = "2026-11-25T16:00:00+00:00"
    message = mapped(encounter("finished", "IMP", end=end))
    assert message.header.trigger == "A03"
    assert event_type_for(message) == T.DISCHARGED
    assert message.discharged_at == event_time(message) == datetime(2026, 11, 25, 16, tzinfo=UTC)
    assert not has_died(message)


def test_a_uk_core_discharge_method_of_died_tells_a_death() -> None:
    method = {
        "url": UK_CORE + "Extension-UKCore-DischargeMethod",
        "valueCodeableConcept": {"coding": [{"code": "4"}]},
    }
    resource = encounter(
        "finished", end="2026-11-25T16:00:00Z", hospitalization={"extension": [method]}
    )
    message = mapped(resource)
    assert message.discharge_disposition == "4"
    assert has_died(message)


def test_a_contained_patients_death_is_read() -> None:
    resource = encounter("finished", end="2026-11-25T16:00:00Z")
    resource["contained"][0]["deceasedDateTime"] = "2026-11-25T15:30:00+00:00"
    message = mapped(resource)
    assert (message.death_indicator, message.died_at) == (
        "Y",
        datetime(2026, 11, 25, 15, 30, tzinfo=UTC),
    )
    assert has_died(message)


def test_r4_hospitalization_discharge_disposition_is_read() -> None:
    disposition = {"dischargeDisposition": {"coding": [{"system": "x", "code": "home"}]}}
    message = mapped(encounter("finished", end="2026-11-25T16:00:00Z", hospitalization=disposition))
    assert message.discharge_disposition == "home"


@pytest.mark.parametrize("status", ["cancelled", "entered-in-error"])
def test_cancelled_and_entered_in_error_cancel_the_admission(status: str) -> None:
    message = mapped(encounter(status))
    assert message.header.trigger == "A11"
    assert event_type_for(message) == T.ADMISSION_CANCELLED
    assert event_time(message) == message.admitted_at  # what the cancelled admission had


def test_planned_is_a_pre_admission_and_unknown_an_update() -> None:
    assert mapped(encounter("planned")).header.trigger == "A05"
    assert mapped(encounter("unknown")).header.trigger == "A08"
    assert event_type_for(mapped(encounter("planned"))) is None


def test_onleave_starts_leave_when_its_status_history_says() -> None:
    history = [{"status": "onleave", "period": {"start": "2026-11-23T09:00:00Z"}}]
    message = mapped(encounter("onleave", statusHistory=history))
    assert message.header.trigger == "A21"
    assert message.occurred_at == datetime(2026, 11, 23, 9, tzinfo=UTC)


def test_a_logical_subject_reference_gives_the_number_but_no_practice() -> None:
    message = mapped(encounter(logical_subject=True))
    assert (message.nhs_number, message.practice_ods) == ("9990000018", None)


def test_the_practice_may_be_a_contained_organization() -> None:
    resource = encounter()
    resource["contained"][0]["generalPractitioner"] = [{"reference": "#gp"}]
    resource["contained"].append(
        {
            "resourceType": "Organization",
            "id": "gp",
            "identifier": [
                {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "l85002"}
            ],
        }
    )
    assert mapped(resource).practice_ods == "L85002"


def test_an_nhs_number_of_another_system_is_not_read() -> None:
    resource = encounter()
    resource["contained"][0]["identifier"][0]["system"] = "https://example.org/mrn"
    message = mapped(resource)
    assert message.nhs_number is None
    assert classify(message.nhs_number) is NhsNumberStatus.MISSING


def test_nhs_numbers_written_with_spaces_are_normalised() -> None:
    assert mapped(encounter(nhs="999 000 0018")).nhs_number == "9990000018"
    assert (
        classify(mapped(encounter(nhs="9990000019")).nhs_number) is NhsNumberStatus.BAD_CHECK_DIGIT
    )


def test_control_id_from_full_url_then_version_then_content() -> None:
    assert mapped(encounter(), control_id="urn:uuid:1").header.control_id == "urn:uuid:1"
    versioned = mapped(encounter(version="3")).header.control_id
    assert versioned == "Encounter/enc-1/_history/3"
    anonymous = encounter(encounter_id=None)
    first, again = mapped(anonymous).header.control_id, mapped(anonymous).header.control_id
    assert first == again and first.startswith("sha256:")


def test_without_an_identifier_the_encounter_id_is_the_visit() -> None:
    assert mapped(encounter(visit=None)).visit_number == "enc-1"


def test_the_sender_is_the_facility_without_a_service_provider() -> None:
    assert mapped(encounter(trust=None), sender="rvj").header.sending_facility == "RVJ"
    assert mapped(encounter(trust="RVJ"), sender="RCB").header.sending_facility == "RVJ"


def test_a_date_only_start_is_midnight_uk_time() -> None:
    message = mapped(encounter(start="2026-07-01"))
    assert message.admitted_at == datetime(2026, 6, 30, 23, tzinfo=UTC)  # BST


def test_emergency_from_priority_or_the_uk_core_admission_method() -> None:
    priority = {"coding": [{"code": "EM"}]}
    assert mapped(encounter("in-progress", "IMP", priority=priority)).admission_type == "E"
    method = {
        "url": UK_CORE + "Extension-UKCore-AdmissionMethod",
        "valueCodeableConcept": {"coding": [{"code": "21"}]},
    }
    message = mapped(encounter("in-progress", "IMP", extension=[method]))
    assert message.admission_type == "21" and is_emergency(message)
    assert not is_emergency(mapped(encounter("in-progress", "IMP")))


def test_the_active_location_is_read() -> None:
    places = [
        {"location": {"display": "Ward 1"}, "status": "completed"},
        {"location": {"display": "Ward  7"}, "status": "active"},
    ]
    assert mapped(encounter(location=places)).location == "Ward 7"


# --- refusals: where, what, and never a value --------------------------------------------


def test_not_json_and_not_an_object_are_structure_errors() -> None:
    for raw in ("{", "[1]", '{"a": NaN}'):
        error = refused(raw)
        assert (error.http_status, error.issue_code) == (400, "structure")


def test_another_resource_type_is_not_supported() -> None:
    error = refused(text({**encounter(), "resourceType": "Patient"}))
    assert (error.http_status, error.issue_code, error.expression) == (
        400,
        "not-supported",
        "Encounter.resourceType",
    )


def test_a_missing_status_is_required_and_an_unknown_one_invalid() -> None:
    resource = encounter()
    del resource["status"]
    error = refused(text(resource))
    assert (error.http_status, error.issue_code, error.expression) == (
        400,
        "required",
        "Encounter.status",
    )
    error = refused(text(encounter("bogus")))
    assert (error.issue_code, error.expression) == ("code-invalid", "Encounter.status")


def test_r4_shapes_the_models_refuse_name_the_element() -> None:
    wrong_class = {**encounter(), "class": [{"code": "IMP"}]}  # R5 made class a list
    assert refused(text(wrong_class)).expression == "Encounter.class"
    unknown = {**encounter(), "admission": {}}  # R5's name for hospitalization
    assert refused(text(unknown)).expression == "Encounter.admission"
    nested = encounter()
    nested["contained"][0]["bogus"] = 1
    assert refused(text(nested)).expression == "Encounter.contained[0].bogus"


def test_an_unsupported_class_is_unprocessable() -> None:
    error = refused(text(encounter(klass="XYZ")))
    assert (error.http_status, error.expression) == (422, "Encounter.class")


def test_implausible_times_and_overlong_fields_are_unprocessable() -> None:
    error = refused(text(encounter(start="1800-01-01T00:00:00Z")))
    assert (error.http_status, error.expression) == (422, "Encounter.period.start")
    error = refused(text(encounter(visit="V" * 51)))
    assert (error.http_status, error.issue_code, error.expression) == (
        422,
        "too-long",
        "Encounter.identifier",
    )


def test_no_diagnostics_carry_the_nhs_number() -> None:
    bad_number = encounter()
    bad_number["contained"][0]["identifier"][0]["value"] = 9990000018  # a number, not a string
    bad_date = encounter(start="9990000018")
    for resource in (bad_number, bad_date):
        error = refused(json.dumps(resource))
        assert "9990000018" not in error.text
        assert error.http_status == 400


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path] if path else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*path, index))
    return found


def _with(resource: Any, path: tuple[Any, ...], value: Any) -> Any:
    copy = json.loads(json.dumps(resource))
    target = copy
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return copy


def test_every_element_replaced_by_anything_is_answered_never_raised() -> None:
    """read_encounter ends in a message or a FhirError, whatever an element holds."""
    method = {"url": UK_CORE + "Extension-UKCore-DischargeMethod", "valueCodeableConcept": {}}
    sample = encounter(
        "finished",
        end="2026-11-25T16:00:00Z",
        hospitalization={"extension": [method], "dischargeDisposition": {"coding": [{}]}},
        location=[{"location": {"display": "W"}, "status": "active"}],
        statusHistory=[{"status": "onleave", "period": {}}],
        meta={"versionId": "1", "lastUpdated": "2026-11-25T16:00:00Z"},
    )
    odd_values: list[Any] = [None, 0, -1, 1.5, "", " ", "x" * 300, [], {}, True, [None], {"a": 1}]
    for path in _paths(sample):
        for value in odd_values:
            reading = read_encounter(json.dumps(_with(sample, path, value)), "RCB")
            assert isinstance(reading.parsed, AdtMessage | FhirError), (path, value)
            if isinstance(reading.parsed, FhirError):
                assert 400 <= reading.parsed.http_status < 500

"""FHIR R4 Encounters on the running system (real Kafka, services as processes): an
Encounter for a registered patient is the same encounter event HL7 makes (scoring sees it)
and the practice's alert; a Bundle works; a bad resource is answered an OperationOutcome."""

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from ..flow import Ensemble, fresh_nhs_numbers, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]

NHS = "https://fhir.nhs.uk/Id/nhs-number"
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"


def uk_core_encounter(
    patient: str, visit: str, status: str = "in-progress", klass: str = "IMP"
) -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "id": visit,
        "status": status,
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": klass},
        "identifier": [{"system": "https://rcb.nhs.uk/Id/visit", "value": visit}],
        "contained": [
            {
                "resourceType": "Patient",
                "id": "pat",
                "identifier": [{"system": NHS, "value": patient}],
                "generalPractitioner": [{"identifier": {"system": ODS, "value": "L85001"}}],
            }
        ],
        "subject": {"reference": "#pat"},
        "serviceProvider": {"identifier": {"system": ODS, "value": "RCB"}},
        "period": {"start": "2026-11-22T10:15:00+00:00"},
    }


def post_fhir(ensemble: Ensemble, path: str, resource: dict[str, Any]) -> httpx.Response:
    token = ensemble.credentials.senders["RCB"]
    return ensemble.client.post(
        ensemble.url("hospital-feed", path),
        json=resource,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"},
    )


def scored(ensemble: Ensemble, patient: str, event_type: str) -> int:
    """The encounter as scoring took it from the topic."""
    sql = "SELECT count(*) FROM hospital_encounters WHERE nhs_number = ? AND event_type = ?"
    return ensemble.count("scoring", sql, patient, event_type)


def alerts_of(ensemble: Ensemble, patient: str) -> Callable[[], list[dict[str, Any]]]:
    return lambda: ensemble.alerts_for("L85001", patient)


def test_an_encounter_is_an_event_and_an_alert(ensemble_on_each_store: Ensemble) -> None:
    ensemble = ensemble_on_each_store
    (patient,) = fresh_nhs_numbers(1)
    visit = f"F-{uuid.uuid4().hex[:10]}"
    response = post_fhir(ensemble, "/v1/fhir/Encounter", uk_core_encounter(patient, visit))
    assert response.status_code == 200, response.text
    assert response.json()["resourceType"] == "OperationOutcome"

    wait_for(lambda: scored(ensemble, patient, "encounter.admitted"), 30, "scoring's encounter")
    alerts = wait_for(lambda: ensemble.alerts_for("L85001", patient), 30, "the alert")
    assert [(a["kind"], a["visit_number"]) for a in alerts] == [("admitted", visit)]


def test_a_bundle_and_a_bad_resource(ensemble: Ensemble) -> None:
    arrival, inpatient = fresh_nhs_numbers(2)
    run = uuid.uuid4().hex[:10]
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": uk_core_encounter(arrival, f"A-{run}", "arrived", "EMER"),
                "request": {"method": "POST", "url": "Encounter"},
            },
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": uk_core_encounter(inpatient, f"I-{run}"),
                "request": {"method": "POST", "url": "Encounter"},
            },
        ],
    }
    response = post_fhir(ensemble, "/v1/fhir", batch)
    assert response.status_code == 200, response.text
    assert response.json()["type"] == "batch-response"
    assert [e["response"]["status"] for e in response.json()["entry"]] == ["200 OK", "200 OK"]
    for patient, kind in ((arrival, "ae_attendance"), (inpatient, "admitted")):
        alerts = wait_for(alerts_of(ensemble, patient), 30, kind)
        assert [a["kind"] for a in alerts] == [kind]

    bad = uk_core_encounter(inpatient, f"B-{run}")
    bad["class"] = [bad["class"]]  # R5's list, not R4's Coding
    refused = post_fhir(ensemble, "/v1/fhir/Encounter", bad)
    assert refused.status_code == 400
    (issue,) = refused.json()["issue"]
    assert (issue["severity"], issue["expression"]) == ("error", ["Encounter.class"])
    assert inpatient not in refused.text
    found = ensemble.client.get(
        ensemble.url("hospital-feed", "/v1/staff/messages"),
        params={"control_id": f"Encounter/B-{run}"},
        headers=ensemble.staff(),
    ).json()["messages"]
    assert [(m["status"], m["content_format"]) for m in found] == [("rejected", "fhir-json")]

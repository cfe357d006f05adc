"""FHIR R4 Encounters shaped as NHS England UK Core profiles them (written for these tests):
an NHS number on the subject (contained Patient, or a logical reference), the GP practice on
Patient.generalPractitioner, the trust on serviceProvider, v3 ActCode classes."""

import json
from typing import Any

NHS = "https://fhir.nhs.uk/Id/nhs-number"
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
UK_CORE = "https://fhir.hl7.org.uk/StructureDefinition/"


def patient(nhs: str | None = "9990000018", practice: str | None = "L85001") -> dict[str, Any]:
    found: dict[str, Any] = {"resourceType": "Patient", "id": "pat"}
    if nhs is not None:
        found["identifier"] = [{"system": NHS, "value": nhs}]
    if practice is not None:
        found["generalPractitioner"] = [
            {"type": "Organization", "identifier": {"system": ODS, "value": practice}}
        ]
    return found


def encounter(
    status: str = "in-progress",
    klass: str = "IMP",
    *,
    nhs: str | None = "9990000018",
    practice: str | None = "L85001",
    trust: str | None = "RCB",
    visit: str | None = "V1001",
    start: str | None = "2026-11-22T10:15:00+00:00",
    end: str | None = None,
    encounter_id: str | None = "enc-1",
    version: str | None = None,
    logical_subject: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """An Encounter for the patient; `logical_subject` names them by identifier only."""
    found: dict[str, Any] = {
        "resourceType": "Encounter",
        "status": status,
        "class": {"system": ACT_CODE, "code": klass},
    }
    if encounter_id is not None:
        found["id"] = encounter_id
    if version is not None:
        found["meta"] = {"versionId": version}
    if visit is not None:
        found["identifier"] = [
            {"use": "official", "system": "https://rcb.nhs.uk/Id/visit", "value": visit}
        ]
    if logical_subject:
        identifier = {"system": NHS, "value": nhs} if nhs is not None else None
        found["subject"] = {"type": "Patient", **({"identifier": identifier} if identifier else {})}
    else:
        found["contained"] = [patient(nhs, practice)]
        found["subject"] = {"reference": "#pat"}
    if trust is not None:
        found["serviceProvider"] = {"identifier": {"system": ODS, "value": trust}}
    if start is not None or end is not None:
        found["period"] = {
            **({"start": start} if start else {}),
            **({"end": end} if end else {}),
        }
    return found | extra


def text(resource: dict[str, Any]) -> str:
    return json.dumps(resource)


def bundle(kind: str, *resources: dict[str, Any], urls: bool = True) -> dict[str, Any]:
    entries = []
    for index, resource in enumerate(resources):
        entry: dict[str, Any] = {
            "resource": resource,
            "request": {"method": "POST", "url": "Encounter"},
        }
        if urls:
            entry["fullUrl"] = f"urn:uuid:00000000-0000-4000-8000-{index:012d}"
        entries.append(entry)
    return {"resourceType": "Bundle", "type": kind, "entry": entries}

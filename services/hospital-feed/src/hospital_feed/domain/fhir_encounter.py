"""FHIR R4 Encounter JSON as the ADT message it means (docs/fhir-intake.md has the table).

Validated first (domain/fhir_resource.py, with `fhir.resources`' R4B models). The
mapped message is an `AdtMessage` with a synthetic `Header`, so FHIR goes through the same
judging, dedupe, holds and outbox as HL7 v2 (service_layer/fhir_intake.py).

Where things are read (NHS England UK Core conventions):
- NHS number: the subject's identifier with system `NHS_NUMBER_SYSTEM`, on the reference
  itself (a logical reference) or on the contained Patient it points at (`#id`).
- Registered GP practice: the contained Patient's `generalPractitioner` reference, by its
  identifier with system `ODS_SYSTEM`, or through a contained Organization's identifier.
- Trust: `Encounter.serviceProvider`'s ODS identifier, when present, is the sending facility
  (and so must be the sender's own, as MSH-4 must); otherwise the sender's code is.

Errors never carry input values (an NHS number could be one): only where and what.
"""

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from ensemble_contracts import limits
from ensemble_contracts.limits import EARLIEST, LATEST
from hospital_feed.domain.fhir_resource import FhirError, load_json, validate
from hospital_feed.domain.hl7_message import LOCAL_TIME, AdtMessage, Header
from hospital_feed.domain.nhs_number import NhsNumberStatus, classify, normalise
from hospital_feed.domain.stored_text import digest

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
# UK Core extensions (https://fhir.hl7.org.uk/StructureDefinition/...), matched by name so
# either the Encounter or its hospitalization may carry them.
ADMISSION_METHOD = "Extension-UKCore-AdmissionMethod"
DISCHARGE_METHOD = "Extension-UKCore-DischargeMethod"
FHIR_VERSION = "FHIR-R4"  # the synthetic header's version: no HL7 v2 version applies
FHIR_APPLICATION = "FHIR"

# Encounter.class (v3 ActCode) -> PV1-2 patient class (HL7 table 0004).
PATIENT_CLASS = {
    "EMER": "E",
    "IMP": "I",
    "ACUTE": "I",
    "NONAC": "I",
    "SS": "I",
    "AMB": "O",
    "OBSENC": "O",
    "HH": "O",
    "VR": "O",
    "FLD": "O",
    "PRENC": "P",
}
_PRESENT = frozenset({"arrived", "triaged", "in-progress"})
_SUBJECT = f"Encounter.subject (identifier system {NHS_NUMBER_SYSTEM})"
# Why an Encounter is held, as nhs_number.HELD_REASONS says it for HL7, naming where FHIR
# carries the number; never the number itself.
HELD_REASONS = {
    NhsNumberStatus.MISSING: f"no NHS number in {_SUBJECT}",
    NhsNumberStatus.MALFORMED: "the NHS number in Encounter.subject is not ten digits",
    NhsNumberStatus.PLACEHOLDER: (
        "the NHS number in Encounter.subject is a placeholder for an unknown patient"
    ),
    NhsNumberStatus.BAD_CHECK_DIGIT: (
        "the NHS number in Encounter.subject fails the modulus-11 check"
    ),
}


def held_reason(nhs_number: str | None) -> str | None:
    """Why an Encounter with this NHS number is held; None when the number is usable."""
    return HELD_REASONS.get(classify(nhs_number))


def trigger_for(status: str, patient_class: str | None) -> str:
    """The ADT trigger an Encounter status (and class) means, as HL7 feeds send it."""
    if status in _PRESENT:  # an A&E arrival registers (A04); an inpatient is admitted (A01)
        return "A01" if patient_class == "I" else "A04"
    return {
        "planned": "A05",  # pre-admission: stored, no event
        "onleave": "A21",
        "finished": "A03",
        "cancelled": "A11",
        "entered-in-error": "A11",
    }.get(status, "A08")  # unknown: an update, stored without a new event


def _identifier_value(identifiers: Any, system: str) -> str | None:
    for identifier in identifiers or ():
        if identifier is not None and identifier.system == system and identifier.value:
            return str(identifier.value).strip()
    return None


def _contained(encounter: Any, reference: Any, resource_type: str) -> Any:
    """The contained resource a `#id` reference points at, of that type, else None."""
    target = getattr(reference, "reference", None) or ""
    if not target.startswith("#"):
        return None
    for resource in encounter.contained or ():
        if resource.get_resource_type() == resource_type and resource.id == target[1:]:
            return resource
    return None


def _nhs_number(encounter: Any) -> str | None:
    subject = encounter.subject
    if subject is None:
        return None
    if subject.identifier is not None:
        found = _identifier_value([subject.identifier], NHS_NUMBER_SYSTEM)
        if found:
            return normalise(found)
    patient = _contained(encounter, subject, "Patient")
    found = _identifier_value(patient.identifier if patient else None, NHS_NUMBER_SYSTEM)
    return normalise(found) if found else None


def encounter_nhs_number(raw: str) -> str | None:
    """The NHS number of a stored Encounter's JSON as intake reads it (what staff search a
    message by); None when it is not a valid Encounter or names none."""
    if not raw.lstrip().startswith("{"):
        return None
    try:
        return _nhs_number(validate(load_json(raw)))
    except FhirError:
        return None


def _practice(encounter: Any, patient: Any) -> str | None:
    for gp in (patient.generalPractitioner or ()) if patient else ():
        code = _identifier_value([gp.identifier] if gp.identifier else None, ODS_SYSTEM)
        if code is None:
            organization = _contained(encounter, gp, "Organization")
            code = _identifier_value(organization.identifier if organization else None, ODS_SYSTEM)
        if code:
            return code.upper()
    return None


def _extension_code(elements: list[Any], name: str) -> str | None:
    for element in elements:
        for extension in (element.extension or ()) if element is not None else ():
            if (extension.url or "").endswith(name) and extension.valueCodeableConcept:
                for coding in extension.valueCodeableConcept.coding or ():
                    if coding.code:
                        return str(coding.code)
    return None


def _first_code(concept: Any) -> str | None:
    for coding in (concept.coding or ()) if concept is not None else ():
        if coding.code:
            return str(coding.code)
    return None


def _moment(value: date | datetime | None, where: str) -> datetime | None:
    """A FHIR date or dateTime as UTC; a date alone is midnight UK time, as in HL7 feeds."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(), LOCAL_TIME)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=LOCAL_TIME)
    moment = value.astimezone(UTC)
    if not EARLIEST <= moment < LATEST:
        raise FhirError(422, "value", f"{where} is outside the plausible range 1900-2199", where)
    return moment


def _visit_number(encounter: Any) -> str | None:
    """Encounter.identifier (official, else usual, else the first with a value); without
    one the Encounter's logical id, which names the same visit in every update."""
    ranked = sorted(
        (i for i in encounter.identifier or () if i.value),
        key=lambda i: {"official": 0, "usual": 1}.get(i.use or "", 2),
    )
    return str(ranked[0].value).strip() if ranked else encounter.id


def _location(encounter: Any) -> str | None:
    places = [p for p in encounter.location or () if p.location is not None]
    current = [p for p in places if p.status == "active"] or places
    for place in current:
        reference = place.location
        name = reference.display or (reference.identifier.value if reference.identifier else None)
        if name:
            return " ".join(str(name).split())
    return None


def _leave_start(encounter: Any) -> datetime | None:
    for entry in reversed(encounter.statusHistory or ()):
        if entry.status == "onleave" and entry.period is not None:
            return _moment(entry.period.start, "Encounter.statusHistory.period.start")
    return None


def control_id_for(
    raw: str, encounter_id: str | None, version: str | None, full_url: str | None
) -> str:
    """The message's identity as MSH-10 would be: the Bundle entry's fullUrl, else the
    Encounter's id and meta.versionId, else a digest of the content (so an identical
    resend is still recognised)."""
    if full_url:
        return full_url
    if encounter_id:
        return f"Encounter/{encounter_id}" + (f"/_history/{version}" if version else "")
    return f"sha256:{digest(raw)[:40]}"


_LIMITS = (
    ("control id (Bundle.entry.fullUrl or Encounter.id)", limits.CONTROL_ID),
    ("Patient.generalPractitioner.identifier", limits.ODS_CODE),
    ("Encounter.location", limits.LOCATION),
    ("Encounter.identifier", limits.VISIT_NUMBER),
    ("Encounter.hospitalization.dischargeDisposition", limits.CODE),
    ("Encounter.serviceProvider.identifier", limits.ODS_CODE),
)


def to_adt(encounter: Any, raw: str, sender: str, control_id: str | None = None) -> AdtMessage:
    """The ADT message a validated Encounter means (see the module docstring). `control_id`:
    the Bundle entry's fullUrl (or the one stored when reprocessing), else derived."""
    patient = _contained(encounter, encounter.subject, "Patient")
    class_code = (encounter.class_fhir.code or "").upper() if encounter.class_fhir else ""
    patient_class = PATIENT_CLASS.get(class_code)
    if patient_class is None:
        text = "Encounter.class is not a supported v3 ActCode (EMER, IMP, AMB, ...)"
        raise FhirError(422, "code-invalid", text, "Encounter.class")
    trust = _identifier_value(
        [encounter.serviceProvider.identifier]
        if encounter.serviceProvider and encounter.serviceProvider.identifier
        else None,
        ODS_SYSTEM,
    )
    facility = (trust or sender).upper()
    version = encounter.meta.versionId if encounter.meta else None
    control_id = control_id or control_id_for(raw, encounter.id, version, None)
    hospitalization = encounter.hospitalization
    admission = _extension_code([encounter, hospitalization], ADMISSION_METHOD)
    if admission is None and _first_code(encounter.priority) == "EM":
        admission = "E"  # v3 ActPriority EM: an emergency, as PV1-4 `E`
    disposition = _extension_code([encounter, hospitalization], DISCHARGE_METHOD) or _first_code(
        hospitalization.dischargeDisposition if hospitalization else None
    )
    period = encounter.period
    message = AdtMessage(
        header=Header(
            sending_application=FHIR_APPLICATION,
            sending_facility=facility,
            receiving_application="ENSEMBLE",
            receiving_facility="ENSEMBLE",
            control_id=control_id,
            processing_id="P",
            version=FHIR_VERSION,
            message_type="ADT",
            trigger=trigger_for(encounter.status, patient_class),
            structure="Encounter",
            confirmed=True,  # read from named JSON elements: never a shifted PID field
        ),
        nhs_number=_nhs_number(encounter),
        practice_ods=_practice(encounter, patient),
        patient_class=patient_class,
        location=_location(encounter),
        admission_type=admission,
        visit_number=_visit_number(encounter),
        discharge_disposition=disposition,
        recorded_at=_moment(
            encounter.meta.lastUpdated if encounter.meta else None, "Encounter.meta.lastUpdated"
        ),
        occurred_at=_leave_start(encounter) if encounter.status == "onleave" else None,
        admitted_at=_moment(period.start if period else None, "Encounter.period.start"),
        discharged_at=_moment(period.end if period else None, "Encounter.period.end"),
        died_at=_moment(patient.deceasedDateTime if patient else None, "Patient.deceasedDateTime"),
        death_indicator=_death_indicator(patient),
    )
    values = (
        control_id,
        message.practice_ods,
        message.location,
        message.visit_number,
        disposition,
        trust,
    )
    for (where, limit), value in zip(_LIMITS, values, strict=True):
        if value is not None and len(value) > limit:
            raise FhirError(422, "too-long", f"{where} is longer than {limit} characters", where)
    return message


def _death_indicator(patient: Any) -> str | None:
    if patient is None:
        return None
    if patient.deceasedBoolean is not None:
        return "Y" if patient.deceasedBoolean else "N"
    return "Y" if patient.deceasedDateTime is not None else None


@dataclass(frozen=True)
class Reading:
    """One Encounter read once: the synthetic header to store it under (None when even the
    JSON is unreadable) and the ADT message it means, or why it cannot be accepted."""

    header: Header | None
    parsed: AdtMessage | FhirError | Exception  # Exception: a mapper bug (judged 207)


def read_encounter(raw: str, sender: str, control_id: str | None = None) -> Reading:
    """Parse, validate and map one Encounter's JSON text; never raises for bad input.
    `control_id`: as for `to_adt`."""
    try:
        data = load_json(raw)
        encounter = validate(data)
        message = to_adt(encounter, raw, sender, control_id)
    except Exception as error:  # a FhirError, or a bug: judged, stored and answered alike
        return Reading(_fallback_header(raw, sender, control_id), error)
    return Reading(message.header, message)


def _fallback_header(raw: str, sender: str, control_id: str | None) -> Header:
    """What a refused resource is stored under: the sender and a control id (its id when
    readable), so a resend of it is recognised; the trigger stays empty."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        data = None
    identity = data.get("id") if isinstance(data, dict) else None
    encounter_id = identity if isinstance(identity, str) and identity.isprintable() else None
    return Header(
        sending_application=FHIR_APPLICATION,
        sending_facility=sender.upper(),
        receiving_application="ENSEMBLE",
        receiving_facility="ENSEMBLE",
        control_id=control_id or control_id_for(raw, encounter_id, None, None),
        processing_id="P",
        version=FHIR_VERSION,
        message_type="ADT",
        trigger="",
        structure="Encounter",
        confirmed=False,  # its id is not checked: not logged
    )

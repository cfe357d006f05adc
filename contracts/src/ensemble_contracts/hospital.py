"""hospital.encounters.v1: what happened to a patient in hospital, per hospital-feed."""

from typing import Final

from pydantic import Field

from ensemble_contracts import limits
from ensemble_contracts.envelope import PatientEvent
from ensemble_contracts.limits import ClinicalTime, Code, OdsCode


class EncounterEventType:
    ADMITTED: Final = "encounter.admitted"
    TRANSFERRED: Final = "encounter.transferred"
    DISCHARGED: Final = "encounter.discharged"
    AE_ATTENDANCE: Final = "encounter.ae_attendance"
    ADMISSION_CANCELLED: Final = "encounter.admission_cancelled"
    DISCHARGE_CANCELLED: Final = "encounter.discharge_cancelled"
    ALL: Final = (
        ADMITTED,
        TRANSFERRED,
        DISCHARGED,
        AE_ATTENDANCE,
        ADMISSION_CANCELLED,
        DISCHARGE_CANCELLED,
    )


class EncounterEvent(PatientEvent):
    """A hospital encounter event for one patient, from an HL7 v2 ADT or FHIR Encounter.

    Version 2 added `died` and `died_at` (optional, so version 1 readers are unaffected)."""

    schema_version: int = Field(default=2, description="Version of this event's payload shape.")
    event_type: str = Field(
        description="One of: " + ", ".join(f"`{t}`" for t in EncounterEventType.ALL)
    )
    practice_ods: OdsCode | None = Field(
        default=None, description="ODS code of the patient's registered GP practice (PD1-3)."
    )
    sending_facility: OdsCode = Field(description="ODS code of the sending trust (MSH-4).")
    trigger_event: Code = Field(description="HL7 v2 trigger event, e.g. `A01`.")
    source_message_id: str = Field(
        max_length=limits.CONTROL_ID, description="The sender's message control id (MSH-10)."
    )
    visit_number: str | None = Field(
        default=None, max_length=limits.VISIT_NUMBER, description="Hospital visit number (PV1-19)."
    )
    patient_class: Code | None = Field(
        default=None, description="PV1-2: E emergency, I inpatient, O outpatient, ..."
    )
    admission_type: Code | None = Field(default=None, description="PV1-4 admission type.")
    emergency: bool = Field(
        default=False, description="True for A&E attendances and emergency admissions."
    )
    location: str | None = Field(
        default=None, max_length=limits.LOCATION, description="Assigned location (PV1-3)."
    )
    event_at: ClinicalTime | None = Field(
        default=None, description="When the event happened in hospital (EVN-6, else PV1-44/45)."
    )
    admitted_at: ClinicalTime | None = Field(default=None, description="PV1-44.")
    discharged_at: ClinicalTime | None = Field(default=None, description="PV1-45.")
    discharge_disposition: Code | None = Field(default=None, description="PV1-36.")
    # Added in schema version 2 (optional: readers of version 1 events see the defaults).
    died: bool = Field(
        default=False,
        description="True when the admission or discharge says the patient died: a death "
        "discharge method or disposition in PV1-36, PID-30 `Y`, or a PID-29 death time.",
    )
    died_at: ClinicalTime | None = Field(
        default=None, description="When the patient died (PID-29), if the message says."
    )

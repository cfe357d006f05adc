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
    # Added in schema version 3: readers that do not know them skip them (ADR 4).
    TRANSFER_CANCELLED: Final = "encounter.transfer_cancelled"  # A12
    LEAVE_STARTED: Final = "encounter.leave_started"  # A21: leave of absence begins
    LEAVE_ENDED: Final = "encounter.leave_ended"  # A22: back from leave of absence
    CLASS_CHANGED: Final = "encounter.class_changed"  # A07, or an A08 that changes PV1-2
    PRACTICE_CHANGED: Final = "patient.practice_changed"  # A08/A28/A31 naming a new PD1-3
    MERGED: Final = "patient.merged"  # A40: merged_from_nhs_number now is nhs_number
    ALL: Final = (
        ADMITTED,
        TRANSFERRED,
        DISCHARGED,
        AE_ATTENDANCE,
        ADMISSION_CANCELLED,
        DISCHARGE_CANCELLED,
        TRANSFER_CANCELLED,
        LEAVE_STARTED,
        LEAVE_ENDED,
        CLASS_CHANGED,
        PRACTICE_CHANGED,
        MERGED,
    )


class EncounterEvent(PatientEvent):
    """A hospital encounter event for one patient, from an HL7 v2 ADT or FHIR Encounter.

    Version 2 added `died` and `died_at`; version 3 added the event types from
    `transfer_cancelled` on and the optional `previous_*` and `merged_from_nhs_number` fields
    (all optional, so earlier readers are unaffected)."""

    schema_version: int = Field(default=3, description="Version of this event's payload shape.")
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
    # Added in schema version 3.
    previous_practice_ods: OdsCode | None = Field(
        default=None,
        description="For `patient.practice_changed`: the registered practice before the change.",
    )
    previous_patient_class: Code | None = Field(
        default=None, description="For `encounter.class_changed`: PV1-2 before the change."
    )
    merged_from_nhs_number: str | None = Field(
        default=None,
        pattern=r"^\d{10}$",
        description="For `patient.merged` (A40, MRG-1): the retired NHS number whose history "
        "and open visits now belong to `nhs_number`.",
    )

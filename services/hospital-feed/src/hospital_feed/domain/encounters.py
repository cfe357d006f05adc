"""Which ADT triggers are clinical events worth publishing, and as what."""

from ensemble_contracts.hospital import EncounterEventType as T
from hospital_feed.domain.hl7 import AdtMessage

# A08 (update) and person-level triggers are stored but never a new clinical event.
_BY_TRIGGER = {
    "A01": T.ADMITTED,
    "A02": T.TRANSFERRED,
    "A03": T.DISCHARGED,
    "A06": T.ADMITTED,  # outpatient or A&E to inpatient
    "A11": T.ADMISSION_CANCELLED,
    "A13": T.DISCHARGE_CANCELLED,
}
# HL7 table 0007 `E`, and NHS admission methods 21-28 (emergency admissions).
EMERGENCY_ADMISSION_TYPES = frozenset(
    {"E", "21", "22", "23", "24", "25", "2A", "2B", "2C", "2D", "28"}
)


def event_type_for(message: AdtMessage) -> str | None:
    trigger = message.header.trigger
    if trigger == "A04":  # registration: an A&E attendance only when the class is E
        return T.AE_ATTENDANCE if message.patient_class == "E" else None
    return _BY_TRIGGER.get(trigger)


def is_emergency(message: AdtMessage) -> bool:
    return (
        message.patient_class == "E"
        or (message.admission_type or "").upper() in EMERGENCY_ADMISSION_TYPES
    )


ALERT_KIND = {
    T.ADMITTED: "admitted",
    T.TRANSFERRED: "transferred",
    T.DISCHARGED: "discharged",
    T.AE_ATTENDANCE: "ae_attendance",
    T.ADMISSION_CANCELLED: "admission_cancelled",
    T.DISCHARGE_CANCELLED: "discharge_cancelled",
}
# A cancellation retracts the practice's earlier alert of this kind for the same visit.
RETRACTS = {
    T.ADMISSION_CANCELLED: ("admitted", "ae_attendance"),
    T.DISCHARGE_CANCELLED: ("discharged",),
}

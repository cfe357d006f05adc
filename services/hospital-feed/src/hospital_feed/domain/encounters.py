"""Which ADT triggers are clinical events worth publishing, and as what."""

from datetime import datetime

from ensemble_contracts import limits
from ensemble_contracts.hospital import EncounterEventType as T
from hospital_feed.domain.hl7_message import AdtMessage

# A04 is handled apart (it depends on PV1-2). A08 (update), A05, A28/A31, A40 and any other
# trigger are stored but are never a new clinical event.
_BY_TRIGGER = {
    "A01": T.ADMITTED,
    "A02": T.TRANSFERRED,
    "A03": T.DISCHARGED,
    "A06": T.ADMITTED,  # outpatient or A&E patient becomes an inpatient
    "A11": T.ADMISSION_CANCELLED,
    "A13": T.DISCHARGE_CANCELLED,
}

# PV1-4 values meaning an emergency admission: HL7 table 0007 `E`, and the NHS Data
# Dictionary admission methods 21-28 plus 2A-2D (all "emergency admission" methods; 26/27
# are unused today but fall in the emergency range the brief names).
EMERGENCY_ADMISSION_TYPES = frozenset(
    {"E", *(str(code) for code in range(21, 29)), "2A", "2B", "2C", "2D"}
)

# Which PV1 datetime says when the event happened, when EVN-6 is absent.
_ADMIT_TIME_TRIGGERS = frozenset({"A01", "A04", "A05", "A06", "A11"})
_DISCHARGE_TIME_TRIGGERS = frozenset({"A03", "A13"})


def event_type_for(message: AdtMessage) -> str | None:
    """The contract event type for this message, or None when it is stored only."""
    trigger = message.header.trigger
    if trigger == "A04":  # registration: an A&E attendance only when the class is E
        return T.AE_ATTENDANCE if (message.patient_class or "").upper() == "E" else None
    return _BY_TRIGGER.get(trigger)


def is_emergency(message: AdtMessage) -> bool:
    return (message.patient_class or "").upper() == "E" or (
        message.admission_type or ""
    ).upper() in EMERGENCY_ADMISSION_TYPES


def event_time(message: AdtMessage) -> datetime | None:
    """EVN-6 (when it happened); else PV1-44/45 as the trigger implies; else EVN-2."""
    if message.occurred_at is not None:
        return message.occurred_at
    trigger = message.header.trigger
    if trigger in _ADMIT_TIME_TRIGGERS and message.admitted_at is not None:
        return message.admitted_at
    if trigger in _DISCHARGE_TIME_TRIGGERS and message.discharged_at is not None:
        return message.discharged_at
    return message.recorded_at


def business_key(message: AdtMessage) -> str | None:
    """Identity of the real-world event, whatever MSH-10 the sender gave it this time.

    None when neither a visit number nor an event time is known: then two different
    events could share a key, and suppressing one would lose a clinical event.
    """
    moment = event_time(message)
    if message.visit_number is None and moment is None:
        return None
    return "|".join(
        [
            message.header.sending_facility,
            message.visit_number or "",
            message.header.trigger,
            moment.isoformat() if moment else "",
            message.nhs_number or "",
        ]
    )


def visit_key(message: AdtMessage) -> str | None:
    """The patient's visit at the trust: what a cancellation and the event it cancels share.

    None without a visit number (then nothing can be matched, as for alerts).
    """
    if message.visit_number is None:
        return None
    return "|".join(
        [message.header.sending_facility, message.visit_number, message.nhs_number or ""]
    )


# Publishing one of these re-opens the business keys of the visit's earlier messages with
# the listed triggers: a cancellation (A11, A13) re-opens what it cancelled, so a genuine
# re-admission or re-discharge (same visit and time, new MSH-10) is published again; and a
# re-admission or re-discharge re-opens the cancellation, so cancelling it again is too.
REOPENS = {
    "A11": ("A01", "A04", "A06"),
    "A13": ("A03",),
    "A01": ("A11",),
    "A04": ("A11",),
    "A06": ("A11",),
    "A03": ("A13",),
}


def oversized_field(message: AdtMessage) -> tuple[str, int] | None:
    """The first field bound for the topic that is longer than the contract allows, with
    its limit (ensemble_contracts.limits); None when everything fits."""
    header = message.header
    checks: list[tuple[str, str | None, int]] = [
        ("MSH-4", header.sending_facility, limits.ODS_CODE),
        ("MSH-9", header.trigger, limits.CODE),
        ("MSH-10", header.control_id, limits.CONTROL_ID),
        ("PD1-3", message.practice_ods, limits.ODS_CODE),
        ("PV1-2", message.patient_class, limits.CODE),
        ("PV1-3", message.location, limits.LOCATION),
        ("PV1-4", message.admission_type, limits.CODE),
        ("PV1-19", message.visit_number, limits.VISIT_NUMBER),
        ("PV1-36", message.discharge_disposition, limits.CODE),
    ]
    for field, value, limit in checks:
        if value is not None and len(value) > limit:
            return field, limit
    return None


ALERT_KIND = {
    T.ADMITTED: "admitted",
    T.TRANSFERRED: "transferred",
    T.DISCHARGED: "discharged",
    T.AE_ATTENDANCE: "ae_attendance",
    T.ADMISSION_CANCELLED: "admission_cancelled",
    T.DISCHARGE_CANCELLED: "discharge_cancelled",
}
# A cancellation retracts the practice's earlier alert(s) of these kinds for the same visit.
RETRACTS = {
    T.ADMISSION_CANCELLED: ("admitted", "ae_attendance"),
    T.DISCHARGE_CANCELLED: ("discharged",),
}

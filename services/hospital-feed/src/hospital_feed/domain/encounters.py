"""Which ADT triggers are clinical events worth publishing, and as what."""

from datetime import datetime
from enum import StrEnum

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


# PV1-36 values meaning the patient died. NHS Data Dictionary "discharge method" 4 (patient
# died; 5, stillbirth, is the baby's record and not counted), and HL7 table 0112 (discharge
# disposition, as v2.5+ suggests it) 20 expired, 40 expired at home, 41 expired in a medical
# facility, 42 expired, place unknown. Codes are compared exactly: table 0112 `04` is a
# discharge to an intermediate care facility, not a death.
DEATH_DISPOSITIONS = frozenset({"4", "20", "40", "41", "42"})
# Triggers whose PID-29/30 are read as news of a death: an admission (dead on arrival) or a
# discharge. Elsewhere (A08 updates, A02 transfers) they are kept in the message only.
_DEATH_TRIGGERS = frozenset({"A01", "A03"})


def has_died(message: AdtMessage) -> bool:
    """An A03 whose PV1-36 is a death disposition, or an A01/A03 with PID-30 `Y` or a
    PID-29 death time (unless PID-30 says `N`)."""
    trigger = message.header.trigger
    if trigger not in _DEATH_TRIGGERS:
        return False
    disposition = (message.discharge_disposition or "").upper()
    if trigger == "A03" and disposition in DEATH_DISPOSITIONS:
        return True
    indicator = message.death_indicator
    return indicator == "Y" or (message.died_at is not None and indicator != "N")


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


class AlertKind(StrEnum):
    """What a practice alert is about (the `kind` of its row and of the JSON)."""

    ADMITTED = "admitted"
    TRANSFERRED = "transferred"
    DISCHARGED = "discharged"
    AE_ATTENDANCE = "ae_attendance"
    ADMISSION_CANCELLED = "admission_cancelled"
    DISCHARGE_CANCELLED = "discharge_cancelled"
    DIED = "died"  # an admission or discharge saying the patient died (`has_died`)
    HOT_ONBOARDING = "hot_onboarding"  # scoring proposes complex care (not an encounter)
    # Minor alerts of schema version 3 (ADR 9): a transfer undone, leave of absence, a new
    # patient class, a patient newly registered with the practice told (its new practice).
    TRANSFER_CANCELLED = "transfer_cancelled"
    LEAVE_STARTED = "leave_started"
    LEAVE_ENDED = "leave_ended"
    CLASS_CHANGED = "class_changed"
    PRACTICE_CHANGED = "practice_changed"


# The alert kind of each encounter event type (a death overrides it: see `alert_kind`).
ALERT_KIND = {
    T.ADMITTED: AlertKind.ADMITTED,
    T.TRANSFERRED: AlertKind.TRANSFERRED,
    T.DISCHARGED: AlertKind.DISCHARGED,
    T.AE_ATTENDANCE: AlertKind.AE_ATTENDANCE,
    T.ADMISSION_CANCELLED: AlertKind.ADMISSION_CANCELLED,
    T.DISCHARGE_CANCELLED: AlertKind.DISCHARGE_CANCELLED,
    T.TRANSFER_CANCELLED: AlertKind.TRANSFER_CANCELLED,
    T.LEAVE_STARTED: AlertKind.LEAVE_STARTED,
    T.LEAVE_ENDED: AlertKind.LEAVE_ENDED,
    T.CLASS_CHANGED: AlertKind.CLASS_CHANGED,
    T.PRACTICE_CHANGED: AlertKind.PRACTICE_CHANGED,
    # patient.merged makes no alert: the practice's view follows the surviving number.
}
# Admissions that already carry their discharge (it came first: domain/visits.py) are
# history: the practice is not told "now in hospital" of a visit that is over.
_STARTS_A_STAY = frozenset({T.ADMITTED, T.AE_ATTENDANCE})
_MAY_TELL_A_DEATH = frozenset({T.ADMITTED, T.DISCHARGED})
# A cancellation retracts the practice's earlier alert(s) of these kinds for the same visit
# (a death told by the admission or discharge it cancels included).
RETRACTS = {
    T.ADMISSION_CANCELLED: (AlertKind.ADMITTED, AlertKind.AE_ATTENDANCE, AlertKind.DIED),
    T.DISCHARGE_CANCELLED: (AlertKind.DISCHARGED, AlertKind.DIED),
    T.TRANSFER_CANCELLED: (AlertKind.TRANSFERRED,),  # the newest only: RETRACTS_NEWEST_ONLY
}
# Cancels that undo one event, not all of their kind: an A12 undoes the last transfer.
RETRACTS_NEWEST_ONLY = frozenset({T.TRANSFER_CANCELLED})
_TITLES: dict[str, str] = {
    AlertKind.AE_ATTENDANCE: "A&E attendance",
    AlertKind.TRANSFERRED: "Transfer",
    AlertKind.DISCHARGED: "Discharge",
    AlertKind.DIED: "Death",
    AlertKind.ADMISSION_CANCELLED: "Admission cancelled",
    AlertKind.DISCHARGE_CANCELLED: "Discharge cancelled",
    AlertKind.HOT_ONBOARDING: "Hot onboarding proposed",
    AlertKind.TRANSFER_CANCELLED: "Transfer cancelled",
    AlertKind.LEAVE_STARTED: "Leave of absence",
    AlertKind.LEAVE_ENDED: "Back from leave",
    AlertKind.CLASS_CHANGED: "Patient class changed",
    AlertKind.PRACTICE_CHANGED: "Newly registered with you",
}


def alert_kind(event_type: str, died: bool) -> AlertKind | None:
    """The alert an encounter event makes: `died` when an admission or discharge says so;
    None for an event that alerts no one (a merge, or a type this version does not know)."""
    if died and event_type in _MAY_TELL_A_DEATH:
        return AlertKind.DIED
    return ALERT_KIND.get(event_type)


def is_history(event_type: str, event_at: datetime | None, discharged_at: datetime | None) -> bool:
    """An admission or attendance published with its discharge already known: no alert."""
    return (
        event_type in _STARTS_A_STAY
        and discharged_at is not None
        and (event_at is None or event_at <= discharged_at)
    )


def alert_title(kind: str, emergency: bool) -> str:
    """The human title of an alert; an unknown kind is shown as it is."""
    if kind == AlertKind.ADMITTED:
        return "Emergency admission" if emergency else "Elective admission"
    return _TITLES.get(kind, kind)

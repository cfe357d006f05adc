"""What each ADT trigger does to a hospital visit (PV1-19), and what it publishes.

Pure: the current state and a message in, the new state and the events to publish out; the
store is the service layer's business (service_layer/visits.py). ADR 9 has the table.

Ordering, in short:
- Each message is applied when it arrives and published as today (one event, business-key
  dedupe). Two reconciliations for a visit's start arriving after its end: an admission
  (A01/A04/A06) that is not newer than a discharge already applied is published for history
  with that discharge time in `discharged_at` (project_alert makes no "now in hospital"
  alert of it) and the visit stays discharged; one not newer than a cancellation that came
  before any admission is absorbed (nothing published: it was cancelled before we heard it).
- Facts (class, location, practice) are taken from a message only when it is not older than
  the last one applied to the visit (`last_event_at`): an older A08 changes nothing.
- The patient's registered practice is per patient, newest `as_of` wins (`register`).
"""

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from ensemble_contracts.hospital import EncounterEventType as T
from hospital_feed.domain.encounters import event_time, event_type_for
from hospital_feed.domain.hl7_message import AdtMessage


class VisitStatus(StrEnum):
    UNKNOWN = "unknown"  # only updates (A08, A07...) heard of so far
    PRE_ADMITTED = "pre_admitted"  # A05
    REGISTERED = "registered"  # A04 (outpatient or A&E attendance), A07 (now outpatient)
    ADMITTED = "admitted"  # A01, A06; an A02 or A22 implies it
    ON_LEAVE = "on_leave"  # A21
    DISCHARGED = "discharged"  # A03
    CANCELLED = "cancelled"  # A11


_STARTS = {"A01": VisitStatus.ADMITTED, "A06": VisitStatus.ADMITTED, "A04": VisitStatus.REGISTERED}
# Triggers that speak of one visit (others, A28/A31/A40, speak of the patient).
VISIT_TRIGGERS = frozenset(
    {"A01", "A02", "A03", "A04", "A05", "A06", "A07", "A08", "A11", "A12", "A13", "A21", "A22"}
)
# Triggers whose PD1-3 may announce a change of registered practice.
PRACTICE_CHANGE_TRIGGERS = frozenset({"A08", "A28", "A31"})


@dataclass(frozen=True)
class Visit:
    """One visit as hospital-feed knows it, keyed by (sending facility, visit number)."""

    sending_facility: str
    visit_number: str
    nhs_number: str
    status: VisitStatus = VisitStatus.UNKNOWN
    patient_class: str | None = None
    location: str | None = None
    practice_ods: str | None = None
    last_event_at: datetime | None = None  # newest event time applied: facts older lose
    started_at: datetime | None = None  # the admission/registration's time, once heard
    ended_at: datetime | None = None  # the discharge's or cancellation's time
    status_before: VisitStatus | None = None  # what a cancellation (A13) or A22 restores
    previous_location: str | None = None  # what A12 (cancel transfer) restores
    last_trigger: str = ""


@dataclass(frozen=True)
class Publish:
    """An event to publish: its type and what it says beyond the message's own fields."""

    event_type: str
    fields: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Transition:
    visit: Visit
    publish: tuple[Publish, ...] = ()


def new_visit(message: AdtMessage) -> Visit:
    assert message.visit_number is not None and message.nhs_number is not None
    return Visit(message.header.sending_facility, message.visit_number, message.nhs_number)


def _is_newer(moment: datetime | None, than: datetime | None) -> bool:
    """Not older: a message without a time, or a visit without one, counts as newer."""
    return moment is None or than is None or moment >= than


def _with_facts(visit: Visit, message: AdtMessage, moment: datetime | None) -> Visit:
    """Class, location and practice from the message, when it is not older than the visit."""
    if not _is_newer(moment, visit.last_event_at):
        return visit
    return replace(
        visit,
        patient_class=message.patient_class or visit.patient_class,
        location=message.location or visit.location,
        practice_ods=message.practice_ods or visit.practice_ods,
        last_event_at=moment or visit.last_event_at,
    )


def apply(visit: Visit, message: AdtMessage) -> Transition:
    """The visit after `message` (a VISIT_TRIGGERS one), and what to publish for it."""
    trigger = message.header.trigger
    moment = event_time(message)
    handler = _HANDLERS.get(trigger)
    if handler is None:
        return Transition(visit)
    transition = handler(visit, message, moment)
    return replace(transition, visit=replace(transition.visit, last_trigger=trigger))


def _start(visit: Visit, message: AdtMessage, moment: datetime | None) -> Transition:
    """A01/A06 admit, A04 registers (published only as an A&E attendance, class E)."""
    event_type = event_type_for(message)
    published = (Publish(event_type),) if event_type else ()
    ended_here = visit.ended_at is not None and moment is not None and moment <= visit.ended_at
    if visit.status is VisitStatus.DISCHARGED and ended_here:
        # The discharge came first: history only, and the visit stays over.
        history = tuple(Publish(p.event_type, {"discharged_at": visit.ended_at}) for p in published)
        return Transition(replace(visit, started_at=visit.started_at or moment), history)
    if visit.status is VisitStatus.CANCELLED and visit.started_at is None and ended_here:
        # Cancelled before we heard of the admission: it never happened; nothing to tell.
        return Transition(replace(visit, started_at=moment))
    status = _STARTS[message.header.trigger]
    started = _with_facts(visit, message, moment)
    return Transition(
        replace(started, status=status, started_at=moment, ended_at=None, status_before=None),
        published,
    )


def _pre_admit(visit: Visit, message: AdtMessage, moment: datetime | None) -> Transition:
    """A05: pre-admitted, unless the visit is already further on (a late A05)."""
    visit = _with_facts(visit, message, moment)
    if visit.status is VisitStatus.UNKNOWN:
        visit = replace(visit, status=VisitStatus.PRE_ADMITTED)
    return Transition(visit)


def _transfer(visit: Visit, message: AdtMessage, moment: datetime | None) -> Transition:
    """A02: a new location (kept for A12 to restore); published as today."""
    before = visit.location
    moved = _with_facts(visit, message, moment)
    if moved is not visit:
        moved = replace(moved, previous_location=before)
    if moved.status in (VisitStatus.UNKNOWN, VisitStatus.PRE_ADMITTED):
        moved = replace(moved, status=VisitStatus.ADMITTED)
    return Transition(moved, (Publish(T.TRANSFERRED),))


def _cancel_transfer(visit: Visit, message: AdtMessage, moment: datetime | None) -> Transition:
    """A12: back to the location before the last transfer; nothing to cancel, nothing said."""
    if visit.previous_location is None:
        return Transition(visit)
    back = replace(visit, location=visit.previous_location, previous_location=None)
    return Transition(back, (Publish(T.TRANSFER_CANCELLED, {"location": back.location}),))


def _discharge(visit: Visit, message: AdtMessage, moment: datetime | None) -> Transition:
    """A03: published as today; the visit ends (even before its admission is heard)."""
    ended = _with_facts(visit, message, moment)
    ended = replace(
        ended,
        status=VisitStatus.DISCHARGED,
        ended_at=moment,
        status_before=visit.status if visit.status is not VisitStatus.DISCHARGED else None,
    )
    return Transition(ended, (Publish(T.DISCHARGED),))


def _cancel_admission(visit: Visit, message: AdtMessage, moment: datetime | None) -> Transition:
    """A11: published as today (it retracts the admission's alerts); the visit is cancelled."""
    cancelled = replace(visit, status=VisitStatus.CANCELLED, ended_at=moment, status_before=None)
    return Transition(cancelled, (Publish(T.ADMISSION_CANCELLED),))


def _cancel_discharge(visit: Visit, message: AdtMessage, moment: datetime | None) -> Transition:
    """A13: published as today; a discharged visit is back where it was before it."""
    if visit.status is not VisitStatus.DISCHARGED:
        return Transition(visit, (Publish(T.DISCHARGE_CANCELLED),))
    back = visit.status_before or VisitStatus.ADMITTED
    if back is VisitStatus.UNKNOWN:  # discharged before any admission was heard
        back = VisitStatus.ADMITTED
    restored = replace(visit, status=back, ended_at=None, status_before=None)
    return Transition(restored, (Publish(T.DISCHARGE_CANCELLED),))


def _leave(visit: Visit, message: AdtMessage, moment: datetime | None) -> Transition:
    """A21: on leave of absence, once (a second A21 while on leave says nothing new)."""
    if visit.status in (VisitStatus.ON_LEAVE, VisitStatus.DISCHARGED, VisitStatus.CANCELLED):
        return Transition(visit)
    away = replace(_with_facts(visit, message, moment), status=VisitStatus.ON_LEAVE)
    return Transition(replace(away, status_before=visit.status), (Publish(T.LEAVE_STARTED),))


def _return(visit: Visit, message: AdtMessage, moment: datetime | None) -> Transition:
    """A22: back from leave; one not on leave is kept without effect."""
    if visit.status is not VisitStatus.ON_LEAVE:
        return Transition(visit)
    back = visit.status_before
    if back in (None, VisitStatus.UNKNOWN, VisitStatus.PRE_ADMITTED):
        back = VisitStatus.ADMITTED
    returned = replace(_with_facts(visit, message, moment), status=back, status_before=None)
    return Transition(returned, (Publish(T.LEAVE_ENDED),))


def _class_changed(visit: Visit, message: AdtMessage, moment: datetime | None) -> Publish | None:
    before, after = visit.patient_class, message.patient_class
    if before is None or after is None or before.upper() == after.upper():
        return None
    if not _is_newer(moment, visit.last_event_at):
        return None
    return Publish(T.CLASS_CHANGED, {"previous_patient_class": before})


def _update(visit: Visit, message: AdtMessage, moment: datetime | None) -> Transition:
    """A08: new facts; a changed class is `encounter.class_changed`, nothing else is told
    (a practice change is the registration's: see `register`). Older than the visit: none."""
    changed = _class_changed(visit, message, moment)
    return Transition(_with_facts(visit, message, moment), (changed,) if changed else ())


def _to_outpatient(visit: Visit, message: AdtMessage, moment: datetime | None) -> Transition:
    """A07 (inpatient to outpatient): the class changes, the visit is an attendance now."""
    changed = _class_changed(visit, message, moment)
    updated = _with_facts(visit, message, moment)
    if updated.status in (VisitStatus.ADMITTED, VisitStatus.ON_LEAVE, VisitStatus.UNKNOWN):
        updated = replace(updated, status=VisitStatus.REGISTERED)
    return Transition(updated, (changed,) if changed else ())


_HANDLERS = {
    "A01": _start,
    "A04": _start,
    "A06": _start,
    "A05": _pre_admit,
    "A02": _transfer,
    "A12": _cancel_transfer,
    "A03": _discharge,
    "A11": _cancel_admission,
    "A13": _cancel_discharge,
    "A21": _leave,
    "A22": _return,
    "A08": _update,
    "A07": _to_outpatient,
}


@dataclass(frozen=True)
class Registration:
    """The patient's registered practice (PD1-3) as of the newest message that named it."""

    nhs_number: str
    practice_ods: str
    as_of: datetime | None


def register(
    current: Registration | None, message: AdtMessage
) -> tuple[Registration | None, Publish | None]:
    """The registration after `message` (None: unchanged), and a `patient.practice_changed`
    when an A08/A28/A31 names another practice than the one known. Newest `as_of` wins."""
    practice, nhs_number = message.practice_ods, message.nhs_number
    if practice is None or nhs_number is None:
        return None, None
    moment = event_time(message)
    if current is not None and not _is_newer(moment, current.as_of):
        return None, None  # older than what we know: changes nothing
    if current is not None and current.practice_ods == practice:
        if moment is not None and (current.as_of is None or moment > current.as_of):
            return replace(current, as_of=moment), None
        return None, None
    updated = Registration(nhs_number, practice, moment)
    if current is None or message.header.trigger not in PRACTICE_CHANGE_TRIGGERS:
        return updated, None  # first heard of, or an encounter naming it: no change told
    return updated, Publish(T.PRACTICE_CHANGED, {"previous_practice_ods": current.practice_ods})


def merged_registration(
    retired: Registration | None, surviving: Registration | None, surviving_number: str
) -> Registration | None:
    """The surviving patient's registration after an A40: the newer of the two (the
    surviving one's on a tie or without times)."""
    if retired is None:
        return surviving
    if surviving is None or (
        retired.as_of is not None
        and surviving.as_of is not None
        and retired.as_of > surviving.as_of
    ):
        return replace(retired, nhs_number=surviving_number)
    return surviving

"""Use case: reconcile an accepted ADT message with its visit, the patient's registration and
merges, and say which encounter events it publishes (domain/visits.py decides; ADR 9).

Runs inside the intake transaction, after `judge` (so a resend or business duplicate never
gets here) and before the message is stored: the visit's new state and the outbox rows
commit with the message, or none of them do.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace

from ensemble_contracts.hospital import EncounterEvent
from ensemble_contracts.hospital import EncounterEventType as T
from hospital_feed.adapters.unit_of_work import HospitalFeedUnitOfWork
from hospital_feed.domain import visits
from hospital_feed.domain.encounters import event_time, oversized_field
from hospital_feed.domain.hl7_message import AdtMessage
from hospital_feed.domain.nhs_number import NhsNumberStatus, classify

# Builds the event of one type from a message (handlers._encounter), passed in so that this
# module and handlers.py do not import each other.
BuildEvent = Callable[[AdtMessage, str], EncounterEvent]
MERGE_WITHOUT_RETIRED = "A40 without a valid NHS number in MRG-1: the merge is kept for staff"


@dataclass(frozen=True)
class Reconciled:
    """What the message publishes after reconciliation (in order), or why it is held."""

    events: tuple[EncounterEvent, ...] = ()
    held: str | None = None


def reconcile(
    uow: HospitalFeedUnitOfWork,
    message: AdtMessage,
    base_event: EncounterEvent | None,
    build: BuildEvent,
) -> Reconciled:
    """Apply `message` to its visit and patient; `base_event` is what `assess` built (the
    trigger's own event, if it has one)."""
    unchanged = Reconciled((base_event,) if base_event is not None else ())
    if message.nhs_number is None or oversized_field(message) is not None:
        return unchanged  # kept as today: nothing to track a patient or visit by
    if message.header.trigger == "A40":
        return _merge(uow, message, build)
    # A late message with a retired number speaks of the patient it was merged into.
    survivor = uow.registrations.survivor_of(message.nhs_number)
    if survivor is not None:
        message = replace(message, nhs_number=survivor)
        if base_event is not None:
            base_event = base_event.model_copy(update={"nhs_number": survivor})
    nhs_number = message.nhs_number
    assert nhs_number is not None
    uow.registrations.lock(nhs_number)
    current = uow.registrations.get(nhs_number)
    registration, practice_changed = visits.register(current, message)

    transition: visits.Transition | None = None
    if message.visit_number is not None and message.header.trigger in visits.VISIT_TRIGGERS:
        facility = message.header.sending_facility
        uow.visits.lock(facility, message.visit_number)
        visit = uow.visits.get(facility, message.visit_number) or visits.new_visit(message)
        transition = visits.apply(visit, message)
        publish = transition.publish
    else:
        publish = (visits.Publish(base_event.event_type),) if base_event is not None else ()
    if practice_changed is not None:
        publish = (*publish, practice_changed)

    # The practice to tell is the registered one as now known (newest wins), not a stale or
    # missing PD1-3: decided here, in order, so a practice change re-routes what follows.
    known = registration or current
    if known is not None and known.practice_ods != message.practice_ods:
        message = replace(message, practice_ods=known.practice_ods)
        if base_event is not None:
            base_event = base_event.model_copy(update={"practice_ods": known.practice_ods})
    # Build every event before writing anything: a message that cannot be published
    # (a ValidationError) leaves no state behind.
    events = tuple(_event(message, wanted, base_event, build) for wanted in publish)
    now = uow.clock()
    if registration is not None:
        uow.registrations.save(registration, now)
    if transition is not None:
        uow.visits.save(transition.visit, now)
    return Reconciled(events)


def _event(
    message: AdtMessage,
    wanted: visits.Publish,
    base_event: EncounterEvent | None,
    build: BuildEvent,
) -> EncounterEvent:
    """The trigger's own event (as assess built it) or a new one, with the state's fields."""
    if base_event is not None and base_event.event_type == wanted.event_type:
        event = base_event
    else:
        event = build(message, wanted.event_type)
    if not wanted.fields:
        return event
    # Validated: the fields come from the state, but a model_copy would not check them.
    return EncounterEvent.model_validate({**event.model_dump(), **wanted.fields})


def _merge(uow: HospitalFeedUnitOfWork, message: AdtMessage, build: BuildEvent) -> Reconciled:
    """A40: the retired number's visits and registration are the surviving one's now;
    `patient.merged` once (a repeat of the same merge publishes nothing)."""
    surviving, retired = message.nhs_number, message.merged_from_nhs_number
    assert surviving is not None
    if retired is None or classify(retired) is not NhsNumberStatus.VALID:
        return Reconciled(held=MERGE_WITHOUT_RETIRED)
    if retired == surviving:
        return Reconciled()
    for nhs_number in sorted((retired, surviving)):  # one order: no deadlock between two A40
        uow.registrations.lock(nhs_number)
    event = build(message, T.MERGED)
    event = EncounterEvent.model_validate({**event.model_dump(), "merged_from_nhs_number": retired})
    now = uow.clock()
    if not uow.registrations.record_merge(retired, surviving, event_time(message), now):
        return Reconciled()
    uow.visits.move_patient(retired, surviving, now)
    kept = visits.merged_registration(
        uow.registrations.get(retired), uow.registrations.get(surviving), surviving
    )
    uow.registrations.delete(retired)
    if kept is not None:
        uow.registrations.save(kept, now)
    return Reconciled((event,))

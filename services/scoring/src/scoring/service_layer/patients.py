"""Patient-level hospital events: a merge of two NHS numbers (A40) and a change of registered
practice (A08/A28/A31 with a new PD1-3).

A merge moves everything the retired number had to the surviving one: its encounters (a visit
both numbers carried keeps the surviving number's events of each kind, so no visit counts
twice and none is lost: `domain/stays.py`), its stays, hot-onboarding triggers and referral
statuses, and the profile facts the surviving number lacks (the newer extract wins a field both
give). Both numbers are rescored: each publishes a `ScoreChanged` only on a real band change.
"""

from datetime import datetime
from typing import Any

import structlog

from ensemble_contracts.hospital import EncounterEvent
from ensemble_contracts.nhs_number import is_valid_nhs_number
from ensemble_runtime.consumer import RejectedEvent
from scoring.adapters.orm import Patient
from scoring.adapters.unit_of_work import ScoringUnitOfWork
from scoring.domain.stays import duplicates_in_merge
from scoring.service_layer.handlers import PRODUCER, event_time, rescore

log = structlog.get_logger(__name__)
# Profile columns a merge combines; the rest (the key, when it changed) are the row's own.
_NOT_FACTS = frozenset({"nhs_number", "updated_at", "as_of", "on_caseload", "objects_to_contact"})


def handle_merge(uow: ScoringUnitOfWork, event: EncounterEvent) -> None:
    surviving, retired = event.nhs_number, event.merged_from_nhs_number
    if not is_valid_nhs_number(surviving):
        raise RejectedEvent("invalid or placeholder NHS number")
    if retired is None or not is_valid_nhs_number(retired):
        raise RejectedEvent("a merge needs a valid merged_from_nhs_number")
    if retired == surviving:
        raise RejectedEvent("a merge of an NHS number into itself")
    for nhs_number in sorted((surviving, retired)):  # NHS-number order, as every loader locks
        uow.patients.lock(nhs_number)
    at = event_time(event, uow.clock())
    if not _record(uow, event, at):
        return
    merges = uow.merges
    dropped = _duplicates(uow, surviving, retired)
    moved = merges.move_encounters(retired, surviving, dropped)
    merges.move_side_records(retired, surviving)
    _merge_profiles(uow, surviving, retired)
    for facility, visit in merges.visits_of(surviving):
        uow.stays.refresh(surviving, facility, visit)
    envelope = event.caused(producer=PRODUCER)
    now = uow.clock()
    rescore(uow, surviving, now, envelope, practice_hint=event.practice_ods)
    if uow.scores.latest_band(retired) is not None:  # a number never scored gets no first score
        rescore(uow, retired, now, envelope)
    log.info("patients merged", encounters_moved=moved, duplicates_dropped=len(dropped))


def handle_practice_changed(uow: ScoringUnitOfWork, event: EncounterEvent) -> None:
    """The patient's practice, for the worklist: the profile's and the current score's."""
    if not is_valid_nhs_number(event.nhs_number):
        raise RejectedEvent("invalid or placeholder NHS number")
    if event.practice_ods is None:
        raise RejectedEvent("a practice change names no practice")
    uow.patients.lock(event.nhs_number)
    if _record(uow, event, event_time(event, uow.clock())):
        uow.merges.set_practice(event.nhs_number, event.practice_ods)


def _record(uow: ScoringUnitOfWork, event: EncounterEvent, at: datetime) -> bool:
    """Keep the event with the patient's encounters (the hospital's last word on the practice);
    False when it was kept already."""
    return uow.encounters.record(
        {
            "event_id": event.event_id,
            "nhs_number": event.nhs_number,
            "event_type": event.event_type,
            "emergency": False,
            "practice_ods": event.practice_ods,
            "facility": event.sending_facility,
            "visit_number": event.visit_number,
            "event_at": at,
            "cancelled": False,
            "received_at": uow.clock(),
            "patient_class": event.patient_class,
            "previous_patient_class": None,
        }
    )


def _duplicates(uow: ScoringUnitOfWork, surviving: str, retired: str) -> set[Any]:
    merges = uow.merges
    return duplicates_in_merge(merges.visit_events(surviving), merges.visit_events(retired))


def _merge_profiles(uow: ScoringUnitOfWork, surviving: str, retired: str) -> None:
    old = uow.patients.get(retired)
    if old is None:
        return
    kept = uow.patients.get(surviving)
    if kept is None:
        kept = Patient(nhs_number=surviving, updated_at=uow.clock())
    newer_is_old = old.as_of is not None and (kept.as_of is None or old.as_of > kept.as_of)
    for name in Patient.model_fields:
        if name in _NOT_FACTS:
            continue
        mine, theirs = getattr(kept, name), getattr(old, name)
        if theirs is not None and (mine is None or newer_is_old):
            setattr(kept, name, theirs)
    # Either number's objection to contact, or place on a caseload, holds for the person.
    kept.on_caseload = kept.on_caseload or old.on_caseload
    kept.objects_to_contact = kept.objects_to_contact or old.objects_to_contact
    if old.as_of is not None and (kept.as_of is None or old.as_of > kept.as_of):
        kept.as_of = old.as_of
    kept.updated_at = uow.clock()
    uow.patients.remove(old)
    uow.patients.add(kept)

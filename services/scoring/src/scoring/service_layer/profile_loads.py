"""Loading practice profiles (an extract's lines, from HTTP or the admin CLI) a batch at a time.

A batch's stored rows are read in one query, compared with the lines in Python, written back in
one statement, and the changed patients rescored together (`rescore_patients`): the same
answers as a rescore of each patient, in a few statements a thousand patients rather than
several a patient, so a 450,000-line extract loads in a minute.
"""

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import uuid4

import structlog

from scoring.adapters.repository import PATIENTS
from scoring.adapters.unit_of_work import ScoringUnitOfWork
from scoring.domain.model import HospitalUse
from scoring.service_layer.commands import LoadProfiles, ProfilesLoaded
from scoring.service_layer.handlers import PRODUCER
from scoring.service_layer.scores import ScoreWrites

log = structlog.get_logger(__name__)
BATCH = 1000  # patients a query (an IN list of this many stays well under any driver's limit)
# A new patient's row before its line is applied: every column unknown, flags off.
_NEW_PATIENT: dict[str, Any] = {column.name: None for column in PATIENTS.c} | {
    "on_caseload": False,
    "objects_to_contact": False,
}


def load_profiles(uow: ScoringUnitOfWork, command: LoadProfiles) -> ProfilesLoaded:
    """Upsert profiles (only the fields each line gives), rescore each changed patient, commit.

    A line as of an earlier date than the stored profile's is left out (an older extract never
    overwrites a newer one); a line that changes nothing is not rescored (loading the same
    extract twice changes nothing). A line without `as_of` is as of the day it is loaded.
    """
    now = uow.clock()
    envelope = {"producer": PRODUCER, "correlation_id": uuid4()}  # one load, one correlation
    changed = unchanged = older = 0
    # In NHS-number order, as every loader locks patients (see rescore): no deadlock between two.
    profiles = sorted(command.profiles, key=lambda p: p.nhs_number)
    for start in range(0, len(profiles), BATCH):
        batch = profiles[start : start + BATCH]
        numbers = [profile.nhs_number for profile in batch]
        uow.population.lock(numbers)
        stored = uow.population.patient_rows(numbers)
        writes, rescore = [], []
        for profile in batch:
            as_of = profile.as_of or now.date()
            held = stored.get(profile.nhs_number)
            if held is not None and held["as_of"] is not None and as_of < held["as_of"]:
                older += 1
                continue
            # A new patient gets a first score whatever the line holds.
            row: dict[str, Any] = dict(held) if held is not None else {**_NEW_PATIENT}
            row["nhs_number"] = profile.nhs_number
            differs = held is None
            for name in sorted(profile.model_fields_set - {"nhs_number", "as_of"}):
                value = _stored(name, getattr(profile, name))
                if row[name] != value:
                    row[name] = value
                    differs = True
            newer = row["as_of"] is None or as_of > row["as_of"]
            if newer:
                row["as_of"] = as_of
            if not differs:
                unchanged += 1
                if newer:  # a newer as_of is kept
                    writes.append(row)
                continue
            changed += 1
            row["updated_at"] = now
            writes.append(row)
            rescore.append(profile.nhs_number)
        uow.population.save_patients(writes)
        rescore_patients(uow, rescore, now, envelope)
    uow.commit()
    log.info("profiles loaded", changed=changed, unchanged=unchanged, older=older)
    return ProfilesLoaded(len(command.profiles), changed, unchanged, older)


def rescore_patients(
    uow: ScoringUnitOfWork, nhs_numbers: Sequence[str], now: datetime, envelope: dict[str, Any]
) -> None:
    """`handlers.rescore` of each of these patients as of `now` (the caller holds their locks),
    reading and writing them together; published in the order given."""
    if not nhs_numbers:
        return
    model = uow.models.active()
    population = uow.population
    profiles = population.profiles(nhs_numbers)
    uses = population.hospital_use(nhs_numbers, now, model.hospital_window_days)
    currents = population.current(nhs_numbers)
    writes = ScoreWrites(uow, envelope)
    for nhs_number in nhs_numbers:
        profile = profiles.get(nhs_number)
        risk = model.score(profile, uses.get(nhs_number, HospitalUse()), now.date())
        practice = (profile.practice_ods if profile else None) or uow.encounters.last_practice_seen(
            nhs_number
        )
        current = currents.get(nhs_number)
        writes.add(nhs_number, risk, current.band if current else None, practice)
    writes.flush()


def _stored(name: str, value: Any) -> Any:
    """A profile field as its column holds it."""
    if name == "conditions":
        return None if value is None else json.dumps(value)
    if name in ("on_caseload", "objects_to_contact"):
        return bool(value)
    return value

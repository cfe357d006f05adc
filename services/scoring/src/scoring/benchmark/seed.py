"""Seeding a store with a synthetic population in bulk (SQLAlchemy Core, thousands of rows a
statement, no ORM objects): each person's profile, hospital encounters and stays, and the
score the active model gives them (current and in the history), as the service would have.
"""

import json
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert

from ensemble_contracts.hospital import EncounterEventType as T
from scoring.adapters.repository import CURRENT, ENCOUNTERS, PATIENTS, SCORES
from scoring.adapters.stays import STAYS
from scoring.benchmark.population import Person, Population, Visit
from scoring.domain.model import HospitalUse, PatientProfile, RiskModel, RiskScore
from scoring.domain.stays import INPATIENT, Stay, with_stays
from scoring.service_layer.scores import reasons_json

CHUNK = 5000  # people a transaction
_EVENTS = uuid.UUID("5b0c8e4e-2f7a-4f57-9a8e-0c6f1e6d1b11")  # event ids: the same every run


def use_of(visits: Iterable[Visit], now: datetime, window_days: int) -> HospitalUse:
    """Hospital use as the store's queries count it (`PopulationRepository.hospital_use`)."""
    since = now - timedelta(days=window_days)
    recent = [v for v in visits if v.at >= since]
    use = HospitalUse(
        emergency_admissions=sum(v.kind == "admission" for v in recent),
        ae_attendances=sum(v.kind == "ae" for v in recent),
    )
    stays = [
        Stay(((v.at, v.discharged_at),))
        for v in visits
        if v.kind == "admission" and (v.discharged_at is None or v.discharged_at >= since)
    ]
    return with_stays(use, stays, now, window_days)


def profile_row(person: Person, updated_at: datetime) -> dict[str, Any]:
    profile = person.profile
    return {
        **profile,
        "nhs_number": person.nhs_number,
        "conditions": json.dumps(profile["conditions"]),
        "efi": None,
        "preferred_language": None,
        "on_caseload": False,
        "objects_to_contact": False,
        "updated_at": updated_at,
    }


def _encounter(person: Person, visit: Visit, kind: str, at: datetime) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid5(_EVENTS, f"{person.nhs_number}/{visit.visit_number}/{kind}"),
        "nhs_number": person.nhs_number,
        "event_type": kind,
        "emergency": True,
        "practice_ods": person.profile["practice_ods"],
        "facility": visit.facility,
        "visit_number": visit.visit_number,
        "event_at": at,
        "cancelled": False,
        "received_at": at,
        "patient_class": "E" if kind == T.AE_ATTENDANCE else INPATIENT,
        "previous_patient_class": None,
    }


def hospital_rows(person: Person) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The person's encounter rows and stay rows."""
    encounters, stays = [], []
    for visit in person.visits:
        if visit.kind == "ae":
            encounters.append(_encounter(person, visit, T.AE_ATTENDANCE, visit.at))
            continue
        encounters.append(_encounter(person, visit, T.ADMITTED, visit.at))
        if visit.discharged_at is not None:
            encounters.append(_encounter(person, visit, T.DISCHARGED, visit.discharged_at))
        stays.append(
            {
                "nhs_number": person.nhs_number,
                "facility": visit.facility,
                "visit_number": visit.visit_number,
                "first_in": visit.at,
                "last_out": visit.discharged_at,
            }
        )
    return encounters, stays


def score_rows(
    nhs_number: str, practice: str | None, risk: RiskScore, at: datetime
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The current-score row and the history row of a score."""
    score = {
        "nhs_number": nhs_number,
        "score": risk.score,
        "band": risk.band,
        "model_version": risk.model_version,
        "reasons": reasons_json(risk),
        "computed_at": at,
    }
    domains = "," + ",".join(risk.domains) + "," if risk.domains else ""
    current = {**score, "practice_ods": practice, "domains": domains}
    return current, {**score, "inputs": json.dumps(risk.inputs)}


def seed(
    engine: Engine,
    population: Population,
    count: int,
    model: RiskModel,
    on_progress: Callable[[int], None] = lambda done: None,
) -> list[Person]:
    """`count` people in the store, scored by `model` as of the population's `now`."""
    now, people, done = population.now, [], 0
    chunk: list[Person] = []
    for person in population.people(count):
        chunk.append(person)
        if len(chunk) == CHUNK:
            _insert(engine, chunk, model, now)
            people += chunk
            done += len(chunk)
            chunk = []
            on_progress(done)
    if chunk:
        _insert(engine, chunk, model, now)
        people += chunk
        on_progress(done + len(chunk))
    return people


def _insert(engine: Engine, people: list[Person], model: RiskModel, now: datetime) -> None:
    profiles, encounters, stays, currents, history = [], [], [], [], []
    seeded = now - timedelta(days=30)  # the last extract and score, a month ago
    for person in people:
        profile = {**person.profile, "as_of": seeded.date()}
        person.profile = profile
        profiles.append(profile_row(person, seeded))
        visits, bed_stays = hospital_rows(person)
        encounters += visits
        stays += bed_stays
        risk = model.score(
            _profile(profile), use_of(person.visits, now, model.hospital_window_days), now.date()
        )
        current, record = score_rows(person.nhs_number, profile["practice_ods"], risk, seeded)
        currents.append(current)
        history.append(record)
    with engine.begin() as connection:
        connection.execute(insert(PATIENTS), profiles)
        if encounters:
            connection.execute(insert(ENCOUNTERS), encounters)
        if stays:
            connection.execute(insert(STAYS), stays)
        connection.execute(insert(CURRENT), currents)
        connection.execute(insert(SCORES), history)


def _profile(values: dict[str, Any]) -> PatientProfile:
    fields = {k: v for k, v in values.items() if k in PatientProfile.__dataclass_fields__}
    return PatientProfile(**{**fields, "conditions": frozenset(values["conditions"])})

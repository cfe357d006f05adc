"""The outcomes report timed over a synthetic population (issue 11: 450,000 patients in
<= 10 s on the 2-core machine).

    uv run --no-sync python -m scoring.benchmark.outcomes --patients 450000 [--database-url URL]

`bench_outcomes(database_url, patients)` seeds an empty store (SQLite file or PostgreSQL
database) with N scored patients over 60 practices, one in ten with A&E attendances and
emergency admissions (each a stay of up to 14 midnights) over the last two years, 2% enrolled
in a programme with sessions and a baseline, a cohort's members; then times the report
exactly as `GET /v1/outcomes` makes it (every practice: matching the whole population,
hospital use of the enrolled and comparison patients, the groups and ROI), and returns the
seconds with what it counted.
"""

import argparse
import json
import random
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

from sqlalchemy import func, insert, select
from sqlmodel import Session

from ensemble_contracts.hospital import EncounterEventType
from ensemble_runtime.db import create_db_engine, reader_engine
from ensemble_runtime.migrations import migrate
from scoring.adapters.cohort_store import MEMBERS
from scoring.adapters.outcome_store import ENROLMENTS
from scoring.adapters.outcome_views import Selection, outcomes
from scoring.adapters.repository import CURRENT, ENCOUNTERS, PATIENTS
from scoring.adapters.stays import STAYS
from scoring.adapters.unit_costs import unit_costs
from scoring.benchmark.population import nhs_numbers
from scoring.service import DEFINITION

TODAY = datetime(2026, 11, 23, 9, tzinfo=UTC)
PRACTICES = [f"P{n:05d}" for n in range(60)]
BANDS = ("low", "moderate", "high", "very_high")
PAGE = 5000


def _encounter(
    nhs: str, kind: str, practice: str, at: datetime, visit: str | None = None
) -> dict[str, Any]:
    return {
        "event_id": uuid4(),
        "nhs_number": nhs,
        "event_type": kind,
        "emergency": True,
        "practice_ods": practice,
        "facility": "RCB",
        "visit_number": visit or uuid4().hex[:12],
        "event_at": at,
        "cancelled": False,
        "received_at": TODAY,
        "patient_class": "I" if kind != EncounterEventType.AE_ATTENDANCE else "E",
    }


def seed(database_url: str, patients: int, enrolled_share: float = 0.02, rng_seed: int = 11) -> int:
    """Fill an empty store; how many enrolments it holds."""
    rng = random.Random(rng_seed)
    engine = create_db_engine(database_url)
    migrate(engine, DEFINITION.migrations)
    with engine.connect() as connection:
        if connection.execute(select(func.count()).select_from(PATIENTS)).scalar_one():
            raise SystemExit("the store already holds patients: give an empty one")
    numbers = list(nhs_numbers(patients))  # past 1,000,000 the 998 block follows
    enrolled = 0
    for start in range(0, patients, PAGE):
        people, scores, encounters, enrolments, members, stays = [], [], [], [], [], []
        for nhs in numbers[start : start + PAGE]:
            practice = rng.choice(PRACTICES)
            band = rng.choices(BANDS, (70, 18, 9, 3))[0]
            born = date(rng.randint(1925, 2005), rng.randint(1, 12), rng.randint(1, 28))
            people.append(
                {
                    "nhs_number": nhs,
                    "practice_ods": practice,
                    "birth_date": born,
                    "on_caseload": False,
                    "objects_to_contact": False,
                    "updated_at": TODAY,
                    "pam_level": rng.randint(1, 4),
                    "repeat_medicines": rng.randint(0, 12),
                    "as_of": date(2026, 11, 1),
                }
            )
            scores.append(
                {
                    "nhs_number": nhs,
                    "practice_ods": practice,
                    "score": rng.randint(0, 90),
                    "band": band,
                    "model_version": "ensemble-risk-1.0.0",
                    "reasons": "[]",
                    "domains": ",",
                    "computed_at": TODAY,
                }
            )
            if rng.random() < 0.1:
                for _ in range(rng.randint(1, 5)):
                    kind = rng.choice(
                        (EncounterEventType.AE_ATTENDANCE, EncounterEventType.ADMITTED)
                    )
                    visit = _encounter(nhs, kind, practice, TODAY - timedelta(rng.randint(0, 730)))
                    encounters.append(visit)
                    if kind == EncounterEventType.ADMITTED:  # a stay of 0-14 midnights
                        out = visit["event_at"] + timedelta(days=rng.randint(0, 14), hours=3)
                        ended = out if out < TODAY else None  # still in: an open stay
                        if ended is not None:
                            discharged = EncounterEventType.DISCHARGED
                            encounters.append(
                                _encounter(nhs, discharged, practice, ended, visit["visit_number"])
                            )
                        stays.append(
                            {"nhs_number": nhs, "facility": "RCB", "first_in": visit["event_at"],
                             "visit_number": visit["visit_number"], "last_out": ended}
                        )  # fmt: skip
            if rng.random() < enrolled_share:
                enrolled += 1
                began = TODAY - timedelta(days=rng.randint(0, 500))
                enrolments.append(
                    {
                        "nhs_number": nhs,
                        "programme": rng.choice(("health_coaching", "complex_care")),
                        "referral_id": uuid4(),
                        "practice_ods": practice,
                        "activated_at": began,
                        "first_attended_at": began,
                        "sessions_attended": rng.randint(1, 8),
                        "band": band,
                        "pam_level": rng.randint(1, 4),
                        "repeat_medicines": rng.randint(0, 12),
                        "profile_as_of": date(2025, 1, 1),
                        "updated_at": TODAY,
                    }
                )
                if rng.random() < 0.3:
                    members.append({"cohort": "risk_in_two_domains", "nhs_number": nhs,
                                    "practice_ods": practice, "joined_at": TODAY})  # fmt: skip
        with engine.begin() as connection:
            connection.execute(insert(PATIENTS), people)
            connection.execute(insert(CURRENT), scores)
            for table, rows in (
                (ENCOUNTERS, encounters),
                (STAYS, stays),
                (ENROLMENTS, enrolments),
                (MEMBERS, members),
            ):
                if rows:
                    connection.execute(insert(table), rows)
    engine.dispose()
    return enrolled


def time_report(database_url: str) -> dict[str, Any]:
    """The report over every practice, timed as the HTTP route runs it (one read)."""
    engine = create_db_engine(database_url)
    reader = reader_engine(engine)
    try:
        started = time.perf_counter()
        with Session(reader) as session:
            rows, answer = outcomes(session, Selection(), TODAY.date(), unit_costs())
        seconds = time.perf_counter() - started
    finally:
        engine.dispose()
    summary = answer["summary"]
    return {
        "seconds": round(seconds, 2),
        "rows": len(rows),
        "enrolled": summary["enrolled"]["patients"],
        "comparison": summary["comparison"]["patients"],
        "practices": len(answer["by_practice"]),
        # Per enrolled patient per year: shows the stays and events were read, not skipped.
        "enrolled_before": summary["enrolled"]["before"],
    }


def bench_outcomes(database_url: str, patients: int) -> dict[str, Any]:
    """Seed an empty store with `patients` and time the outcomes report over it."""
    started = time.perf_counter()
    enrolled = seed(database_url, patients)
    seeded = time.perf_counter() - started
    return {
        "patients": patients,
        "enrolments_seeded": enrolled,
        "seed_seconds": round(seeded, 1),
        **time_report(database_url),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=450_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    url = args.database_url
    if url is None:
        folder = Path("run") / "bench-outcomes"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"outcomes-{args.patients}.db"
        path.unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    print(json.dumps(bench_outcomes(url, args.patients), indent=2))


if __name__ == "__main__":
    main()

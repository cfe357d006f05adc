"""Rescoring a population, measured: `model evaluate` and `model activate` on N patients.

    uv run --no-sync python services/scoring/bench/rescore.py --patients 450000
        [--database-url postgresql+psycopg://...] [--page 1000]

Seeds a fresh store (SQLite under run/bench-scoring/ unless a URL is given) with N synthetic
patients scored by ensemble-risk-1.0.0 (profiles drawn to look like a practice list, one in
ten with hospital use), then times, through the same commands the admin CLI runs: evaluating
ensemble-risk-1.1.0 against it, and activating it (store, switch, rescore everyone a page per
transaction, publish real band changes to the outbox). Prints patients/s and the band changes.
Issue 11's targets: 450,000 in <= 60 s, 1,000,000 in <= 150 s on the 2-core machine.
"""

import argparse
import json
import random
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

from sqlalchemy import insert, text

from ensemble_devkit import REPO_ROOT
from ensemble_runtime.db import create_db_engine, reader_engine
from ensemble_runtime.migrations import migrate
from scoring.adapters.packaged_models import packaged_model, packaged_text
from scoring.adapters.repository import CURRENT, ENCOUNTERS, PATIENTS
from scoring.config import Settings
from scoring.domain.model import HospitalUse, PatientProfile, RiskScore
from scoring.domain.model_file import read_model
from scoring.entrypoints.admin_output import Progress
from scoring.service import DEFINITION
from scoring.service_layer.commands import ActivateModel, RescorePage
from scoring.service_layer.models import Evaluation, evaluate_page
from scoring.service_layer.scores import reasons_json

CONDITIONS = ["diabetes", "copd", "chd", "ckd", "cancer", "stroke", "heart_failure", "depression",
              "anxiety", "dementia", "asthma", "hypertension", "obesity"]  # fmt: skip
PRACTICES = [f"P{n:05d}" for n in range(60)]  # ~7,500 patients a practice at 450,000


def nhs_numbers(count: int) -> list[str]:
    """Valid (modulus 11) numbers from the 999 test range."""
    found = []
    for prefix in range(999_000_000, 1_000_000_000):
        digits = [int(d) for d in str(prefix)]
        check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        if check != 10:
            found.append(f"{prefix}{0 if check == 11 else check}")
            if len(found) == count:
                break
    return found


def _profile(rng: random.Random) -> PatientProfile:
    count = rng.choices([0, 1, 2, 3, 4, 5], [40, 25, 15, 10, 6, 4])[0]
    return PatientProfile(
        practice_ods=rng.choice(PRACTICES),
        birth_date=date(rng.randint(1925, 2020), rng.randint(1, 12), rng.randint(1, 28)),
        conditions=frozenset(rng.sample(CONDITIONS, count)),
        repeat_medicines=rng.choice([0, 0, 1, 2, 3, 4, 5, 7, 9, 12]),
        efi_deficits=rng.choice([0, 1, 2, 3, 5, 7, 9, 13]),
        deprivation_quintile=rng.randint(1, 5),
    )


def _encounters(
    rng: random.Random, nhs: str, practice: str | None, use: HospitalUse, now: datetime
) -> list[dict[str, Any]]:
    kinds = [("encounter.admitted", use.emergency_admissions)]
    kinds.append(("encounter.ae_attendance", use.ae_attendances))
    found = []
    for kind, count in kinds:
        for _ in range(count):
            at = now - timedelta(days=rng.randint(1, 300))
            found.append(
                {
                    "event_id": uuid4(),
                    "nhs_number": nhs,
                    "event_type": kind,
                    "emergency": True,
                    "practice_ods": practice,
                    "facility": "RCB",
                    "visit_number": None,
                    "event_at": at,
                    "cancelled": False,
                    "received_at": at,
                }
            )
    return found


def _patient_row(nhs: str, profile: PatientProfile, now: datetime) -> dict[str, Any]:
    return {
        "nhs_number": nhs,
        "practice_ods": profile.practice_ods,
        "birth_date": profile.birth_date,
        "conditions": json.dumps(sorted(profile.conditions or ())),
        "repeat_medicines": profile.repeat_medicines,
        "efi_deficits": profile.efi_deficits,
        "deprivation_quintile": profile.deprivation_quintile,
        "on_caseload": False,
        "objects_to_contact": False,
        "updated_at": now,
    }


def _score_row(nhs: str, practice: str | None, risk: RiskScore, now: datetime) -> dict[str, Any]:
    return {
        "nhs_number": nhs,
        "practice_ods": practice,
        "score": risk.score,
        "band": risk.band,
        "model_version": risk.model_version,
        "computed_at": now,
        "reasons": reasons_json(risk),
        "domains": "," + ",".join(risk.domains) + "," if risk.domains else "",
    }


def seed(url: str, patients: int, now: datetime) -> None:
    """N patients with profiles, their current scores (1.0.0) and some hospital use."""
    engine = create_db_engine(url)
    migrate(engine, DEFINITION.migrations)
    model, rng = packaged_model("ensemble-risk-1.0.0"), random.Random(11)
    progress = Progress()
    numbers = nhs_numbers(patients)
    for start in range(0, patients, 5000):
        rows, scores, encounters = [], [], []
        for nhs in numbers[start : start + 5000]:
            profile = _profile(rng)
            use = HospitalUse()
            if rng.random() < 0.1:
                use = HospitalUse(rng.randint(0, 2), rng.randint(1, 3))
                encounters += _encounters(rng, nhs, profile.practice_ods, use, now)
            rows.append(_patient_row(nhs, profile, now))
            scores.append(
                _score_row(nhs, profile.practice_ods, model.score(profile, use, now.date()), now)
            )
        with engine.begin() as connection:
            connection.execute(insert(PATIENTS), rows)
            connection.execute(insert(CURRENT), scores)
            if encounters:
                connection.execute(insert(ENCOUNTERS), encounters)
        progress.show(start + len(rows), patients)
    progress.done()
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=450_000)
    parser.add_argument("--database-url")
    parser.add_argument("--page", type=int, default=1000)
    args = parser.parse_args()
    now = datetime.now(UTC)
    if args.database_url is None:
        folder = REPO_ROOT / "run" / "bench-scoring"
        folder.mkdir(parents=True, exist_ok=True)
        database = folder / f"scoring-{args.patients}.db"
        for stale in folder.glob(f"{database.name}*"):
            stale.unlink()
        args.database_url = f"sqlite:///{database}"
    started = time.monotonic()
    seed(args.database_url, args.patients, now)
    print(f"seeded {args.patients:,} patients in {time.monotonic() - started:.1f} s")

    settings = Settings(database_url=args.database_url)
    engine = create_db_engine(args.database_url)
    reader = reader_engine(engine)
    candidate_text = packaged_text("ensemble-risk-1.1.0")
    candidate = read_model(candidate_text)
    figures: dict[str, Any] = {
        "patients": args.patients,
        "store": engine.dialect.name,
        "page": args.page,
    }

    started = time.monotonic()
    evaluation = Evaluation(packaged_model("ensemble-risk-1.0.0"), candidate, now, 3)
    after: str | None = ""
    progress = Progress()
    while after is not None:
        with DEFINITION.unit_of_work(reader, settings) as uow:
            after = evaluate_page(uow, evaluation, after, args.page)
        progress.show(evaluation.seen, args.patients)
    progress.done()
    figures["evaluate_seconds"] = round(time.monotonic() - started, 1)
    figures["evaluate_changing"] = evaluation.report()["changing"]

    def run(command: Any) -> Any:
        with DEFINITION.unit_of_work(engine, settings) as uow:
            return DEFINITION.commands[type(command)](uow, command)

    started = time.monotonic()
    run(ActivateModel(candidate, candidate_text, "bench"))
    command, rescored, changes = RescorePage(limit=args.page), 0, 0
    while (page := run(command)).last is not None:
        rescored, changes = rescored + page.rescored, changes + len(page.band_changes)
        command = RescorePage(page.last, args.page, command.correlation_id)
        progress.show(rescored, args.patients)
    progress.done()
    seconds = time.monotonic() - started
    with engine.connect() as connection:
        outbox = connection.execute(text("SELECT count(*) FROM outbox")).scalar_one()
    figures |= {
        "activate_seconds": round(seconds, 1),
        "rescored": rescored,
        "patients_per_second": round(rescored / seconds),
        "band_changes_published": changes,
        "outbox_rows": outbox,
    }
    print(json.dumps(figures, indent=2))
    out = REPO_ROOT / "run" / "bench-scoring" / f"rescore-{args.patients}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2))
    reader.dispose()
    engine.dispose()


if __name__ == "__main__":
    main()

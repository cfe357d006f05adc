"""The scoring bench's code path on a small population (SQLite and PostgreSQL): its report
counts what the store shows, and only real band changes reach the outbox. No timings."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ensemble_contracts.topics import SCORE_CHANGES
from ensemble_runtime.db import create_db_engine
from ensemble_runtime.outbox import OUTBOX
from scoring.adapters.repository import SCORES
from scoring.benchmark.population import Population
from scoring.benchmark.run import run_bench
from scoring.entrypoints import admin_cli
from scoring.entrypoints.admin_output import Progress

PATIENTS = 2000


def _bench(database_url: str, out: Path) -> dict[str, Any]:
    argv = ["bench", "--patients", str(PATIENTS), "--out", str(out), "--skip", "outcomes"]
    if not database_url.startswith("sqlite"):
        argv += ["--database-url", database_url]
    report, _ = run_bench(admin_cli._parser().parse_args(argv), Progress(enabled=False))
    return report


def _changed_by(url: str, version: str) -> int:
    """Patients whose first score by `version` has another band than their score before it."""
    engine = create_db_engine(url)
    query = select(SCORES.c.nhs_number, SCORES.c.band, SCORES.c.model_version)
    with engine.connect() as connection:
        rows = list(connection.execute(query.order_by(SCORES.c.nhs_number, SCORES.c.id)))
    engine.dispose()
    changed, previous, seen = 0, None, set()
    for nhs_number, band, model_version in rows:
        first = model_version == version and nhs_number not in seen
        if first and previous is not None and previous[0] == nhs_number:
            changed += band != previous[1]
            seen.add(nhs_number)
        previous = (nhs_number, band)
    return changed


def test_the_bench_reports_what_the_store_shows(database_url: str, tmp_path: Path) -> None:
    report = _bench(database_url, tmp_path)
    steps = {step["step"]: step for step in report["steps"]}
    order = ["seed", "evaluate", "activate", "extract_ndjson", "extract_csv", "cohorts"]
    assert list(steps) == order
    assert all(step["patients"] == PATIENTS for step in steps.values())
    assert steps["seed"]["hospital_visits"] > 0 and steps["seed"]["outbox_rows"] == 0

    for name in ("extract_ndjson", "extract_csv"):
        load = steps[name]
        assert load["loaded"] == PATIENTS and load["errors"] == 0 and load["older"] == 0
        assert load["changed"] == load["expected_changed"] > 0  # one line in twenty changes
        assert load["unchanged"] == PATIENTS - load["changed"]
        assert load["outbox_rows"] == load["score_changes_published"] <= load["changed"]

    evaluate, activate = steps["evaluate"], steps["activate"]
    assert evaluate["outbox_rows"] == 0  # evaluating only reads
    assert activate["rescored"] == PATIENTS
    # Both as of the bench's one clock: activation publishes what evaluation said it would.
    assert activate["band_changes"] == evaluate["would_publish"] > 0
    assert activate["score_changes_published"] == activate["outbox_rows"]
    assert activate["band_changes"] == activate["score_changes_published"]
    url = database_url if not database_url.startswith("sqlite") else _sqlite_url(tmp_path)
    assert _changed_by(url, report["models"]["candidate"]) == activate["band_changes"]
    published = _score_events(url)
    assert len(published) == sum(step["score_changes_published"] for step in steps.values())
    assert all(event["previous_band"] != event["band"] for event in published)  # real changes

    cohorts = steps["cohorts"]
    assert cohorts["cohort_changes_published"] == cohorts["joined"] > 0
    assert cohorts["left"] == 0 and cohorts["score_changes_published"] == 0

    name = f"scoring-{report['store']}-{PATIENTS}"
    assert json.loads((tmp_path / f"{name}.json").read_text())["steps"] == report["steps"]
    assert "| activate | 2,000 |" in (tmp_path / f"{name}.md").read_text()


def test_the_population_is_the_same_for_the_same_seed() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    first = [(p.nhs_number, p.profile, p.visits) for p in Population(3, now, 2).people(300)]
    again = [(p.nhs_number, p.profile, p.visits) for p in Population(3, now, 2).people(300)]
    other = [(p.nhs_number, p.profile, p.visits) for p in Population(4, now, 2).people(300)]
    assert first == again and first != other
    assert len({number for number, *_ in first}) == 300


def _sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / f'scoring-{PATIENTS}.db'}"


def _score_events(url: str) -> list[dict[str, Any]]:
    engine = create_db_engine(url)
    query = select(OUTBOX.c.payload).where(OUTBOX.c.topic == SCORE_CHANGES.name)
    with engine.connect() as connection:
        payloads = [
            json.loads(row.payload) for row in connection.execute(query.order_by(OUTBOX.c.id))
        ]
    engine.dispose()
    return payloads

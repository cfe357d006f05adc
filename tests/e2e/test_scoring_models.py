"""A clinical lead's path through scoring, across the running services on real Kafka: load an
extract, read the practice worklist, evaluate a new model version, activate it, and see the
band change reach the practice's alert, with only real band changes published."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ensemble_devkit.synthetic import adt_message

from ..flow import Ensemble, fresh_nhs_numbers, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]

MODELS = Path(__file__).parents[2] / "services" / "scoring" / "src" / "scoring" / "models"
OLD, NEW = "ensemble-risk-1.0.0", "ensemble-risk-1.1.0"
SCORE_CHANGES = "scoring.score-changes.v1"


def admin(ensemble: Ensemble, *argv: str) -> dict[str, Any]:
    """`ensemble-scoring-admin --json ...` against the running scoring service's store."""
    scoring = ensemble.system.processes["scoring"]
    done = subprocess.run(
        [sys.executable, "-m", "scoring.entrypoints.admin_cli", "--json", "--quiet", *argv],
        env={**os.environ, **scoring.env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def band_changes(ensemble: Ensemble, nhs: str) -> int:
    """Score changes scoring has put in its outbox for one patient."""
    sql = "SELECT count(*) FROM outbox WHERE topic = ? AND key = ?"
    return ensemble.count("scoring", sql, SCORE_CHANGES, nhs)


def test_a_new_model_version_is_compared_switched_on_and_reaches_the_practice(
    ensemble: Ensemble,
) -> None:
    moving, staying = fresh_nhs_numbers(2)
    extract = (
        "nhs_number,practice_ods,birth_date,conditions,repeat_medicines,bmi,pam_level,as_of\r\n"
        # 1.0.0: diabetes + ckd 16, 4 medicines 4, an admission 7 = 27 (moderate);
        # 1.1.0 counts anxiety as a mental health condition: +6 = 33 (high).
        f"{moving},L85001,1966-02-03,diabetes;ckd;anxiety,4,34.5,1,2026-11-01\r\n"
        # Very high under both.
        f"{staying},L85001,1938-05-04,diabetes;copd;chd;heart_failure;depression,12,,,\r\n"
    )
    posted = ensemble.client.post(
        ensemble.url("scoring", "/v1/profiles"),
        content=extract,
        headers={**ensemble.staff(), "Content-Type": "text/csv"},
    )
    assert posted.status_code == 200, posted.text
    assert (posted.json()["loaded"], posted.json()["errors"]) == (2, [])
    for nhs in (moving, staying):
        ensemble.post_adt(adt_message("A01", nhs, "L85001", f"MODEL-{nhs}", f"V{nhs}"))

    def alert_band(nhs: str, band: str, version: str) -> bool:
        alerts = ensemble.alerts_for("L85001", nhs)
        return any(
            a["kind"] == "admitted" and (a["risk_band"], a["risk_model_version"]) == (band, version)
            for a in alerts
        )

    wait_for(lambda: alert_band(moving, "moderate", OLD), 30, "the moderate band on the alert")
    wait_for(lambda: alert_band(staying, "very_high", OLD), 30, "the very high band on the alert")

    # The practice's worklist, in score order, with reasons.
    worklist = ensemble.url("scoring", "/v1/practices/L85001/patients")
    ours: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        params = {"limit": 1000} | ({"after": after} if after else {})
        response = ensemble.client.get(worklist, params=params, headers=ensemble.practice("L85001"))
        assert response.status_code == 200, response.text
        ours += [p for p in response.json()["patients"] if p["nhs_number"] in (moving, staying)]
        after = response.json()["next_after"]
        if after is None:
            break
    assert [(p["nhs_number"], p["band"]) for p in ours] == [
        (staying, "very_high"),
        (moving, "moderate"),
    ]
    assert ours[1]["score"] == 27 and ours[1]["model_version"] == OLD
    assert {r["factor"] for r in ours[1]["reasons"]} >= {
        "physical_conditions",
        "emergency_admissions",
    }
    other = ensemble.client.get(worklist, headers=ensemble.practice("L85002"))
    assert other.status_code == 403

    # Compare, then switch on.
    report = admin(ensemble, "model", "evaluate", str(MODELS / f"{NEW}.toml"))
    assert (report["active"], report["candidate"]) == (OLD, NEW)
    [l85001] = [p for p in report["practices"] if p["practice_ods"] == "L85001"]
    assert {"from": "moderate", "to": "high", "patients": 1} in l85001["changes"]
    assert moving in {e["nhs_number"] for e in l85001["examples"]}

    before = {nhs: band_changes(ensemble, nhs) for nhs in (moving, staying)}
    try:
        activated = admin(ensemble, "model", "activate", str(MODELS / f"{NEW}.toml"), "--by", "e2e")
        assert (activated["version"], activated["previous"]) == (NEW, OLD)
        assert activated["band_changes"] >= 1
        wait_for(
            lambda: alert_band(moving, "high", NEW), 30, "the new band on the practice's alert"
        )
        assert band_changes(ensemble, moving) == before[moving] + 1
        assert band_changes(ensemble, staying) == before[staying]  # rescored, band unchanged
        changed = ensemble.client.get(
            worklist, params={"band": "high"}, headers=ensemble.practice("L85001")
        )
        [row] = [p for p in changed.json()["patients"] if p["nhs_number"] == moving]
        assert (row["score"], row["model_version"]) == (33, NEW)
        assert "mental_health" in row["domains"]
    finally:  # the rest of the session runs on the packaged default
        admin(ensemble, "model", "activate", str(MODELS / f"{OLD}.toml"), "--by", "e2e")
    wait_for(lambda: alert_band(moving, "moderate", OLD), 30, "the old band back on the alert")

"""Subscription rosters on real Kafka (issue 9): a care team's token from the access CLI, its
roster uploaded over HTTP, alerts routed by roster beside PD1-3, unrouted ones counted,
and no other recipient's token reading or changing a roster."""

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from ensemble_devkit.synthetic import adt_message

from ..flow import Ensemble, fresh_nhs_numbers, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]
TEAM = "COACH1"  # the coaching hub: a care team, not a practice
PRACTICES = ("L85001", "L85002", "L85003")
CSV = "text/csv"


def care_team_token(ensemble: Ensemble) -> str:
    """The care team's user and a fresh token, issued by hospital-feed's access CLI as an
    operator would (the same `provision` the system runs for the practices)."""
    feed = ensemble.system.processes["hospital-feed"]
    cli = [sys.executable, "-m", "hospital_feed.entrypoints.access_cli", "--json"]
    done = subprocess.run(
        [*cli, "provision", "--user", f"{TEAM}:coach", "--label", "e2e"],
        env={**os.environ, **feed.env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    (issued,) = json.loads(done.stdout)["tokens"]
    assert issued["practice"] == TEAM
    return str(issued["token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def alerts_of(ensemble: Ensemble, code: str, token: str, nhs_number: str) -> list[dict[str, Any]]:
    """Every alert of one patient in the recipient's list (all pages)."""
    found: list[dict[str, Any]] = []
    after: int | None = 0
    while after is not None:
        response = ensemble.client.get(
            ensemble.url("hospital-feed", f"/v1/practices/{code}/alerts"),
            params={"limit": 1000, "after": after},
            headers=bearer(token),
        )
        response.raise_for_status()
        page = response.json()
        found += [alert for alert in page["alerts"] if alert["nhs_number"] == nhs_number]
        after = page["next_after"]
    return found


def unrouted_count(ensemble: Ensemble) -> int:
    response = ensemble.client.get(
        ensemble.url("hospital-feed", "/v1/staff/alerts/unrouted"), headers=ensemble.staff()
    )
    response.raise_for_status()
    return int(response.json()["count"])


def test_a_care_team_s_roster_routes_alerts_beside_pd1_and_nobody_else_reads_it(
    ensemble_on_each_store: Ensemble,
) -> None:
    ensemble = ensemble_on_each_store
    token = care_team_token(ensemble)
    listed, registered_too, nobody = fresh_nhs_numbers(3)
    roster = ensemble.url("hospital-feed", f"/v1/practices/{TEAM}/roster")
    spaced = f"{registered_too[:3]} {registered_too[3:6]} {registered_too[6:]}"
    uploaded = ensemble.client.put(
        roster,
        content=f"nhs_number\n{listed}\n{spaced}\n12345\n",
        headers=bearer(token) | {"Content-Type": CSV},
    )
    assert uploaded.status_code == 200, uploaded.text
    answer = uploaded.json()
    assert (answer["recipient"], answer["added"], answer["applied"]) == (TEAM, 2, True)
    assert [r["line"] for r in answer["rejected"]] == [4]
    shown = ensemble.client.get(roster, headers=bearer(token)).json()
    assert (shown["count"], [e["nhs_number"] for e in shown["entries"]]) == (
        2,
        sorted([listed, registered_too]),
    )

    # No PD1-3, but on the roster: the care team's alert, and nobody else's.
    unrouted_before = unrouted_count(ensemble)
    ensemble.post_adt(adt_message("A01", listed, None, f"ROS-{listed}", f"V{listed}"))
    (alert,) = wait_for(lambda: alerts_of(ensemble, TEAM, token, listed), 20, "roster alert")
    assert (alert["kind"], alert["recipient_reason"], alert["status"]) == (
        "admitted",
        "roster",
        "active",
    )
    for practice in PRACTICES:  # written in the same transaction as the care team's
        assert ensemble.alerts_for(practice, listed) == []

    # On the roster and registered at L85001: one alert each, each saying why.
    ensemble.post_adt(
        adt_message("A01", registered_too, "L85001", f"ROS-{registered_too}", f"V{registered_too}")
    )
    (mine,) = wait_for(lambda: alerts_of(ensemble, TEAM, token, registered_too), 20, "roster")
    (theirs,) = ensemble.alerts_for("L85001", registered_too)
    assert (mine["recipient_reason"], theirs["recipient_reason"]) == ("roster", "registered")
    assert mine["encounter_event_id"] == theirs["encounter_event_id"]
    assert ensemble.alerts_for("L85002", registered_too) == []

    # Neither PD1-3 nor a roster: counted for staff, not dropped.
    ensemble.post_adt(adt_message("A01", nobody, None, f"ROS-{nobody}", f"V{nobody}"))
    wait_for(
        lambda: ensemble.count(
            "hospital-feed", "SELECT count(*) FROM unrouted_alerts WHERE nhs_number = ?", nobody
        ),
        20,
        "the unrouted admission recorded",
    )
    assert unrouted_count(ensemble) >= unrouted_before + 1  # stragglers of earlier tests too
    assert (
        ensemble.count(
            "hospital-feed", "SELECT count(*) FROM practice_alerts WHERE nhs_number = ?", nobody
        )
        == 0
    )
    metrics = ensemble.client.get(ensemble.url("hospital-feed", "/metrics")).text
    assert 'ensemble_hospital_feed_unrouted_alerts_total{kind="admitted"' in metrics

    # Another recipient's token can neither read nor change the roster, nor the team's alerts.
    other = ensemble.practice("L85002")
    assert ensemble.client.get(roster, headers=other).status_code == 403
    changed = ensemble.client.put(roster, content=nobody, headers=other | {"Content-Type": CSV})
    assert changed.status_code == 403
    removed = ensemble.client.post(
        roster, params={"mode": "remove"}, content=listed, headers=other | {"Content-Type": CSV}
    )
    assert removed.status_code == 403
    team_alerts = ensemble.url("hospital-feed", f"/v1/practices/{TEAM}/alerts")
    assert ensemble.client.get(team_alerts, headers=other).status_code == 403
    practice_roster = ensemble.url("hospital-feed", "/v1/practices/L85001/roster")
    assert ensemble.client.get(practice_roster, headers=bearer(token)).status_code == 403
    assert ensemble.client.get(roster, headers=bearer(token)).json()["count"] == 2
    uploads = ensemble.client.get(
        ensemble.url("hospital-feed", "/v1/staff/rosters/uploads"), headers=ensemble.staff()
    ).json()["uploads"]
    assert (uploads[0]["caller"], uploads[0]["uploaded_by"], uploads[0]["recipients"]) == (
        "practice",
        "coach",
        [TEAM],
    )

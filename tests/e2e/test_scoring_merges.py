"""A40 merges and new encounter types across the running services on real Kafka: encounter
events produced straight onto hospital.encounters.v1 with the contract model (hospital-feed's
own A40 path is being built alongside), scoring moves the retired number's visits to the
surviving number without counting the shared visit twice, publishes only real band changes,
skips an event type it does not know without holding up the ones behind it, and a cohort
refresh publishes the merged patient's membership on scoring.cohort-membership.v1."""

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaProducer

from ensemble_contracts.hospital import EncounterEvent, EncounterEventType
from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS

from ..flow import Ensemble, fresh_nhs_numbers, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]
T = EncounterEventType
SCORE_CHANGES = "scoring.score-changes.v1"


def event(nhs: str, kind: str, days_ago: float, **more: Any) -> EncounterEvent:
    return EncounterEvent(
        event_type=kind,
        producer="hospital-feed",
        nhs_number=nhs,
        practice_ods="L85001",
        sending_facility="RCB",
        trigger_event={T.ADMITTED: "A01", T.MERGED: "A40"}.get(kind, "A08"),
        source_message_id=uuid4().hex,
        patient_class="I",
        emergency=kind == T.ADMITTED,
        event_at=datetime.now(UTC) - timedelta(days=days_ago),
        **more,
    )


def produce(ensemble: Ensemble, *events: EncounterEvent) -> None:
    async def send() -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=ensemble.broker.bootstrap_servers, enable_idempotence=True
        )
        await producer.start()
        try:
            for sent in events:
                await producer.send_and_wait(
                    HOSPITAL_ENCOUNTERS.name,
                    value=sent.model_dump_json().encode(),
                    key=sent.nhs_number.encode(),
                )
        finally:
            await producer.stop()

    asyncio.run(send())


def refresh_cohorts(ensemble: Ensemble) -> dict[str, Any]:
    """`ensemble-scoring-admin --json cohort refresh` against the running service's store."""
    scoring = ensemble.system.processes["scoring"]
    done = subprocess.run(
        [sys.executable, "-m", "scoring.entrypoints.admin_cli", "--json", "cohort", "refresh"],
        env={**os.environ, **scoring.env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def worklist_row(ensemble: Ensemble, nhs: str) -> dict[str, Any] | None:
    url = ensemble.url("scoring", "/v1/practices/L85001/patients")
    after: str | None = None
    while True:
        params = {"limit": 1000} | ({"after": after} if after else {})
        response = ensemble.client.get(url, params=params, headers=ensemble.practice("L85001"))
        response.raise_for_status()
        for row in response.json()["patients"]:
            if row["nhs_number"] == nhs:
                return dict(row)
        after = response.json()["next_after"]
        if after is None:
            return None


def test_a_merge_moves_visits_once_and_publishes_only_real_band_changes(
    ensemble: Ensemble,
) -> None:
    surviving, retired = fresh_nhs_numbers(2)
    # diabetes + ckd 16, aged 75+ 9 = 25 (moderate); an emergency admission makes it 32 (high).
    ensemble.load_profiles(
        [
            {
                "nhs_number": surviving,
                "practice_ods": "L85001",
                "birth_date": "1940-01-01",
                "conditions": ["diabetes", "ckd"],
            }
        ]
    )
    visit = f"M{surviving}"
    produce(
        ensemble,
        event(surviving, T.ADMITTED, 20, visit_number=visit),
        event(retired, T.ADMITTED, 20, visit_number=visit),  # the same visit, the other number
        event(retired, T.ADMITTED, 60, visit_number=f"{visit}-2"),
    )

    def scored(nhs: str, score: int) -> bool:
        row = worklist_row(ensemble, nhs)
        return row is not None and row["score"] == score

    wait_for(lambda: scored(surviving, 32), 60, "the surviving number's admission scored")
    changes = "SELECT count(*) FROM outbox WHERE topic = ? AND key = ?"
    wait_for(
        lambda: ensemble.count("scoring", changes, SCORE_CHANGES, retired) == 1,
        60,
        "the retired number's first score",
    )
    before = {
        nhs: ensemble.count("scoring", changes, SCORE_CHANGES, nhs) for nhs in (surviving, retired)
    }

    future = event(surviving, T.ADMITTED, 0).model_copy(update={"event_type": "patient.teleported"})
    merge = event(surviving, T.MERGED, 0, merged_from_nhs_number=retired)
    produce(ensemble, future, merge)

    # Two emergency admissions now (the shared visit once, the other visit): 25 + 12 = 37.
    wait_for(lambda: scored(surviving, 37), 60, "the merged history scored once per visit")
    encounters = "SELECT count(*) FROM hospital_encounters WHERE nhs_number = ?"
    assert ensemble.count("scoring", encounters, retired) == 0
    kinds = "SELECT count(*) FROM hospital_encounters WHERE nhs_number = ? AND event_type = ?"
    assert ensemble.count("scoring", kinds, surviving, T.ADMITTED) == 2
    assert ensemble.count("scoring", kinds, surviving, "patient.teleported") == 0  # skipped
    stays = "SELECT count(*) FROM hospital_stays WHERE nhs_number = ?"
    assert ensemble.count("scoring", stays, surviving) == 2
    assert ensemble.count("scoring", stays, retired) == 0
    # high before and after for the surviving number, low for the retired one: no event.
    assert ensemble.count("scoring", changes, SCORE_CHANGES, surviving) == before[surviving]
    assert ensemble.count("scoring", changes, SCORE_CHANGES, retired) == before[retired]

    # Physical conditions, age and hospital use: risk in two or more domains.
    assert refresh_cohorts(ensemble)["joined"] >= 1
    sent = "SELECT count(*) FROM outbox WHERE topic = ? AND key = ? AND published_at IS NOT NULL"
    cohort_topic = "scoring.cohort-membership.v1"
    wait_for(
        lambda: ensemble.count("scoring", sent, cohort_topic, surviving) == 1,
        60,
        "the cohort join published to Kafka by the relay",
    )
    members = ensemble.client.get(
        ensemble.url("scoring", "/v1/practices/L85001/cohorts/risk_in_two_domains"),
        params={"format": "csv"},
        headers=ensemble.practice("L85001"),
    )
    assert members.status_code == 200, members.text
    assert surviving in members.text and retired not in members.text
    in_cohort = ensemble.client.get(
        ensemble.url("scoring", "/v1/practices/L85001/patients"),
        params={"cohort": "risk_in_two_domains", "limit": 1000},
        headers=ensemble.practice("L85001"),
    )
    assert surviving in {p["nhs_number"] for p in in_cohort.json()["patients"]}
    refresh_cohorts(ensemble)  # nothing changed: nothing more published
    assert (
        ensemble.count(
            "scoring", sent.replace(" AND published_at IS NOT NULL", ""), cohort_topic, surviving
        )
        == 1
    )

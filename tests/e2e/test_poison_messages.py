"""Poison messages over HTTP: each is answered and kept, and the messages after it flow on.

Three messages that once stopped a pipeline or went unanswered (issue 7): a PV1-19 longer
than the topic allows, a year-9999 timestamp that overflows when read as UTC, and a NUL
byte (PostgreSQL text cannot hold one). Each must get an HL7 ACK naming what is wrong, be
kept for staff, and leave the patient's next admission, and another patient's, to reach
their practices as usual.

MLLP is not covered here: these inputs over MLLP are left to hospital-feed's MLLP unit
tests and the fuzz suite (the e2e system's one MLLP listener, for RCB, serves
tests/e2e/test_visits.py).
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

import pytest

from ensemble_contracts import limits
from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS
from ensemble_devkit.synthetic import adt_message, hl7_timestamp

from ..flow import Ensemble, fresh_nhs_numbers, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]
PRACTICE, OTHER_PRACTICE = "L85001", "L85002"
# Past 9999-12-31 once the offset is applied: the OverflowError that once escaped as a 500.
YEAR_9999 = "99991231235959-0100"


@dataclass(frozen=True)
class Poison:
    name: str
    message: str
    control_id: str
    reason_names: str  # what the ACK's reason must mention


@dataclass(frozen=True)
class Ack:
    code: str  # MSA-1
    control_id: str  # MSA-2
    reason: str  # MSA-3
    error_code: str  # ERR-3.1, HL7 table 0357


def read_ack(text: str) -> Ack:
    segments = {line.split("|")[0]: line.split("|") for line in text.split("\r") if line}
    msa, err = segments["MSA"], segments.get("ERR", [])
    return Ack(msa[1], msa[2], msa[3], err[3].split("^")[0] if len(err) > 3 else "")


def poisons(nhs_number: str, run: str) -> list[Poison]:
    now = datetime.now(UTC)
    stamp = hl7_timestamp(now)

    def admission(kind: str, visit: str) -> tuple[str, str]:
        control_id = f"{run}-{kind}"
        return adt_message("A01", nhs_number, PRACTICE, control_id, visit, event_at=now), control_id

    too_long = "V" * (limits.VISIT_NUMBER + 1)
    oversized, oversized_id = admission("oversized", too_long)
    far_future, far_future_id = admission("year-9999", f"{run}-visit")
    far_future = far_future.replace(f"EVN|A01|{stamp}|", f"EVN|A01|{YEAR_9999}|")
    with_nul, with_nul_id = admission("nul", f"{run}-visit")
    with_nul = with_nul.replace("TEST^PATIENT", "TEST^PAT\x00IENT")
    longer = f"PV1-19 is longer than {limits.VISIT_NUMBER}"
    return [
        Poison("oversized PV1-19", oversized, oversized_id, longer),
        Poison("year-9999 EVN-2", far_future, far_future_id, "EVN-2"),
        Poison("NUL byte", with_nul, with_nul_id, "NUL"),
    ]


def highest_id(ensemble: Ensemble, table: str, column: str) -> int:
    """Where this test's rows will start: earlier tests leave rows in the same store."""
    return ensemble.count("hospital-feed", f"SELECT coalesce(max({column}), 0) FROM {table}")


def rejected_since(ensemble: Ensemble, after: int) -> dict[str, dict[str, Any]]:
    """Rejected messages kept after id `after`, by control id, through the staff API."""
    response = ensemble.client.get(
        ensemble.url("hospital-feed", "/v1/messages"),
        params={"status": "rejected", "after": after, "limit": 1000},
        headers=ensemble.staff(),
    )
    response.raise_for_status()
    return {m["control_id"]: m for m in response.json()["messages"]}


def alerts_since(ensemble: Ensemble, ods: str, after: int) -> list[dict[str, Any]]:
    """The practice's alerts with ids above `after`, through the practice API."""
    response = ensemble.client.get(
        ensemble.url("hospital-feed", f"/v1/practices/{ods}/alerts"),
        params={"after": after, "limit": 1000},
        headers=ensemble.practice(ods),
    )
    response.raise_for_status()
    return list(response.json()["alerts"])


def test_poison_messages_are_answered_and_kept_and_the_next_ones_reach_the_practice(
    ensemble_on_each_store: Ensemble,
) -> None:
    ensemble = ensemble_on_each_store
    run = uuid.uuid4().hex[:8]
    patient, other_patient = fresh_nhs_numbers(2)
    messages_before = highest_id(ensemble, "hl7_messages", "id")
    alerts_before = highest_id(ensemble, "practice_alerts", "alert_id")
    sent = poisons(patient, run)

    for poison in sent:
        ack = read_ack(ensemble.post_adt(poison.message))  # a 5xx or a closed socket raises
        answered = (ack.code, ack.control_id, ack.error_code)
        assert answered == ("AE", poison.control_id, "102"), poison.name
        assert poison.reason_names in ack.reason, (poison.name, ack.reason)

    kept = rejected_since(ensemble, messages_before)
    for poison in sent:
        stored = kept[poison.control_id]
        assert (stored["ack_code"], stored["error_code"]) == ("AE", "102"), poison.name
        assert poison.reason_names in stored["error"], poison.name
        assert stored["event_id"] is None, f"{poison.name} must publish nothing"
    assert f"the {HOSPITAL_ENCOUNTERS.name} limit" in kept[f"{run}-oversized"]["error"]
    nul_kept_escaped = ensemble.count(
        "hospital-feed",
        "SELECT count(*) FROM hl7_messages WHERE control_id = ? AND raw_escaped",
        f"{run}-nul",
    )
    assert nul_kept_escaped == 1, "the NUL message is kept, escaped so any store can hold it"

    # The same patient's visit, which the poisons did not take, and another patient.
    after_them = ((patient, PRACTICE), (other_patient, OTHER_PRACTICE))
    for index, (nhs, practice) in enumerate(after_them):
        admission = adt_message("A01", nhs, practice, f"{run}-after-{index}", f"{run}-visit")
        assert read_ack(ensemble.post_adt(admission)).code == "AA"

    def alerts_of(nhs: str, practice: str) -> list[dict[str, Any]]:
        return [
            a for a in alerts_since(ensemble, practice, alerts_before) if a["nhs_number"] == nhs
        ]

    for nhs, practice in after_them:
        alerts = wait_for(partial(alerts_of, nhs, practice), 20, f"the alert for {practice}")
        # Per-patient order: a poison's alert would have come first. There is none.
        assert [(a["kind"], a["visit_number"]) for a in alerts] == [("admitted", f"{run}-visit")]

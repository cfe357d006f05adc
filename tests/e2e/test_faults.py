"""Crash and outage tests: kill -9 a service, or restart the broker, in mid-stream.

Afterwards every store is counted: nothing lost, no effect duplicated.
"""

import threading
import time
import uuid
from collections.abc import Callable

import pytest

from ensemble_devkit.synthetic import adt_message

from ..e2e.test_care_flow import high_risk
from ..flow import Ensemble, fresh_nhs_numbers, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]
PATIENTS = 200
CYCLES = 5  # each cycle per patient: A&E attendance, emergency admission, discharge


def stream_for(patients: list[str], run: str) -> list[str]:
    messages = []
    for cycle in range(CYCLES):
        for index, nhs in enumerate(patients):
            practice = ("L85001", "L85002", "L85003")[index % 3]
            visit = f"{run}-{nhs}-{cycle}"
            messages.append(
                adt_message("A04", nhs, practice, f"{visit}-ae", f"{visit}-ae", patient_class="E")
            )
            messages.append(adt_message("A01", nhs, practice, f"{visit}-in", visit))
            messages.append(adt_message("A03", nhs, practice, f"{visit}-out", visit))
    return messages


def expectations(ensemble: Ensemble, patients: list[str]) -> dict[str, int]:
    marks = ",".join("?" * len(patients))
    return {
        "alerts": ensemble.count(
            "hospital-feed",
            f"SELECT count(*) FROM practice_alerts WHERE nhs_number IN ({marks})",
            *patients,
        ),
        "encounters scored": ensemble.count(
            "scoring",
            f"SELECT count(*) FROM hospital_encounters WHERE nhs_number IN ({marks})",
            *patients,
        ),
        "patients triggered": ensemble.count(
            "scoring",
            f"SELECT count(DISTINCT nhs_number) FROM hot_onboarding_triggers "
            f"WHERE nhs_number IN ({marks})",
            *patients,
        ),
        "referrals": ensemble.count(
            "referral",
            f"SELECT count(*) FROM referrals WHERE nhs_number IN ({marks})",
            *patients,
        ),
    }


def run_stream_with_fault(ensemble: Ensemble, fault: Callable[[], None]) -> None:
    run = uuid.uuid4().hex[:6]
    patients = fresh_nhs_numbers(PATIENTS)
    high_risk_patients = patients[: PATIENTS // 4]
    ensemble.load_profiles([high_risk(n, "L85001") for n in high_risk_patients])
    messages = stream_for(patients, run)
    posted = 0

    def post_all() -> None:
        nonlocal posted
        for message in messages:
            assert "MSA|AA" in ensemble.post_adt(message, retry_for=90)
            posted += 1

    sender = threading.Thread(target=post_all)
    sender.start()
    wait_for(lambda: posted >= len(messages) // 3, 120, "a third of the stream")
    fault()
    assert posted < len(messages), "the fault must strike mid-stream"
    sender.join(timeout=600)
    assert posted == len(messages)

    total = len(messages)

    def settled() -> dict[str, int] | None:
        counts = expectations(ensemble, patients)
        complete = counts["alerts"] == total and counts["encounters scored"] == total
        return counts if complete and counts["referrals"] == counts["patients triggered"] else None

    counts = wait_for(settled, 180, "every store to catch up")
    assert counts["patients triggered"] > 0, "high-risk admissions must trigger hot onboarding"
    time.sleep(2)  # anything duplicated late would show now
    assert expectations(ensemble, patients) == counts
    messages_stored = ensemble.count(
        "hospital-feed",
        "SELECT count(*) FROM hl7_messages WHERE control_id LIKE ?",
        f"{run}-%",
    )
    assert messages_stored == total


@pytest.mark.parametrize("service", ["hospital-feed", "scoring", "referral"])
def test_kill_9_of_a_service_mid_stream_loses_and_duplicates_nothing(
    ensemble: Ensemble, service: str
) -> None:
    process = ensemble.system.processes[service]

    def crash_and_restart() -> None:
        process.kill9()
        time.sleep(1)
        process.start()
        process.wait_ready()

    run_stream_with_fault(ensemble, crash_and_restart)


def test_broker_restart_mid_stream_loses_and_duplicates_nothing(ensemble: Ensemble) -> None:
    if not ensemble.broker.restartable:
        pytest.skip("the broker is external (KAFKA_BOOTSTRAP_SERVERS/Docker): cannot restart it")

    def restart_broker() -> None:
        ensemble.broker.stop()
        time.sleep(2)
        ensemble.broker.start()

    run_stream_with_fault(ensemble, restart_broker)

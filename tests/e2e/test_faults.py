"""Crash and outage tests: kill -9 a service, or restart the broker, in mid-stream.

The stream goes out on several senders, each keeping its patients' messages in order. The
fault strikes once each has sent a third of its share, and each waits at two thirds until the
fault is over (`send_through_fault`). Afterwards every store is counted: nothing
lost; then, once the system is quiet (`wait_until_quiet`), counted again: nothing duplicated.
"""

import uuid
from collections.abc import Callable
from functools import partial

import pytest

from ensemble_devkit.demo import COACHES
from ensemble_devkit.synthetic import adt_message

from ..e2e.test_care_flow import high_risk
from ..flow import Ensemble, fresh_nhs_numbers, send_through_fault, wait_for
from ..quiescence import wait_until_quiet

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]
PATIENTS = 120
CYCLES = 5  # each cycle per patient: A&E attendance, emergency admission, discharge
SENDERS = 4


def stream_for(patients: list[str], run: str) -> list[tuple[str, str]]:
    """(NHS number, message) pairs, each patient's messages in the order they happened."""
    messages = []
    for cycle in range(CYCLES):
        for index, nhs in enumerate(patients):
            practice = ("L85001", "L85002", "L85003")[index % 3]
            visit = f"{run}-{nhs}-{cycle}"
            ae = adt_message("A04", nhs, practice, f"{visit}-ae", f"{visit}-ae", patient_class="E")
            messages.append((nhs, ae))
            messages.append((nhs, adt_message("A01", nhs, practice, f"{visit}-in", visit)))
            messages.append((nhs, adt_message("A03", nhs, practice, f"{visit}-out", visit)))
    return messages


def expectations(ensemble: Ensemble, patients: list[str]) -> dict[str, int]:
    marks = ",".join("?" * len(patients))
    return {
        # One alert per encounter for the registered practice (PD1-3); a roster listing a
        # patient would add its own alerts (recipient_reason roster), counted apart.
        "alerts": ensemble.count(
            "hospital-feed",
            f"SELECT count(*) FROM practice_alerts WHERE kind <> 'hot_onboarding' "
            f"AND recipient_reason = 'registered' AND nhs_number IN ({marks})",
            *patients,
        ),
        "roster alerts": ensemble.count(
            "hospital-feed",
            f"SELECT count(*) FROM practice_alerts WHERE recipient_reason <> 'registered' "
            f"AND nhs_number IN ({marks})",
            *patients,
        ),
        # Every message names a practice: nothing may be left without a recipient.
        "unrouted": ensemble.count(
            "hospital-feed",
            f"SELECT count(*) FROM unrouted_alerts WHERE nhs_number IN ({marks})",
            *patients,
        ),
        # Each hot onboarding trigger comes back to the practice as one alert.
        "hot onboarding alerts": ensemble.count(
            "hospital-feed",
            f"SELECT count(*) FROM practice_alerts WHERE kind = 'hot_onboarding' "
            f"AND recipient_reason = 'registered' AND nhs_number IN ({marks})",
            *patients,
        ),
        "triggers": ensemble.count(
            "scoring",
            f"SELECT count(*) FROM hot_onboarding_triggers WHERE nhs_number IN ({marks})",
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


def scheduling_counts(ensemble: Ensemble, patients: list[str]) -> dict[str, int]:
    """These patients' first sessions, the referrals they belong to, and first sessions
    waiting for capacity, from scheduling's store."""
    marks = ",".join("?" * len(patients))

    def count(sql: str) -> int:
        return ensemble.count("scheduling", sql.format(marks=marks), *patients)

    return {
        "appointments": count(  # first sessions (each programme books its others too)
            "SELECT count(*) FROM appointments WHERE kind = 'first' AND nhs_number IN ({marks})"
        ),
        "referrals booked": count(
            "SELECT count(DISTINCT referral_id) FROM appointments WHERE nhs_number IN ({marks})"
        ),
        "waiting": count(
            "SELECT count(*) FROM waiting_list WHERE session_number = 1 AND nhs_number IN ({marks})"
        ),
    }


def kill_9_and_restart(ensemble: Ensemble, service: str) -> None:
    """The service is down from the kill until its new process is ready: no extra pause."""
    process = ensemble.system.processes[service]
    process.kill9()
    process.start()
    process.wait_ready()


def run_stream_with_fault(ensemble: Ensemble, fault: Callable[[], None]) -> None:
    run = uuid.uuid4().hex[:6]
    patients = fresh_nhs_numbers(PATIENTS)
    high_risk_patients = patients[: PATIENTS // 4]
    ensemble.load_profiles([high_risk(n, "L85001") for n in high_risk_patients])
    messages = stream_for(patients, run)

    def post(patient_and_message: tuple[str, str]) -> None:
        assert "MSA|AA" in ensemble.post_adt(patient_and_message[1], retry_for=90)

    # Several senders, as a trust's engine has, each keeping its patients' order.
    posted = send_through_fault(messages, post, fault, lane_of=lambda pair: pair[0], lanes=SENDERS)
    assert posted == len(messages)

    total = len(messages)

    def settled() -> dict[str, int] | None:
        counts = expectations(ensemble, patients)
        complete = counts["alerts"] == total and counts["encounters scored"] == total
        complete = complete and counts["hot onboarding alerts"] == counts["triggers"]
        return counts if complete and counts["referrals"] == counts["patients triggered"] else None

    counts = wait_for(settled, 180, "every store to catch up")
    assert counts["patients triggered"] > 0, "high-risk admissions must trigger hot onboarding"
    assert (counts["roster alerts"], counts["unrouted"]) == (0, 0)  # no roster lists them
    wait_until_quiet(ensemble)  # anything duplicated late has landed by now
    assert expectations(ensemble, patients) == counts
    messages_stored = ensemble.count(
        "hospital-feed",
        "SELECT count(*) FROM hl7_messages WHERE control_id LIKE ?",
        f"{run}-%",
    )
    assert messages_stored == total


@pytest.mark.parametrize(
    ("service", "store"),
    [
        ("hospital-feed", "sqlite"),
        ("scoring", "sqlite"),
        ("referral", "sqlite"),
        pytest.param("hospital-feed", "postgresql", marks=pytest.mark.postgres),
        pytest.param("scoring", "postgresql", marks=pytest.mark.postgres),
    ],
)
def test_kill_9_of_a_service_mid_stream_loses_and_duplicates_nothing(
    request: pytest.FixtureRequest, service: str, store: str
) -> None:
    ensemble: Ensemble = request.getfixturevalue(
        "ensemble" if store == "sqlite" else "ensemble_on_postgres"
    )
    run_stream_with_fault(ensemble, partial(kill_9_and_restart, ensemble, service))


def test_kill_9_of_scheduling_mid_stream_books_each_accepted_referral_once(
    ensemble: Ensemble,
) -> None:
    """Scheduling consumes accepted referrals; crash it while a stream of them arrives."""
    ensemble.load_coaches(COACHES)
    patients = fresh_nhs_numbers(300)
    languages = ["pa", "hi", "ur", "gu", "pl", "en", None]
    referral_ids = []
    for index, nhs in enumerate(patients):
        created = ensemble.client.post(
            ensemble.url("referral", "/v1/referrals"),
            json={
                "nhs_number": nhs,
                "service": "health_coaching",
                "preferred_language": languages[index % len(languages)],
            },
            headers=ensemble.practice("L85002"),
        )
        assert created.status_code == 201, created.text
        referral_ids.append(created.json()["referral_id"])

    def accept(referral_id: str) -> None:
        response = ensemble.client.post(
            ensemble.url("referral", f"/v1/referrals/{referral_id}/accept"),
            headers=ensemble.staff(),
        )
        assert response.status_code == 200, response.text

    for referral_id in referral_ids:  # triage and consent come before acceptance
        ensemble.ready_to_accept(referral_id)
    crash = partial(kill_9_and_restart, ensemble, "scheduling")
    accepted = send_through_fault(referral_ids, accept, crash, timeout=300)
    assert accepted == len(referral_ids)

    def settled() -> dict[str, int] | None:
        counts = scheduling_counts(ensemble, patients)
        return counts if counts["appointments"] + counts["waiting"] == len(patients) else None

    counts = wait_for(settled, 120, "every accepted referral to be booked or waiting")
    assert counts["appointments"] > 0
    assert counts["referrals booked"] == counts["appointments"], "one appointment per referral"
    wait_until_quiet(ensemble)  # anything duplicated late has landed by now
    assert scheduling_counts(ensemble, patients) == counts
    double_booked = ensemble.count(
        "scheduling",
        "SELECT count(*) FROM appointments a JOIN appointments b ON a.coach_id = b.coach_id "
        "AND a.appointment_id < b.appointment_id AND a.status <> 'cancelled' "
        "AND b.status <> 'cancelled' AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at",
    )
    assert double_booked == 0
    booked_events = ensemble.count(
        "scheduling",
        "SELECT count(*) FROM outbox WHERE event_type = 'appointment.booked'",
    )
    all_appointments = ensemble.count("scheduling", "SELECT count(*) FROM appointments")
    assert booked_events == all_appointments, "one booked event per appointment"


def test_broker_restart_mid_stream_loses_and_duplicates_nothing(ensemble: Ensemble) -> None:
    if not ensemble.broker.restartable:
        pytest.skip("the broker is external (KAFKA_BOOTSTRAP_SERVERS/Docker): cannot restart it")

    def restart_broker() -> None:  # stop waits for the exit, start for the broker to be ready
        ensemble.broker.stop()
        ensemble.broker.start()

    run_stream_with_fault(ensemble, restart_broker)

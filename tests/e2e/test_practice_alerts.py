"""Practice alerts on real Kafka: risk in view, the live stream, acknowledgement, isolation."""

import json
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from ensemble_devkit.synthetic import adt_message

from ..flow import Ensemble, fresh_nhs_numbers, wait_for
from .test_care_flow import high_risk

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]


@contextmanager
def alert_stream(
    ensemble: Ensemble, ods: str, last_event_id: int | None = None, token_of: str | None = None
) -> Iterator["queue.Queue[dict[str, Any]]"]:
    """The practice's SSE stream read on a thread: each alert lands in the queue with its
    SSE id."""
    headers = ensemble.practice(token_of or ods)
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    received: queue.Queue[dict[str, Any]] = queue.Queue()
    opened = threading.Event()
    stop = threading.Event()
    url = ensemble.url("hospital-feed", f"/v1/practices/{ods}/alerts/stream")

    def read() -> None:
        with (
            httpx.Client(timeout=httpx.Timeout(30, read=60)) as client,
            client.stream("GET", url, headers=headers) as response,
        ):
            received.put({"status": response.status_code})
            opened.set()
            event: dict[str, str] = {}
            for line in response.iter_lines():
                if stop.is_set():
                    return
                if not line:
                    if "data" in event:
                        received.put({"id": int(event["id"]), **json.loads(event["data"])})
                    event = {}
                elif not line.startswith(":"):
                    name, _, value = line.partition(":")
                    event[name] = value.strip()

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    assert opened.wait(10), "the stream did not open"
    try:
        yield received
    finally:
        stop.set()


def next_alert(received: "queue.Queue[dict[str, Any]]", timeout: float = 10) -> dict[str, Any]:
    return received.get(timeout=timeout)


def test_an_admission_reaches_the_open_stream_with_its_risk_band_and_resumes_without_gaps(
    ensemble_on_each_store: Ensemble,
) -> None:
    ensemble = ensemble_on_each_store
    frail, other = fresh_nhs_numbers(2)
    ensemble.load_profiles([high_risk(frail, "L85001")])
    # scoring publishes the first band; hospital-feed projects it before the admission.
    wait_for(
        lambda: ensemble.count(
            "hospital-feed", "SELECT count(*) FROM patient_risk WHERE nhs_number = ?", frail
        ),
        20,
        "risk band projected in hospital-feed",
    )
    with alert_stream(ensemble, "L85001") as stream, alert_stream(ensemble, "L85002") as theirs:
        assert next_alert(stream) == {"status": 200}
        assert next_alert(theirs) == {"status": 200}
        ensemble.post_adt(adt_message("A01", frail, "L85001", f"SSE-{frail}", f"V{frail}"))
        # The admission's alert, and scoring's hot onboarding back as an alert: two hops
        # (encounter -> scoring -> hot onboarding) may beat the one, so in either order.
        frails: dict[str, dict[str, Any]] = {}
        while set(frails) != {"admitted", "hot_onboarding"}:
            alert = next_alert(stream, 20)
            if alert["nhs_number"] == frail:  # alerts of earlier tests may come first
                assert alert["kind"] not in frails, "one alert per event"
                frails[alert["kind"]] = alert
        admitted, hot = frails["admitted"], frails["hot_onboarding"]
        assert (admitted["kind"], admitted["emergency"], admitted["title"]) == (
            "admitted",
            True,
            "Emergency admission",
        )
        assert admitted["risk_band"] in {"high", "very_high"}
        assert admitted["risk_reasons"], "the band explains itself"
        assert admitted["id"] == admitted["alert_id"]
        # Another practice's stream carries nothing of it.
        ensemble.post_adt(adt_message("A01", other, "L85002", f"SSE-{other}", f"V{other}"))
        mine = next_alert(theirs)
        while mine["nhs_number"] != other:
            assert mine["nhs_number"] != frail
            mine = next_alert(theirs)

    # Resume after the first of the two: exactly the later alerts, the second among them.
    earlier, second = sorted((admitted, hot), key=lambda a: int(a["alert_id"]))
    with alert_stream(ensemble, "L85001", last_event_id=earlier["alert_id"]) as resumed:
        assert next_alert(resumed) == {"status": 200}
        first = next_alert(resumed)
        assert first["alert_id"] > earlier["alert_id"]
        later = [first]
        while later[-1]["alert_id"] < second["alert_id"]:
            later.append(next_alert(resumed))
        assert [a["alert_id"] for a in later] == sorted({a["alert_id"] for a in later})
        assert second["alert_id"] in [a["alert_id"] for a in later]
    with alert_stream(ensemble, "L85001", token_of="L85002") as refused:
        assert next_alert(refused) == {"status": 403}


def test_a_practice_marks_an_alert_actioned_and_another_practice_cannot(
    ensemble_on_each_store: Ensemble,
) -> None:
    ensemble = ensemble_on_each_store
    (nhs,) = fresh_nhs_numbers(1)
    ensemble.post_adt(
        adt_message("A01", nhs, "L85001", f"ACK-{nhs}", f"V{nhs}", admission_type="11")
    )
    (alert,) = wait_for(lambda: ensemble.alerts_for("L85001", nhs), 10, "practice alert")
    assert (alert["emergency"], alert["title"], alert["state"]) == (
        False,
        "Elective admission",
        "new",
    )
    path = f"/v1/practices/L85001/alerts/{alert['alert_id']}/actioned"
    refused = ensemble.client.post(
        ensemble.url("hospital-feed", path.replace("L85001", "L85002")),
        json={"outcome": "called_patient"},
        headers=ensemble.practice("L85002"),
    )
    assert refused.status_code == 404  # its own path: no such alert of L85002's
    done = ensemble.client.post(
        ensemble.url("hospital-feed", path),
        json={"outcome": "called_patient"},
        headers=ensemble.practice("L85001"),
    )
    assert done.status_code == 200
    (after,) = ensemble.alerts_for("L85001", nhs)
    assert (after["state"], after["outcome"]) == ("actioned", "called_patient")
    assert after["actioned_by"] and after["actioned_at"] and after["seen_at"]

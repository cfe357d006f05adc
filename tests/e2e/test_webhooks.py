"""Webhooks on real Kafka: the receiver example as a process, an admission posted over HTTP,
delivered once and signed; retried through failures; a hanging practice holding up no one
else; kill -9 of hospital-feed mid-delivery; dead after the last attempt, then replayed.

The system runs with quick retries and dead after three attempts (tests/conftest.py,
WEBHOOK_ENV). Each test registers its receivers and removes them again, since the system
(and its practices) lives for the whole session.
"""

import itertools
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ensemble_devkit.synthetic import adt_message

from ..conftest import BASE_PORT
from ..flow import Ensemble, fresh_nhs_numbers, wait_for
from .test_faults import kill_9_and_restart

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]
_ports = itertools.count(BASE_PORT + 60)  # below the ephemeral range, apart from the services


@dataclass
class Receiver:
    """The receiver example (ensemble_devkit.webhook_receiver) running as its own process."""

    process: "subprocess.Popen[bytes]"
    url: str
    out: Path

    def effects(self, nhs_number: str) -> list[dict[str, Any]]:
        """What the receiver did for one patient: one line per alert it took."""
        if not self.out.exists():
            return []
        lines = [json.loads(line) for line in self.out.read_text().splitlines() if line]
        return [line for line in lines if line["alert"].get("nhs_number") == nhs_number]

    def stats(self) -> dict[str, Any]:
        return dict(httpx.get(f"{self.url}stats", timeout=5).json())


@contextmanager
def receiver(ensemble: Ensemble, tmp_path: Path, practice: str, *flags: str) -> Iterator[Receiver]:
    """Register a webhook for `practice` (its own token), start the receiver with the secret
    it was given, and remove both afterwards."""
    port = next(_ports)
    url = f"http://127.0.0.1:{port}/"
    hook = ensemble.url("hospital-feed", f"/v1/practices/{practice}/webhook")
    ensemble.client.delete(hook, headers=ensemble.practice(practice))  # one left by a failure
    created = ensemble.client.put(hook, json={"url": url}, headers=ensemble.practice(practice))
    assert created.status_code == 201, created.text
    secret_file, out = tmp_path / f"{practice}.secret", tmp_path / f"{practice}.jsonl"
    secret_file.write_text(created.json()["secret"])
    with (tmp_path / f"{practice}.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "ensemble_devkit.webhook_receiver", "--port", str(port),
             "--secret-file", str(secret_file), "--out", str(out), *flags],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    running = Receiver(process, url, out)
    try:
        wait_for(lambda: _answers(url), 20, "the webhook receiver to listen")
        yield running
    finally:
        removed = ensemble.client.delete(hook, headers=ensemble.practice(practice))
        assert removed.status_code in (204, 404)
        process.kill()
        process.wait(10)


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def admit(ensemble: Ensemble, practice: str) -> tuple[str, int]:
    """An emergency admission of a new patient of `practice`, posted over HTTP: the patient
    and the id of their alert."""
    (nhs,) = fresh_nhs_numbers(1)
    ack = ensemble.post_adt(adt_message("A01", nhs, practice, f"WH-{nhs}", f"V{nhs}"))
    assert "MSA|AA" in ack
    (alert,) = wait_for(lambda: ensemble.alerts_for(practice, nhs), 20, "the practice alert")
    return nhs, int(alert["alert_id"])


def delivery_of(ensemble: Ensemble, practice: str, alert_id: int) -> dict[str, Any] | None:
    """The staff view of the webhook delivery of one alert, if it is planned."""
    after: int | None = 0
    while after is not None:
        response = ensemble.client.get(
            ensemble.url("hospital-feed", "/v1/staff/webhooks/deliveries"),
            params={"recipient": practice, "after": after, "limit": 1000},
            headers=ensemble.staff(),
        )
        response.raise_for_status()
        page = response.json()
        for delivery in page["deliveries"]:
            if delivery["alert_id"] == alert_id:
                return dict(delivery)
        after = page["next_after"]
    return None


def delivered(ensemble: Ensemble, practice: str, alert_id: int) -> dict[str, Any] | None:
    found = delivery_of(ensemble, practice, alert_id)
    return found if found is not None and found["status"] == "delivered" else None


def test_an_admission_reaches_the_practice_webhook_once_signed(
    ensemble_on_each_store: Ensemble, tmp_path: Path
) -> None:
    ensemble = ensemble_on_each_store
    with receiver(ensemble, tmp_path, "L85001") as hook:
        nhs, alert_id = admit(ensemble, "L85001")
        (effect,) = wait_for(lambda: hook.effects(nhs), 20, "the alert at the receiver")
        assert effect["type"] == "alert.created"
        assert effect["alert"]["alert_id"] == alert_id
        assert (effect["alert"]["kind"], effect["alert"]["emergency"]) == ("admitted", True)
        done = wait_for(lambda: delivered(ensemble, "L85001", alert_id), 20, "delivered")
        assert (done["webhook_id"], done["attempts"]) == (effect["webhook_id"], 1)
        stats = hook.stats()
        assert stats["refused"] == 0, "every request was signed with the secret"
        assert stats["attempts"][effect["webhook_id"]] == 1
        assert hook.effects(nhs) == [effect]


def test_a_receiver_that_fails_twice_gets_the_alert_on_the_third_attempt_once(
    ensemble: Ensemble, tmp_path: Path
) -> None:
    with receiver(ensemble, tmp_path, "L85002", "--fail-times", "2") as hook:
        nhs, alert_id = admit(ensemble, "L85002")
        done = wait_for(lambda: delivered(ensemble, "L85002", alert_id), 30, "delivered")
        assert (done["attempts"], done["last_status_code"]) == (3, 200)
        (effect,) = hook.effects(nhs)
        assert effect["webhook_id"] == done["webhook_id"]
        assert hook.stats()["attempts"][done["webhook_id"]] == 3


def test_a_hanging_receiver_holds_up_no_other_practice(ensemble: Ensemble, tmp_path: Path) -> None:
    with (
        receiver(ensemble, tmp_path, "L85002", "--delay-seconds", "120") as hanging,
        receiver(ensemble, tmp_path, "L85003") as other,
    ):
        stuck_nhs, stuck_alert = admit(ensemble, "L85002")
        wait_for(lambda: delivery_of(ensemble, "L85002", stuck_alert), 20, "planned for L85002")
        nhs, alert_id = admit(ensemble, "L85003")
        wait_for(lambda: other.effects(nhs), 20, "L85003's alert at its receiver")
        assert delivered(ensemble, "L85003", alert_id)
        stuck = delivery_of(ensemble, "L85002", stuck_alert)
        assert stuck is not None
        assert (stuck["status"], stuck["attempts"]) == ("pending", 0), "its attempt still hangs"
        assert hanging.effects(stuck_nhs) == []


def test_kill_9_of_hospital_feed_mid_delivery_delivers_it_once_after_the_restart(
    ensemble: Ensemble, tmp_path: Path
) -> None:
    # The receiver acts on the alert, then is slow to answer: hospital-feed dies meanwhile,
    # so it never learns that the delivery arrived.
    with receiver(ensemble, tmp_path, "L85001", "--hold-first-seconds", "120") as hook:
        nhs, alert_id = admit(ensemble, "L85001")
        (effect,) = wait_for(lambda: hook.effects(nhs), 20, "the alert at the receiver")
        kill_9_and_restart(ensemble, "hospital-feed")
        done = wait_for(lambda: delivered(ensemble, "L85001", alert_id), 30, "delivered")
        assert done["webhook_id"] == effect["webhook_id"]
        assert hook.stats()["attempts"][effect["webhook_id"]] == 2, "sent again, same id"
        assert hook.effects(nhs) == [effect], "and acted on once"


def test_a_delivery_dead_after_the_last_attempt_is_listed_and_a_replay_delivers_it(
    ensemble: Ensemble, tmp_path: Path
) -> None:
    with receiver(ensemble, tmp_path, "L85003", "--fail-times", "3") as hook:
        nhs, alert_id = admit(ensemble, "L85003")

        def dead() -> dict[str, Any] | None:
            found = delivery_of(ensemble, "L85003", alert_id)
            return found if found is not None and found["status"] == "dead" else None

        lost = wait_for(dead, 30, "the delivery dead")
        assert (lost["attempts"], lost["last_status_code"]) == (3, 500)
        assert hook.effects(nhs) == []
        listed = ensemble.client.get(
            ensemble.url("hospital-feed", "/v1/staff/webhooks/deliveries"),
            params={"status": "dead", "recipient": "L85003", "limit": 1000},
            headers=ensemble.staff(),
        ).json()["deliveries"]
        assert lost["id"] in [d["id"] for d in listed]
        assert nhs not in json.dumps(listed), "no patient in the staff list"
        replay = ensemble.client.post(
            ensemble.url("hospital-feed", f"/v1/staff/webhooks/deliveries/{lost['id']}/replay"),
            headers=ensemble.staff(),
        )
        assert replay.status_code == 200 and replay.json()["status"] == "pending"
        done = wait_for(lambda: delivered(ensemble, "L85003", alert_id), 30, "replayed")
        assert done["webhook_id"] == lost["webhook_id"]
        (effect,) = hook.effects(nhs)
        assert effect["webhook_id"] == lost["webhook_id"]

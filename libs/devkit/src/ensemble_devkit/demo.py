"""The synthetic demo `make run` feeds: practices, patients, coaches, then a live ADT stream."""

import contextlib
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

import httpx

from ensemble_devkit.leftovers import ServiceRecord
from ensemble_devkit.processes import ProcessIdentity
from ensemble_devkit.synthetic import adt_message, test_nhs_numbers
from ensemble_devkit.system import PRACTICES, Credentials, ServiceFailed, lifeline
from ensemble_runtime.lifeline import LIFELINE_FD

WEBHOOK_PORT_OFFSET = 9  # the demo's webhook receiver: base port + 9 (8009)
RECEIVER = "webhook-receiver"  # its pid file's name

LANGUAGES = ("en", "en", "en", "pa", "hi", "ur", "gu", "bn", "pl")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")

COACHES: list[dict[str, Any]] = [
    {
        "coach_id": "C01",
        "display_name": "Asha",
        "languages": ["en", "hi", "pa"],
        "timezone": "Asia/Kolkata",
        "weekly_hours": {d: [["12:30", "21:30"]] for d in WEEKDAYS},
    },
    {
        "coach_id": "C02",
        "display_name": "Imran",
        "languages": ["en", "ur", "hi"],
        "timezone": "Asia/Kolkata",
        "weekly_hours": {d: [["12:30", "21:30"]] for d in WEEKDAYS},
    },
    {
        "coach_id": "C03",
        "display_name": "Priya",
        "languages": ["en", "gu", "bn"],
        "timezone": "Asia/Kolkata",
        "weekly_hours": {d: [["10:00", "18:00"]] for d in WEEKDAYS},
    },
    {
        "coach_id": "C04",
        "display_name": "Ola",
        "languages": ["en", "pl"],
        "timezone": "Europe/London",
        "weekly_hours": {d: [["09:00", "17:00"]] for d in WEEKDAYS},
    },
    # Complex care is another team (keyworkers), booked apart from health coaching.
    {
        "coach_id": "K01",
        "display_name": "Harpreet",
        "languages": ["en", "pa", "hi"],
        "timezone": "Europe/London",
        "weekly_hours": {d: [["09:00", "17:00"]] for d in WEEKDAYS},
        "team": "complex_care",
    },
    {
        "coach_id": "K02",
        "display_name": "Tom",
        "languages": ["en", "ur"],
        "timezone": "Europe/London",
        "weekly_hours": {d: [["09:00", "17:00"]] for d in WEEKDAYS},
        "team": "complex_care",
    },
]


def high_risk_profile(nhs_number: str, practice: str, rng: random.Random) -> dict[str, Any]:
    return {
        "nhs_number": nhs_number,
        "practice_ods": practice,
        "birth_date": f"{rng.randint(1930, 1950)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
        "conditions": rng.sample(
            ["diabetes", "copd", "chd", "ckd", "heart_failure", "depression", "dementia", "stroke"],
            4,
        ),
        "repeat_medicines": rng.randint(8, 14),
        "efi_deficits": rng.randint(10, 16),
        "deprivation_quintile": rng.choice([1, 1, 2]),
        "preferred_language": rng.choice(LANGUAGES),
    }


def ordinary_profile(nhs_number: str, practice: str, rng: random.Random) -> dict[str, Any]:
    return {
        "nhs_number": nhs_number,
        "practice_ods": practice,
        "birth_date": f"{rng.randint(1950, 2000)}-0{rng.randint(1, 9)}-2{rng.randint(0, 8)}",
        "conditions": rng.sample(["asthma", "hypertension", "diabetes"], rng.randint(0, 1)),
        "repeat_medicines": rng.randint(0, 3),
        "efi_deficits": rng.randint(0, 3),
        "deprivation_quintile": rng.randint(2, 5),
        "preferred_language": rng.choice(LANGUAGES),
    }


@dataclass
class Demo:
    credentials: Credentials
    patients: int = 60
    high_risk: int = 10
    rng: random.Random = field(default_factory=lambda: random.Random(2026))
    profiles: list[dict[str, Any]] = field(default_factory=list)
    in_hospital: dict[str, str] = field(default_factory=dict)  # nhs -> visit number
    sent: int = 0

    def __post_init__(self) -> None:
        for index, nhs in enumerate(islice(test_nhs_numbers(), self.patients)):
            practice = PRACTICES[index % len(PRACTICES)]
            make = high_risk_profile if index < self.high_risk else ordinary_profile
            self.profiles.append(make(nhs, practice, self.rng))
        self.staff = {"Authorization": f"Bearer {self.credentials.staff}"}

    def url(self, service: str, path: str) -> str:
        return self.credentials.services[service] + path

    def load_reference_data(self) -> None:
        body = "\n".join(json.dumps(p) for p in self.profiles)
        httpx.post(
            self.url("scoring", "/v1/profiles"), content=body, headers=self.staff, timeout=30
        ).raise_for_status()
        httpx.post(
            self.url("scheduling", "/v1/coaches"), json=COACHES, headers=self.staff, timeout=30
        ).raise_for_status()

    def post_adt(self, message: str) -> str:
        token = next(iter(self.credentials.senders.values()))
        response = httpx.post(
            self.url("hospital-feed", "/v1/hl7v2"),
            content=message.encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/hl7-v2"},
            timeout=30,
        )
        response.raise_for_status()
        self.sent += 1
        return str(response.text)

    def next_event(self) -> str:
        """Admit (often a high-risk patient), send to A&E, or discharge someone in hospital."""
        control = f"DEMO{time.time_ns()}"
        if self.in_hospital and self.rng.random() < 0.35:
            nhs, visit = self.rng.choice(sorted(self.in_hospital.items()))
            del self.in_hospital[nhs]
            return adt_message("A03", nhs, self.practice_of(nhs), control, visit)
        pool = self.profiles[: self.high_risk] if self.rng.random() < 0.5 else self.profiles
        profile = self.rng.choice(pool)
        visit = f"V{self.rng.randint(100000, 999999)}"
        if self.rng.random() < 0.4:
            return adt_message(
                "A04",
                profile["nhs_number"],
                profile["practice_ods"],
                control,
                visit,
                patient_class="E",
                location="ED^CUBE1^RCB",
            )
        self.in_hospital[profile["nhs_number"]] = visit
        return adt_message(
            "A01",
            profile["nhs_number"],
            profile["practice_ods"],
            control,
            visit,
            event_at=datetime.now(UTC) - timedelta(minutes=self.rng.randint(1, 90)),
        )

    def practice_of(self, nhs: str) -> str:
        return str(next(p["practice_ods"] for p in self.profiles if p["nhs_number"] == nhs))

    def accept_proposed_referrals(self) -> int:
        """Stands in for the complex-care team triaging hot-onboarding proposals."""
        listing = httpx.get(
            self.url("referral", "/v1/referrals"),
            params={"status": "proposed"},
            headers=self.staff,
            timeout=30,
        )
        listing.raise_for_status()
        accepted = 0
        # Triage and consent come before acceptance (issue 12).
        steps = (
            ("triage", {"priority": "urgent"}),
            ("consent", {"decision": "given", "method": "phone"}),
            ("accept", None),
        )
        for referral in listing.json()["referrals"]:
            for step, body in steps:
                response = httpx.post(
                    self.url("referral", f"/v1/referrals/{referral['referral_id']}/{step}"),
                    json=body,
                    headers=self.staff,
                    timeout=30,
                )
                if response.status_code != 200:
                    break
            accepted += response.status_code == 200
        return accepted


@contextlib.contextmanager
def webhook_receiver(run_dir: Path, port: int) -> Iterator[tuple[str, Path, Path]]:
    """The example receiver (ensemble_devkit.webhook_receiver) as a process of its own, as a
    practice's system would be: yields its URL, the secret file it verifies with, and the
    JSON-lines file it appends each alert to. Like the services it holds the launcher's
    lifeline (it stops when the launcher is gone, even on kill -9) and is recorded in the run's
    pid files (a later run stops it if it is still there)."""
    folder = run_dir / "webhooks"
    folder.mkdir(parents=True, exist_ok=True)
    secret, received = folder / "secret.txt", folder / "received.jsonl"
    secret.touch(mode=0o600)
    with (folder / "receiver.log").open("ab") as log:
        files = ["--secret-file", str(secret), "--out", str(received)]
        process = subprocess.Popen(
            [sys.executable, "-m", "ensemble_devkit.webhook_receiver", "--port", str(port), *files],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, LIFELINE_FD: str(lifeline())},
            pass_fds=(lifeline(),),
            start_new_session=True,  # Ctrl-C reaches the launcher, which stops it in order
        )
    identity = ProcessIdentity.of(process.pid)
    if identity is not None:  # None: it died at once; _wait_until_up says so
        ServiceRecord(RECEIVER, identity, ProcessIdentity.me()).write(run_dir / "pids")
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(process, f"{url}/healthz")
        yield f"{url}/alerts", secret, received
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        (run_dir / "pids" / f"{RECEIVER}.json").unlink(missing_ok=True)


def _wait_until_up(process: subprocess.Popen[bytes], health: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceFailed("the demo webhook receiver exited; see run/webhooks/receiver.log")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(health, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise ServiceFailed("the demo webhook receiver did not start; see run/webhooks/receiver.log")


def register_webhook(credentials: Credentials, practice: str, url: str, secret: Path) -> None:
    """The practice registers its endpoint with its own token; the secret it is shown once
    goes where the receiver reads it. An earlier run's registration is removed first: a new
    one gets a new secret (and starts after the newest alert, so no backlog floods in)."""
    endpoint = credentials.services["hospital-feed"] + f"/v1/practices/{practice}/webhook"
    auth = {"Authorization": f"Bearer {credentials.practices[practice]}"}
    httpx.delete(endpoint, headers=auth, timeout=30)  # 204, or 404 on a first run
    response = httpx.put(endpoint, json={"url": url}, headers=auth, timeout=30)
    response.raise_for_status()
    secret.write_text(response.json()["secret"] + "\n")

"""A small driver for the running system: HTTP calls, waits, store counts and topic reads."""

import asyncio
import json
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, TypeVar

import httpx
from aiokafka import AIOKafkaConsumer
from sqlalchemy import Engine, create_engine, text

from ensemble_devkit.kafka import KafkaBroker
from ensemble_devkit.synthetic import test_nhs_numbers
from ensemble_devkit.system import LocalSystem

T = TypeVar("T")
_unused_numbers = test_nhs_numbers(start=random.randint(1_000, 400_000))


def fresh_nhs_numbers(how_many: int) -> list[str]:
    """Valid test NHS numbers not handed out before in this test session."""
    return list(islice(_unused_numbers, how_many))


def wait_for(probe: Callable[[], T | None], timeout: float = 30.0, what: str = "") -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = probe()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or probe}")


def send_through_fault(
    items: Sequence[T],
    send: Callable[[T], object],
    fault: Callable[[], None],
    timeout: float = 600.0,
    lane_of: Callable[[T], object] | None = None,
    lanes: int = 1,
) -> int:
    """Send `items` while `fault` strikes; return how many were sent.

    With `lane_of`, items go out on `lanes` threads, each sending in order the items whose
    `lane_of` key hashes to it (a patient's messages stay in order, as from one sender).
    Gated on events, not timing: the fault starts once every lane has sent a third of its
    items, and each lane waits at two thirds until the fault is over. So the fault always
    strikes while the stream is in flight, and the last third always goes after it.
    """
    queues: list[list[T]] = [[] for _ in range(lanes if lane_of else 1)]
    for item in items:
        queues[hash(lane_of(item)) % len(queues) if lane_of else 0].append(item)
    assert all(len(queue) >= 3 for queue in queues), "too few items to strike mid-stream"
    lanes_at_third = threading.Semaphore(0)  # released once per lane past its third (or stopped)
    fault_over = threading.Event()  # set once the fault has completed (or failed)
    fault_failed = threading.Event()
    errors: list[BaseException] = []
    sent = [0] * len(queues)

    def sender(lane: int) -> None:
        queue = queues[lane]
        third, two_thirds = len(queue) // 3, 2 * len(queue) // 3
        told = False
        try:
            for index, item in enumerate(queue):
                if index == third:
                    lanes_at_third.release()
                    told = True
                if index == two_thirds:
                    if not fault_over.wait(timeout):
                        raise TimeoutError(f"the fault was not over after {timeout}s")
                    if fault_failed.is_set():
                        return
                send(item)
                sent[lane] += 1
        except BaseException as error:
            errors.append(error)
        finally:
            if not told:  # a sender that stopped early must not leave the fault waiting
                lanes_at_third.release()

    threads = [
        threading.Thread(target=sender, args=(lane,), name=f"stream-sender-{lane}", daemon=True)
        for lane in range(len(queues))
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    try:
        for _ in threads:
            if not lanes_at_third.acquire(timeout=max(0.0, deadline - time.monotonic())):
                raise AssertionError(f"a third of the stream was not sent within {timeout}s")
        if errors:
            raise errors[0]
        fault()
    except BaseException:
        fault_failed.set()
        raise
    finally:
        fault_over.set()
        for thread in threads:
            thread.join(timeout)
    if any(thread.is_alive() for thread in threads):
        raise AssertionError(f"the stream was not sent within {timeout}s of the fault")
    if errors:
        raise errors[0]
    return sum(sent)


@dataclass
class Ensemble:
    system: LocalSystem
    broker: KafkaBroker
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))
    _stores: dict[str, Engine] = field(default_factory=dict)

    @property
    def credentials(self) -> Any:
        return self.system.credentials

    def url(self, service: str, path: str) -> str:
        return str(self.credentials.services[service]) + path

    def staff(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credentials.staff}"}

    def practice(self, ods: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credentials.practices[ods]}"}

    def post_adt(self, message: str, retry_for: float = 0.0) -> str:
        """POST one ADT; while `retry_for` lasts, resend on connection errors like an engine."""
        token = self.credentials.senders["RCB"]
        deadline = time.monotonic() + retry_for
        while True:
            try:
                response = self.client.post(
                    self.url("hospital-feed", "/v1/hl7v2"),
                    content=message.encode(),
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Content-Type": "application/hl7-v2",
                    },
                )
                response.raise_for_status()
                return response.text
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def load_profiles(self, profiles: list[dict[str, Any]]) -> None:
        body = "\n".join(json.dumps(p) for p in profiles)
        self.client.post(
            self.url("scoring", "/v1/profiles"), content=body, headers=self.staff()
        ).raise_for_status()

    def load_coaches(self, coaches: list[dict[str, Any]]) -> None:
        self.client.post(
            self.url("scheduling", "/v1/coaches"), json=coaches, headers=self.staff()
        ).raise_for_status()

    def referral_step(
        self, referral_id: str, step: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """A staff decision on a referral (`triage`, `consent`, `accept`, `assign`, ...)."""
        response = self.client.post(
            self.url("referral", f"/v1/referrals/{referral_id}/{step}"),
            json=body,
            headers=self.staff(),
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    def ready_to_accept(self, referral_id: str, priority: str = "routine") -> None:
        """Triage and record consent, which accepting a referral needs (issue 12)."""
        self.referral_step(referral_id, "triage", {"priority": priority})
        self.referral_step(referral_id, "consent", {"decision": "given", "method": "phone"})

    def alerts(self, ods: str, token_of: str | None = None) -> httpx.Response:
        return self.client.get(
            self.url("hospital-feed", f"/v1/practices/{ods}/alerts"),
            params={"limit": 1000},
            headers=self.practice(token_of or ods),
        )

    def all_alerts(self, ods: str) -> list[dict[str, Any]]:
        """Every alert the practice can read: all pages of its list (earlier tests leave
        thousands)."""
        found: list[dict[str, Any]] = []
        after: int | None = 0
        while after is not None:
            response = self.client.get(
                self.url("hospital-feed", f"/v1/practices/{ods}/alerts"),
                params={"limit": 1000, "after": after},
                headers=self.practice(ods),
            )
            response.raise_for_status()
            page = response.json()
            found += page["alerts"]
            after = page["next_after"]
        return found

    def alerts_for(self, ods: str, nhs_number: str) -> list[dict[str, Any]]:
        """Every alert of one patient in the practice's list."""
        return [a for a in self.all_alerts(ods) if a["nhs_number"] == nhs_number]

    def referrals_for(self, nhs_number: str) -> list[dict[str, Any]]:
        response = self.client.get(
            self.url("referral", "/v1/referrals"),
            params={"nhs_number": nhs_number},
            headers=self.staff(),
        )
        response.raise_for_status()
        return list(response.json()["referrals"])

    def appointments_for(self, nhs_number: str) -> list[dict[str, Any]]:
        response = self.client.get(
            self.url("scheduling", "/v1/appointments"),
            params={"nhs_number": nhs_number},
            headers=self.staff(),
        )
        response.raise_for_status()
        return list(response.json()["appointments"])

    def count(self, service: str, sql: str, *params: Any) -> int:
        """Count rows straight from a service's own store; `?` marks the parameters."""
        if service not in self._stores:
            # A plain engine: reads only, so no write lock is taken on a service's SQLite file.
            self._stores[service] = create_engine(self.system.database_url(service))
        names = iter(range(len(params)))
        named = re.sub(r"\?", lambda _: f":p{next(names)}", sql)
        with self._stores[service].connect() as connection:
            result = connection.execute(text(named), {f"p{i}": p for i, p in enumerate(params)})
            return int(result.scalar_one())

    def topic_records(self, topic: str, nhs_numbers: set[str], how_many: int) -> list[str]:
        """The raw events of these patients on `topic`, read from its beginning until
        `how_many` are found (60 s at most)."""

        async def read() -> list[str]:
            consumer = AIOKafkaConsumer(
                topic,
                bootstrap_servers=self.broker.bootstrap_servers,
                auto_offset_reset="earliest",
                enable_auto_commit=False,
            )
            await consumer.start()
            found: list[str] = []
            try:
                async with asyncio.timeout(60):
                    while len(found) < how_many:
                        batches = await consumer.getmany(timeout_ms=1000)
                        for records in batches.values():
                            for record in records:
                                raw = record.value.decode()
                                if json.loads(raw)["nhs_number"] in nhs_numbers:
                                    found.append(raw)
            finally:
                await consumer.stop()
            return found

        return asyncio.run(read())

    def close(self) -> None:
        self.client.close()
        for engine in self._stores.values():
            engine.dispose()

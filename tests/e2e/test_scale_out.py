"""Scale-out on real engines (issue 13 item 4): two replicas of every service, one PostgreSQL
database per service, the real broker. Mid-stream, the first replica of each service (the
one relaying its outbox) is killed with -9: its partitions move to the survivor, the
survivor's relay takes the outbox over, and every store shows nothing lost or duplicated.

The stream mixes ADT (hospital-feed → scoring → referral, alerts back to hospital-feed) with
accepted coaching referrals (referral → scheduling), so every service's consumers and relay
are in the fault. Callers spread their requests over the live replicas, as a Kubernetes
Service would, and move to the other replica when one stops answering.
"""

import asyncio
import itertools
import re
import time
import uuid
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment

from ensemble_devkit.demo import COACHES
from ensemble_devkit.system import ServiceProcess

from ..conftest import BASE_PORT
from ..flow import Ensemble, fresh_nhs_numbers, send_through_fault, wait_for
from ..quiescence import consumer_groups, wait_until_quiet
from .test_care_flow import high_risk
from .test_faults import expectations, scheduling_counts, stream_for

pytestmark = [pytest.mark.kafka, pytest.mark.e2e, pytest.mark.postgres]
PATIENTS = 40  # each with 5 cycles of 3 messages
COACHING_REFERRALS = 60
REPLICA_PORT_OFFSET = 20  # the primaries use BASE_PORT + 1..4, MLLP + 10
LEADER = re.compile(r"^ensemble_outbox_relay_leader (\S+)$", re.MULTILINE)


def start_replicas(ensemble: Ensemble) -> dict[str, ServiceProcess]:
    """A second process of each service on the same database, broker and consumer groups."""
    system = ensemble.system
    replicas = {}
    for name, primary in system.processes.items():
        spec = primary.spec
        port = BASE_PORT + REPLICA_PORT_OFFSET + spec.port_offset
        env = primary.env | {f"{spec.env_prefix}_HTTP_PORT": str(port)}
        if name == "hospital-feed":  # one MLLP listener per port: the primary has it
            env["HOSPITAL_FEED_MLLP_LISTENERS"] = "{}"
        replicas[name] = ServiceProcess(
            spec,
            env,
            system.run_dir / "logs" / f"{name}-replica.log",
            f"http://127.0.0.1:{port}",
            system.run_dir / "pids-replicas",
        )
    for replica in replicas.values():
        replica.start()
    for replica in replicas.values():
        replica.wait_ready()
    return replicas


def relays(url: str) -> bool:
    """Whether the process at `url` relays its outbox now (its /metrics says so)."""
    found = LEADER.search(httpx.get(f"{url}/metrics", timeout=5).text)
    return found is not None and float(found.group(1)) == 1.0


def group_members(bootstrap: str) -> dict[str, list[int]]:
    """Per consumer group of the system: how many partitions each member is assigned."""

    async def describe() -> dict[str, list[int]]:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            members: dict[str, list[int]] = {}
            for group in consumer_groups():
                (response,) = await admin.describe_consumer_groups([group])
                (_error, _group, _state, _type, _protocol, described, *_) = response.groups[0]
                members[group] = [
                    sum(
                        len(partitions)
                        for _topic, partitions in ConsumerProtocolMemberAssignment.decode(
                            member[4]
                        ).assignment
                    )
                    for member in described
                ]
            return members
        finally:
            await admin.close()

    return asyncio.run(describe())


class Replicated:
    """Calls a service on whichever replica answers, rotating like a load balancer."""

    def __init__(self, client: httpx.Client, urls: list[str]) -> None:
        self._client = client
        self._urls = itertools.cycle(urls)
        self.failovers = 0

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        deadline = time.monotonic() + 90
        while True:
            try:
                return self._client.request(method, next(self._urls) + path, **kwargs)
            except httpx.TransportError:
                self.failovers += 1
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


def coaching_referrals(ensemble: Ensemble, patients: list[str]) -> list[str]:
    """Referrals to coaching, triaged with consent: the stream accepts them."""
    ids = []
    for nhs in patients:
        created = ensemble.client.post(
            ensemble.url("referral", "/v1/referrals"),
            json={"nhs_number": nhs, "service": "health_coaching", "preferred_language": "en"},
            headers=ensemble.practice("L85002"),
        )
        assert created.status_code == 201, created.text
        ids.append(created.json()["referral_id"])
        ensemble.ready_to_accept(ids[-1])
    return ids


@pytest.fixture
def two_replicas(ensemble_on_postgres: Ensemble) -> Iterator[dict[str, ServiceProcess]]:
    replicas = start_replicas(ensemble_on_postgres)
    try:
        yield replicas
    finally:  # back to one process per service for the tests that follow
        for replica in replicas.values():
            replica.terminate()
        deadline = time.monotonic() + 30
        for replica in replicas.values():
            replica.wait_or_kill(deadline)
        for primary in ensemble_on_postgres.system.processes.values():
            if primary.process is None or primary.process.poll() is not None:
                primary.start()
        for primary in ensemble_on_postgres.system.processes.values():
            primary.wait_ready()


@pytest.mark.timeout(900)  # eight service processes and PostgreSQL on two cores
def test_two_replicas_of_each_service_survive_kill_9_of_one_with_nothing_lost_or_duplicated(
    ensemble_on_postgres: Ensemble, two_replicas: dict[str, ServiceProcess]
) -> None:
    ensemble = ensemble_on_postgres
    primaries = ensemble.system.processes
    bootstrap = ensemble.broker.bootstrap_servers

    # Both replicas of every group hold partitions; the first of each relays, the other waits.
    def spread() -> dict[str, list[int]] | None:
        members = group_members(bootstrap)
        both = all(len(assigned) == 2 and min(assigned) > 0 for assigned in members.values())
        return members if both else None

    members = wait_for(spread, 60, "every consumer group to spread over both replicas")
    assert set(members) == set(consumer_groups())
    for name, replica in two_replicas.items():
        assert relays(primaries[name].url) and not relays(replica.url), name

    run = uuid.uuid4().hex[:6]
    patients = fresh_nhs_numbers(PATIENTS)
    ensemble.load_profiles([high_risk(n, "L85001") for n in patients[: PATIENTS // 4]])
    ensemble.load_coaches(COACHES)
    coached = fresh_nhs_numbers(COACHING_REFERRALS)
    to_accept = iter(coaching_referrals(ensemble, coached))

    feed = Replicated(
        ensemble.client, [primaries["hospital-feed"].url, two_replicas["hospital-feed"].url]
    )
    referral = Replicated(
        ensemble.client, [primaries["referral"].url, two_replicas["referral"].url]
    )
    sender = {"Authorization": f"Bearer {ensemble.credentials.senders['RCB']}"}
    adt = stream_for(patients, run)
    every = len(adt) // COACHING_REFERRALS
    stream: list[Callable[[], None]] = []
    for index, (_, message) in enumerate(adt):
        stream.append(partial(post_adt, feed, sender, message))
        if index % every == every - 1:  # COACHING_REFERRALS times, spread over the stream
            stream.append(partial(accept, ensemble, referral, next(to_accept)))

    def kill_9_the_relaying_replicas() -> None:
        for process in primaries.values():
            process.kill9()

    sent = send_through_fault(stream, lambda call: call(), kill_9_the_relaying_replicas)
    assert sent == len(stream)

    total = len(adt)

    def settled() -> dict[str, int] | None:
        counts = expectations(ensemble, patients) | scheduling_counts(ensemble, coached)
        complete = counts["alerts"] == total and counts["encounters scored"] == total
        complete = complete and counts["hot onboarding alerts"] == counts["triggers"]
        complete = complete and counts["referrals"] == counts["patients triggered"]
        booked = counts["appointments"] + counts["waiting"] == COACHING_REFERRALS
        return counts if complete and booked else None

    counts = wait_for(settled, 240, "every store to catch up on the surviving replicas")
    assert counts["patients triggered"] > 0
    assert counts["appointments"] > 0
    assert counts["referrals booked"] == counts["appointments"], "one first session each"
    assert (counts["roster alerts"], counts["unrouted"]) == (0, 0)
    wait_until_quiet(ensemble)  # anything duplicated late has landed by now
    assert expectations(ensemble, patients) | scheduling_counts(ensemble, coached) == counts
    stored = ensemble.count(
        "hospital-feed", "SELECT count(*) FROM hl7_messages WHERE control_id LIKE ?", f"{run}-%"
    )
    assert stored == total

    # The survivors relay and hold every partition of their groups.
    for name, replica in two_replicas.items():
        assert wait_for(partial(relays, replica.url), 30, f"{name}'s replica to relay")
    after = group_members(bootstrap)
    assert all(len(assigned) == 1 for assigned in after.values()), after


def post_adt(feed: Replicated, headers: dict[str, str], message: str) -> None:
    response = feed.request(
        "POST",
        "/v1/hl7v2",
        content=message.encode(),
        headers=headers | {"Content-Type": "application/hl7-v2"},
    )
    assert response.status_code == 200 and "MSA|AA" in response.text, response.text


def accept(ensemble: Ensemble, referral: Replicated, referral_id: str) -> None:
    """Accept once; an accept whose answer was lost in the kill is already accepted (409)."""
    before = referral.failovers
    path = f"/v1/referrals/{referral_id}"
    response = referral.request("POST", f"{path}/accept", headers=ensemble.staff())
    if response.status_code == 409 and referral.failovers > before:
        found = referral.request("GET", path, headers=ensemble.staff())
        assert found.json()["status"] == "accepted", found.text
        return
    assert response.status_code == 200, response.text

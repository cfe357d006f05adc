"""Benchmark: N admissions through the running pipeline vs raw Kafka on the same broker.

Starts its own broker and services (isolated ports and stores), then measures:
- raw aiokafka: produce → consume of N messages the size of an encounter event;
- Ensemble: N HL7 A01 admissions POSTed to hospital-feed until each practice alert exists
  (ACK latency, admission-to-alert latency p50/p95/p99, end-to-end throughput).
Writes a Markdown report and a JSON file next to it.
"""

import asyncio
import json
import statistics
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from ensemble_devkit import REPO_ROOT
from ensemble_devkit.kafka import find_broker
from ensemble_devkit.synthetic import adt_message, test_nhs_numbers
from ensemble_devkit.system import PRACTICES, Credentials, LocalSystem

BENCH_DIR = REPO_ROOT / "run" / "bench"
CONCURRENT_SENDERS = 8
SINGLE_ADMISSIONS = 50  # sent one by one to time the alert path on a quiet system


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98], "max": ordered[-1]}


async def _wait_for_leaders(admin: AIOKafkaAdminClient, topic: str) -> None:
    """A new topic's partitions have no leader for a moment; consuming then only logs noise."""
    for _ in range(100):
        (description,) = await admin.describe_topics([topic])
        partitions = description.get("partitions", [])
        if partitions and all(p.get("leader", -1) >= 0 for p in partitions):
            return
        await asyncio.sleep(0.1)


async def raw_kafka(bootstrap: str, count: int, size: int) -> dict[str, Any]:
    topic = f"bench.raw.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 6, 1)])
    await _wait_for_leaders(admin, topic)
    await admin.close()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await consumer.start()
    await producer.start()
    latencies: list[float] = []
    padding = b"x" * max(0, size - 40)

    async def consume() -> None:
        while len(latencies) < count:
            batch = await consumer.getmany(timeout_ms=1000)
            now = time.perf_counter()
            for records in batch.values():
                for record in records:
                    sent = float((record.value or b"0|").split(b"|", 1)[0])
                    latencies.append((now - sent) * 1000)

    reader = asyncio.create_task(consume())
    await asyncio.sleep(1)  # let the consumer join before timing
    started = time.perf_counter()
    for index in range(count):
        value = f"{time.perf_counter()}|".encode() + padding
        await producer.send(topic, value, key=str(index % 500).encode())
    await producer.flush()
    await asyncio.wait_for(reader, 120)
    elapsed = time.perf_counter() - started
    await producer.stop()
    await consumer.stop()
    return {
        "messages": count,
        "seconds": elapsed,
        "per_second": count / elapsed,
        "latency_ms": percentiles(latencies),
    }


async def pipeline(credentials: Credentials, count: int) -> dict[str, Any]:
    numbers = list(zip(range(count), test_nhs_numbers(start=500_000), strict=False))
    sender_token = credentials.senders["RCB"]
    feed = credentials.services["hospital-feed"]
    sent_at: dict[str, float] = {}
    ack_ms: list[float] = []
    queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
    for item in numbers:
        queue.put_nowait(item)

    async def sender(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            index, nhs = queue.get_nowait()
            message = adt_message("A01", nhs, PRACTICES[index % 3], f"B{index}", f"BV{index}")
            started = time.time()
            sent_at[nhs] = started
            response = await client.post(
                f"{feed}/v1/hl7v2",
                content=message.encode(),
                headers={"Authorization": f"Bearer {sender_token}"},
            )
            assert "MSA|AA" in response.text, response.text
            ack_ms.append((time.time() - started) * 1000)

    alerted: dict[str, float] = {}

    async def watch_alerts(client: httpx.AsyncClient) -> None:
        cursors = dict.fromkeys(PRACTICES, 0)
        while len(alerted) < count:
            for practice, token in credentials.practices.items():
                response = await client.get(
                    f"{feed}/v1/practices/{practice}/alerts",
                    params={"after": cursors[practice], "limit": 1000},
                    headers={"Authorization": f"Bearer {token}"},
                )
                for alert in response.json()["alerts"]:
                    cursors[practice] = max(cursors[practice], alert["alert_id"])
                    alerted[alert["nhs_number"]] = datetime.fromisoformat(
                        alert["created_at"]
                    ).timestamp()
            await asyncio.sleep(0.05)

    async with httpx.AsyncClient(timeout=60) as client:
        started = time.time()
        watcher = asyncio.create_task(watch_alerts(client))
        await asyncio.gather(*(sender(client) for _ in range(CONCURRENT_SENDERS)))
        acked = time.time()
        await asyncio.wait_for(watcher, 300)
    last_alert = max(alerted.values())
    latencies = [(alerted[nhs] - sent_at[nhs]) * 1000 for nhs in sent_at]
    return {
        "admissions": count,
        "ack_per_second": count / (acked - started),
        "end_to_end_per_second": count / (last_alert - started),
        "ack_latency_ms": percentiles(ack_ms),
        "admission_to_alert_ms": percentiles(latencies),
    }


async def one_at_a_time(credentials: Credentials, count: int) -> dict[str, Any]:
    """Admissions sent singly to a quiet system: POST until the practice's poll shows the alert."""
    sender_token = credentials.senders["RCB"]
    feed = credentials.services["hospital-feed"]
    latencies: list[float] = []
    cursors = dict.fromkeys(PRACTICES, 0)
    async with httpx.AsyncClient(timeout=30) as client:

        async def alerts(practice: str) -> list[dict[str, Any]]:
            response = await client.get(
                f"{feed}/v1/practices/{practice}/alerts",
                params={"after": cursors[practice], "limit": 1000},
                headers={"Authorization": f"Bearer {credentials.practices[practice]}"},
            )
            found: list[dict[str, Any]] = response.json()["alerts"]
            if found:
                cursors[practice] = found[-1]["alert_id"]
            return found

        for practice in PRACTICES:
            while await alerts(practice):
                pass
        for index, nhs in enumerate(test_nhs_numbers(start=700_000)):
            if index == count:
                break
            practice = PRACTICES[index % 3]
            message = adt_message("A01", nhs, practice, f"S{index}", f"SV{index}")
            started = time.perf_counter()
            response = await client.post(
                f"{feed}/v1/hl7v2",
                content=message.encode(),
                headers={"Authorization": f"Bearer {sender_token}"},
            )
            assert "MSA|AA" in response.text, response.text
            while not any(a["nhs_number"] == nhs for a in await alerts(practice)):
                if time.perf_counter() - started > 30:
                    raise AssertionError("no alert within 30 s")
            latencies.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.2)
    return {"admissions": count, "latency_ms": percentiles(latencies)}


def render(result: dict[str, Any]) -> str:
    raw, ens = result["raw_kafka"], result["pipeline"]
    ratio = ens["end_to_end_per_second"] / raw["per_second"]

    def row(name: str, p: dict[str, float]) -> str:
        return f"| {name} | {p['p50']:.1f} | {p['p95']:.1f} | {p['p99']:.1f} | {p['max']:.1f} |"

    return "\n".join(
        [
            f"# Ensemble benchmark ({result['when']})",
            "",
            f"Machine: {result['machine']}. Broker: single-node Apache Kafka {result['broker']}.",
            f"{ens['admissions']} HL7 A01 admissions, {CONCURRENT_SENDERS} concurrent senders; "
            f"raw Kafka: {raw['messages']} messages of {result['message_bytes']} bytes.",
            "",
            "| throughput | msg/s |",
            "|---|---|",
            f"| raw aiokafka produce→consume | {raw['per_second']:.0f} |",
            f"| hospital-feed ACKs (HTTP, stored, outbox) | {ens['ack_per_second']:.0f} |",
            f"| admission → practice alert, end to end | {ens['end_to_end_per_second']:.0f} |",
            f"| ratio end-to-end / raw Kafka | {ratio:.3f} |",
            "",
            "| latency (ms) | p50 | p95 | p99 | max |",
            "|---|---|---|---|---|",
            row("raw aiokafka produce→consume", raw["latency_ms"]),
            row("HL7 POST → ACK", ens["ack_latency_ms"]),
            row("admission → practice alert", ens["admission_to_alert_ms"]),
            row(
                f"one admission at a time ({result['single']['admissions']}): POST → alert "
                "seen by the practice",
                result["single"]["latency_ms"],
            ),
            "",
        ]
    )


def benchmark(admissions: int, report: Path) -> int:
    import os
    import platform

    broker = find_broker(29092, BENCH_DIR / "kafka")
    credentials = Credentials.generate(broker.bootstrap_servers, 28000)
    system = LocalSystem(BENCH_DIR / f"system-{uuid.uuid4().hex[:6]}", credentials)
    try:
        system.start()
        sample = adt_message("A01", "9990000018", "L85001", "B0", "BV0")
        message_bytes = len(sample.encode())
        raw = asyncio.run(raw_kafka(broker.bootstrap_servers, admissions, message_bytes))
        ens = asyncio.run(pipeline(credentials, admissions))
        single = asyncio.run(one_at_a_time(credentials, SINGLE_ADMISSIONS))  # once it is quiet
    finally:
        system.stop()
        broker.close()
    result = {
        "when": datetime.now().isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "broker": os.environ.get("KAFKA_VERSION", "4.x (deploy/kafka)"),
        "message_bytes": message_bytes,
        "raw_kafka": raw,
        "pipeline": ens,
        "single": single,
    }
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(render(result))
    report.with_suffix(".json").write_text(json.dumps(result, indent=2))
    print(render(result))
    return 0

"""The bench's phases on a running system, each timed with lag samples and CPU around it:
admissions at an offered rate with their readers, then closed-loop ingest per transport."""

import asyncio
import contextlib
import json
import random
import time
from collections import Counter
from collections.abc import Awaitable, Iterator
from datetime import UTC, datetime
from itertools import islice
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import urlsplit

from ensemble_devkit.bench_kafka import LagMonitor, consumer_groups, raw_kafka
from ensemble_devkit.bench_load import (
    IngestPlan,
    LoadProcesses,
    OfferedPlan,
    Target,
    admission,
    bands,
    numbers_between,
    practice_of,
)
from ensemble_devkit.bench_probes import (
    AlertReader,
    AlertStream,
    ProposalReader,
    cpu_seconds,
    cpu_used,
    moved_by_system,
)
from ensemble_devkit.bench_stats import lag_trend, percentiles, sharing
from ensemble_devkit.bench_webhooks import WebhookProbe
from ensemble_devkit.bench_wire import HttpConnection
from ensemble_devkit.demo import high_risk_profile
from ensemble_devkit.system import LocalSystem

if TYPE_CHECKING:
    from ensemble_devkit.bench import BenchOptions

# NHS number serials per phase: in the alerts phase each admission is a patient of its own;
# the ingest phases readmit theirs round after round (see bench_load.admissions_in).
SERIALS = {"offered": (0, 300_000), "http": (300_000, 600_000), "mllp": (600_000, 900_000)}
READERS_GRACE = 10.0  # seconds the readers get, once the system is quiet, to see the rest
T = TypeVar("T")


class Bench:
    """One run's measurements; `measure()` returns them as the report's JSON."""

    def __init__(
        self,
        options: "BenchOptions",
        system: LocalSystem,
        load: LoadProcesses,
        pids: dict[str, int | None],
        mllp_port: int,
    ) -> None:
        self.options = options
        self.credentials = system.credentials
        self.load = load
        self.pids = pids
        self.mllp_port = mllp_port
        self.lag = LagMonitor(self.credentials.kafka, consumer_groups())
        self.lag_phases: dict[str, dict[str, Any]] = {}
        self.cpu: dict[str, dict[str, float | None]] = {}  # phase -> process -> CPU seconds
        self.seconds: dict[str, float] = {}  # step -> wall seconds: where a run's time went

    @contextlib.contextmanager
    def _timed(self, step: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.seconds[step] = round(time.monotonic() - started, 3)

    def _service(self, name: str) -> tuple[str, int]:
        url = urlsplit(self.credentials.services[name])
        return url.hostname or "127.0.0.1", url.port or 80

    async def measure(self) -> dict[str, Any]:
        await self.lag.start()
        try:
            size = len(admission("9990000018", "O", datetime.now(UTC)))
            print("bench: raw Kafka", flush=True)
            with self._timed("raw Kafka"):
                raw = await raw_kafka(self.credentials.kafka, self.options.raw_messages, size)
            print("bench: waiting for earlier backlog on this broker's groups", flush=True)
            with self._timed("earlier backlog"):
                backlog = (await self.lag.sample()).lag
                backlog_quiet = await self.lag.wait_quiet(600.0)
            o = self.options
            print(f"bench: idle CPU for {o.idle_seconds:g} s", flush=True)
            with self._timed("idle"):
                idle = await self.idle()
            before = await self._traffic()
            print(f"bench: {o.admissions} admissions at {o.rate:g}/s", flush=True)
            with self._timed("offered"):
                offered = await self.offered()
            ingest = {}
            for transport in ("http", "mllp"):
                print(f"bench: {transport} ingest for {o.ingest_seconds:g} s", flush=True)
                with self._timed(transport):
                    ingest[transport] = await self.ingest(transport)
            after = await self._traffic()
            final = (await self.lag.sample()).lag
        finally:
            await self.lag.stop()
        admissions = {"offered": offered["admissions"]} | {
            t: phase["messages"] for t, phase in ingest.items()
        }
        return {
            "seconds": self.seconds,
            "raw_kafka": raw,
            "idle_cpu_percent": idle,
            "offered": offered,
            "ingest": ingest,
            "lag": {
                "interval_seconds": self.options.lag_interval,
                "groups": self.lag.groups,
                "backlog_at_start": backlog,
                "backlog_quiet_after_seconds": backlog_quiet,
                "phases": self.lag_phases,
                "final": final,
            },
            "sharing": sharing(self.lag.groups, before, after),
            "cpu_ms_per_admission": {
                phase: {
                    name: None if seconds is None else seconds * 1000 / max(1, admissions[phase])
                    for name, seconds in used.items()
                }
                for phase, used in self.cpu.items()
            },
        }

    async def idle(self) -> dict[str, float | None]:
        """Each process's CPU with nothing sent (pollers, consumer loops, the broker's own
        work), as % of one core: a cost every phase pays per second, not per admission."""
        before, started = cpu_seconds(self.pids), time.monotonic()
        await asyncio.sleep(self.options.idle_seconds)
        used, seconds = cpu_used(before, cpu_seconds(self.pids)), time.monotonic() - started
        return {name: None if cpu is None else 100 * cpu / seconds for name, cpu in used.items()}

    async def _traffic(self) -> dict[str, Any]:
        """Events written per topic, and what this system consumed and published."""
        services = [self._service(name) for name in self.credentials.services]
        return {"ends": await self.lag.end_offsets()} | await moved_by_system(services)

    async def record(self, phase: str, load: Awaitable[T]) -> T:
        """Await `load` while sampling lag; then wait until the system is quiet, and keep the
        lag samples and every process's CPU time from the start until then."""
        cpu_before, own_before = cpu_seconds(self.pids), time.process_time()
        stop = asyncio.Event()
        started = time.monotonic()
        sampler = asyncio.create_task(self.lag.sample_until(stop, self.options.lag_interval))
        try:
            with self._timed(f"{phase}: load"):
                outcome = await load
        finally:
            stop.set()
            samples = await sampler
        with self._timed(f"{phase}: until quiet"):
            quiet_after = await self.lag.wait_quiet(max(120.0, 4 * (time.monotonic() - started)))
        self.cpu[phase] = cpu_used(cpu_before, cpu_seconds(self.pids))
        self.cpu[phase]["bench (readers, lag)"] = time.process_time() - own_before
        self.lag_phases[phase] = {
            "samples": [{"t": round(s.at - started, 3), "lag": s.lag} for s in samples],
            "quiet_after_seconds": quiet_after,
        }
        return outcome

    def _trend(self, phase: str, input_per_second: float) -> None:
        found = self.lag_phases[phase]
        found["groups"] = lag_trend(found["samples"], input_per_second)

    async def offered(self) -> dict[str, Any]:
        """Admissions at `rate`, open loop, while the practices (polling, and on the SSE
        stream) and the complex-care worklist read what becomes visible; every latency from
        the admission's due time, and the stream's also from the moment it was sent."""
        o = self.options
        numbers = list(islice(numbers_between(*SERIALS["offered"]), o.admissions))
        if len(numbers) < o.admissions:
            raise ValueError(f"at most {len(numbers):,} admissions (a patient each) per run")
        high_risk = numbers[:: max(1, round(1 / o.high_risk_share))]
        with self._timed("offered: profiles"):
            await self._load_profiles(high_risk)
        host, port = self._service("hospital-feed")
        alerts = AlertReader(host, port, self.credentials.practices, o.poll_interval)
        proposals = ProposalReader(
            *self._service("referral"), self.credentials.staff, o.poll_interval
        )
        await alerts.catch_up()
        stream = AlertStream(host, port, self.credentials.practices, alerts.cursors)
        await stream.open()
        webhooks = WebhookProbe(host, port, self.credentials.practices)
        await webhooks.open()
        event_at = datetime.now(UTC)
        sender = (
            Target(host, port, self.credentials.senders["RCB"])
            if o.offered_transport == "http"
            else Target(host, self.mllp_port)  # the listener's port names the sender
        )
        plan = OfferedPlan(
            o.offered_transport,
            sender,
            tuple(admission(nhs, "O", event_at) for nhs in numbers),
            o.rate,
            o.offered_connections,
            start_at=time.monotonic() + 1.0,
        )
        waiting_alerts, waiting_proposals = set(numbers), set(high_risk)
        waiting_streamed, waiting_delivered = set(numbers), set(numbers)
        own_cpu, own_since = time.process_time(), time.monotonic()
        readers = [
            asyncio.create_task(alerts.watch(waiting_alerts)),
            asyncio.create_task(proposals.watch(waiting_proposals)),
            asyncio.create_task(stream.watch(waiting_streamed)),
            asyncio.create_task(webhooks.watch(waiting_delivered)),
        ]
        sent = await self.record("offered", self.load.offer(plan))
        refused = {nhs for nhs, code in zip(numbers, sent.codes, strict=True) if code != "AA"}
        waiting_alerts -= refused  # never visible: no reader waits for them
        waiting_proposals -= refused
        waiting_streamed -= refused
        waiting_delivered -= refused
        with self._timed("offered: readers after quiet"):
            await _finish(readers)
        bench_cpu_share = (time.process_time() - own_cpu) / (time.monotonic() - own_since)
        await alerts.close()
        await proposals.close()
        await stream.close()
        await webhooks.close()
        self._trend("offered", o.rate)
        self.cpu["offered"]["load generator"] = sent.cpu_seconds
        due = [plan.start_at + i / o.rate for i in range(len(numbers))]
        sent_at = list(sent.sent_at)
        return {
            "transport": o.offered_transport,
            "rate": o.rate,
            "seconds": len(numbers) / o.rate,
            "admissions": len(numbers),
            "high_risk": len(high_risk),
            "connections": o.offered_connections,
            "poll_interval_ms": o.poll_interval * 1000,
            "achieved_rate": len(numbers) / (max(sent.sent_at) - plan.start_at + 1 / o.rate),
            "acks": dict(Counter(sent.codes)),
            "late_ms": percentiles(_since(dict(zip(numbers, sent.sent_at, strict=True)), due)),
            "ack_ms": percentiles(_since(dict(zip(numbers, sent.acked_at, strict=True)), due)),
            "alert_ms": percentiles(_since(alerts.seen, due, numbers)),
            "alerts_expected": len(numbers) - len(refused),
            "alert_stream_ms": percentiles(_since(stream.seen, due, numbers)),
            # The stream's and the poller's latency from the moment each admission was sent
            # (without the wait for a free connection): what the service itself added.
            "alert_stream_from_sent_ms": percentiles(_since(stream.seen, sent_at, numbers)),
            "alert_from_sent_ms": percentiles(_since(alerts.seen, sent_at, numbers)),
            "stream_events": stream.events,
            # Signed webhooks (issue 9), verified on arrival: from the admission's sending.
            "webhook_from_sent_ms": percentiles(_since(webhooks.seen, sent_at, numbers)),
            "webhook_deliveries": webhooks.deliveries,
            "webhook_refused": webhooks.refused,
            "proposal_ms": percentiles(_since(proposals.seen, due, numbers, set(high_risk))),
            "proposals_expected": len(set(high_risk) - refused),
            "alert_polls": alerts.polls,
            "proposal_polls": proposals.polls,
            "declined": proposals.declined,
            "generator_cpu_share": sent.cpu_seconds / max(1e-9, sent.finished - sent.started),
            "bench_cpu_share": bench_cpu_share,
        }

    async def _load_profiles(self, numbers: list[str]) -> None:
        """Scoring must know these patients as high risk before they are admitted."""
        rng = random.Random(2026)
        scoring = HttpConnection(*self._service("scoring"), self.credentials.staff)
        for start in range(0, len(numbers), 1000):
            chunk = numbers[start : start + 1000]
            body = "\n".join(json.dumps(high_risk_profile(n, practice_of(n), rng)) for n in chunk)
            response = await scoring.post("/v1/profiles", body.encode(), "application/x-ndjson")
            if response.status != 200:
                raise RuntimeError(f"loading profiles: HTTP {response.status} {response.body!r}")
        await scoring.close()

    async def ingest(self, transport: Literal["http", "mllp"]) -> dict[str, Any]:
        o = self.options
        parts = bands(*SERIALS[transport], o.connections)
        per_process = [parts[i :: o.load_processes] for i in range(o.load_processes)]
        host, port = self._service("hospital-feed")
        target = Target(host, self.mllp_port if transport == "mllp" else port, "")
        if transport == "http":
            target = Target(host, port, self.credentials.senders["RCB"])
        start_at = time.monotonic() + 1.0
        plans = [
            IngestPlan(
                transport,
                target,
                tuple(mine),
                start_at,
                o.ingest_seconds,
                transport[0].upper(),
                o.mllp_window,
            )
            for mine in per_process
            if mine
        ]
        results = await self.record(transport, self.load.ingest(plans))
        acks: Counter[str] = sum((r.acks for r in results), Counter())
        first, last = min(r.started for r in results), max(r.finished for r in results)
        wall = max(1e-9, last - first)
        self._trend(transport, acks["AA"] / wall)
        self.cpu[transport]["load generator"] = sum(r.cpu_seconds for r in results)
        return {
            "connections": o.connections,
            "processes": len(plans),
            "window": o.mllp_window,
            "seconds": wall,
            "messages": sum(r.messages for r in results),
            "acks": dict(acks),
            "refusals": sum(r.refusals for r in results),
            "reconnects": sum(r.reconnects for r in results),
            "per_second": acks["AA"] / wall,
            "ack_ms": percentiles([ms for r in results for ms in r.ack_ms]),
            "generator_cpu_shares": [
                r.cpu_seconds / max(1e-9, r.finished - r.started) for r in results
            ],
            "errors": [error for r in results for error in r.errors],
        }


def _since(
    moments: dict[str, float],
    due: list[float],
    order: list[str] | None = None,
    among: set[str] | None = None,
) -> list[float]:
    """Milliseconds from each admission's due time to its moment in `moments` (NHS number ->
    monotonic time), for the admissions in `order` (default: the order of `moments`)."""
    numbers = order if order is not None else list(moments)
    return [
        (moments[nhs] - due[index]) * 1000
        for index, nhs in enumerate(numbers)
        if nhs in moments and (among is None or nhs in among)
    ]


async def _finish(readers: list["asyncio.Task[None]"]) -> None:
    """Give the readers READERS_GRACE to see the rest, then stop them; raise what failed."""
    _, late = await asyncio.wait(readers, timeout=READERS_GRACE)
    for task in late:
        task.cancel()
    for task in readers:
        if task not in late and (error := task.exception()) is not None:
            raise error

"""The bench's load generators, each run in a process of its own (`LoadProcesses`).

- `run_ingest`: closed loop, as fast as the service answers: each connection sends its next
  HL7 admission once the previous one is ACKed (MLLP may keep a window of frames in flight).
- `run_offered`: open loop, admissions released at a fixed rate whatever the service does,
  over a pool of keep-alive connections (HTTP, or MLLP with one frame in flight on each); a
  late ACK delays no later send (while a connection is free), so slowness shows up as
  latency instead of a politely lower rate.

Times are `time.monotonic()`, which Linux keeps system-wide, so the bench's readers in
another process can subtract them. Each generator reports its own CPU time: a reader can see
that the generator was not what limited the figures.
"""

import asyncio
import itertools
import math
import multiprocessing
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from ensemble_devkit.bench_wire import (
    HttpConnection,
    HttpResponse,
    MllpConnection,
    ProtocolError,
    ack_code,
)
from ensemble_devkit.synthetic import adt_message, test_nhs_numbers
from ensemble_devkit.system import PRACTICES

HL7_PATH = "/v1/hl7v2"
HL7_MEDIA_TYPE = "application/hl7-v2"
MAX_RETRY_WAIT = 1.0  # seconds: the longest a 503's Retry-After holds a sender back


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    token: str = ""  # HTTP bearer token; on MLLP the port names the sender


@dataclass(frozen=True)
class IngestPlan:
    transport: Literal["http", "mllp"]
    target: Target
    bands: tuple[tuple[int, int], ...]  # NHS number serials [start, stop), one per connection
    start_at: float  # monotonic
    seconds: float
    control_prefix: str  # MSH-10 prefix: control ids stay unique across phases
    window: int = 1  # MLLP frames in flight per connection


@dataclass
class IngestResult:
    messages: int = 0  # distinct messages sent
    acks: Counter[str] = field(default_factory=Counter)  # ACK code, or "HTTP <status>"
    refusals: int = 0  # 503s (backpressure); the message is resent after Retry-After
    reconnects: int = 0
    ack_ms: list[float] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0
    cpu_seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class OfferedPlan:
    transport: Literal["http", "mllp"]
    target: Target
    messages: tuple[bytes, ...]  # in send order; message i is due at start_at + i / rate
    rate: float
    connections: int
    start_at: float


@dataclass
class OfferedResult:
    sent_at: list[float]
    acked_at: list[float]
    codes: list[str]
    reconnects: int = 0
    started: float = 0.0
    finished: float = 0.0
    cpu_seconds: float = 0.0


def practice_of(nhs_number: str) -> str:
    """Each bench patient's practice follows from its number: every process agrees."""
    return PRACTICES[int(nhs_number[3:9]) % len(PRACTICES)]


def admission(nhs_number: str, control_prefix: str, event_at: datetime) -> bytes:
    """An emergency A01 for one patient; control and visit numbers are unique in the run as
    long as (`control_prefix`, number) is."""
    control = f"{control_prefix}{nhs_number}"
    visit = f"V{control}"
    message = adt_message(
        "A01", nhs_number, practice_of(nhs_number), control, visit, event_at=event_at
    )
    # Original acknowledgement mode (no MSH-15/16): one AA per message on either transport;
    # the ITK AL/NE would be answered CA alone over MLLP.
    return message.replace("|P|2.4|||AL|NE", "|P|2.4").encode()


def numbers_between(start: int, stop: int) -> Iterator[str]:
    """Test NHS numbers whose serial (digits 4-9) is in [start, stop)."""
    for number in test_nhs_numbers(start):
        if int(number[3:9]) >= stop:
            return
        yield number


def admissions_in(band: tuple[int, int], prefix: str, event_at: datetime) -> Iterator[bytes]:
    """A01s for the band's patients, round after round for as long as a sender wants them:
    test numbers are few (under a million), a long closed-loop run readmits them."""
    for round_ in itertools.count():
        for nhs in numbers_between(*band):
            yield admission(nhs, f"{prefix}{round_}-", event_at)


def bands(start: int, stop: int, parts: int) -> list[tuple[int, int]]:
    size = (stop - start) // parts
    return [(start + i * size, start + (i + 1) * size) for i in range(parts)]


async def _sleep_until(moment: float) -> None:
    await asyncio.sleep(max(0.0, moment - time.monotonic()))


async def _post_hl7(connection: HttpConnection, message: bytes) -> tuple[HttpResponse, int]:
    """POST until the service takes it: a 503 is backpressure, resent after Retry-After."""
    refusals = 0
    while True:
        response = await connection.post(HL7_PATH, message, HL7_MEDIA_TYPE)
        if response.status != 503:
            return response, refusals
        refusals += 1
        await asyncio.sleep(min(response.retry_after or 0.1, MAX_RETRY_WAIT))


class _HttpSender:
    def __init__(self, plan: IngestPlan, band: tuple[int, int]) -> None:
        self.plan = plan
        self.messages = admissions_in(band, plan.control_prefix, datetime.now(UTC))
        self.connection = HttpConnection(plan.target.host, plan.target.port, plan.target.token)

    async def open(self) -> None:
        await self.connection.open()

    async def run(self, deadline: float, result: IngestResult) -> None:
        for message in self.messages:
            if time.monotonic() >= deadline:
                break
            result.messages += 1
            sent = time.monotonic()
            response, refusals = await _post_hl7(self.connection, message)
            result.ack_ms.append((time.monotonic() - sent) * 1000)
            result.acks[response.ack_code()] += 1
            result.refusals += refusals
        result.reconnects += self.connection.reconnects
        await self.connection.close()


class _MllpSender:
    def __init__(self, plan: IngestPlan, band: tuple[int, int]) -> None:
        self.plan = plan
        self.messages = admissions_in(band, plan.control_prefix, datetime.now(UTC))
        self.connection = MllpConnection(plan.target.host, plan.target.port)

    async def open(self) -> None:
        await self.connection.open()

    async def run(self, deadline: float, result: IngestResult) -> None:
        in_flight: list[float] = []  # send times, oldest first: ACKs come back in order
        while True:
            while len(in_flight) < self.plan.window and time.monotonic() < deadline:
                await self.connection.send(next(self.messages))
                in_flight.append(time.monotonic())
                result.messages += 1
            if not in_flight:
                break
            ack = await self.connection.read_ack()
            result.ack_ms.append((time.monotonic() - in_flight.pop(0)) * 1000)
            result.acks[ack_code(ack)] += 1
        await self.connection.close()


async def _ingest(plan: IngestPlan) -> IngestResult:
    result = IngestResult()
    kind = _HttpSender if plan.transport == "http" else _MllpSender
    senders = [kind(plan, band) for band in plan.bands]
    await asyncio.gather(*(sender.open() for sender in senders))
    await _sleep_until(plan.start_at)
    cpu_before, result.started = time.process_time(), time.monotonic()
    outcomes = await asyncio.gather(
        *(sender.run(plan.start_at + plan.seconds, result) for sender in senders),
        return_exceptions=True,
    )
    result.finished, result.cpu_seconds = time.monotonic(), time.process_time() - cpu_before
    result.errors = [repr(error) for error in outcomes if isinstance(error, BaseException)]
    return result


def run_ingest(plan: IngestPlan) -> IngestResult:
    return asyncio.run(_ingest(plan))


async def _offer(plan: OfferedPlan) -> OfferedResult:
    count = len(plan.messages)
    result = OfferedResult([math.nan] * count, [math.nan] * count, [""] * count)
    target = plan.target
    connections = [
        HttpConnection(target.host, target.port, target.token)
        if plan.transport == "http"
        else MllpConnection(target.host, target.port)
        for _ in range(plan.connections)
    ]
    await asyncio.gather(*(connection.open() for connection in connections))
    due: asyncio.Queue[int] = asyncio.Queue()

    async def send(connection: HttpConnection | MllpConnection) -> None:
        reopened = 0  # MLLP's (HTTP reconnects by itself, and counts)
        while (index := await due.get()) >= 0:
            result.sent_at[index] = time.monotonic()
            try:
                result.codes[index] = await _offer_one(connection, plan.messages[index])
            except (OSError, EOFError, ProtocolError) as error:  # IncompleteRead: an EOFError
                result.codes[index] = f"error {type(error).__name__}"
                await connection.close()
                if isinstance(connection, MllpConnection):
                    await connection.open()
                    reopened += 1
            result.acked_at[index] = time.monotonic()
        result.reconnects += (
            connection.reconnects if isinstance(connection, HttpConnection) else reopened
        )

    await _sleep_until(plan.start_at)
    cpu_before, result.started = time.process_time(), time.monotonic()
    senders = [asyncio.create_task(send(connection)) for connection in connections]
    for index in range(count):
        await _sleep_until(plan.start_at + index / plan.rate)
        due.put_nowait(index)
    for _ in senders:
        due.put_nowait(-1)
    await asyncio.gather(*senders)
    for connection in connections:
        await connection.close()
    result.finished, result.cpu_seconds = time.monotonic(), time.process_time() - cpu_before
    return result


async def _offer_one(connection: HttpConnection | MllpConnection, message: bytes) -> str:
    """Send one admission and wait for its ACK (one in flight per connection): the code."""
    if isinstance(connection, HttpConnection):
        response, _ = await _post_hl7(connection, message)
        return response.ack_code()
    await connection.send(message)
    return ack_code(await connection.read_ack())


def run_offered(plan: OfferedPlan) -> OfferedResult:
    return asyncio.run(_offer(plan))


class LoadProcesses:
    """A pool of generator processes, started (spawned, imports done) before any timing."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"))

    def __enter__(self) -> "LoadProcesses":
        # One task each, held briefly, so every worker process is up before a phase starts.
        futures = [self._pool.submit(time.sleep, 0.5) for _ in range(self.processes)]
        for future in futures:
            future.result()
        return self

    def __exit__(self, *_: object) -> None:
        self._pool.shutdown(cancel_futures=True)

    async def ingest(self, plans: list[IngestPlan]) -> list[IngestResult]:
        loop = asyncio.get_running_loop()
        return list(
            await asyncio.gather(
                *(loop.run_in_executor(self._pool, run_ingest, plan) for plan in plans)
            )
        )

    async def offer(self, plan: OfferedPlan) -> OfferedResult:
        return await asyncio.get_running_loop().run_in_executor(self._pool, run_offered, plan)

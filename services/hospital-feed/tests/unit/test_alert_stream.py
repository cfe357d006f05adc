"""The alert stream (SSE) over a real HTTP server: uvicorn in-process, the feed running."""

import asyncio
import contextlib
import functools
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
import uvicorn
from sqlmodel import Session

from ensemble_devkit.testkit import token
from hospital_feed.adapters import views
from hospital_feed.adapters.alert_bell import AlertBell
from hospital_feed.adapters.orm import PracticeAlert
from hospital_feed.entrypoints import alert_stream
from hospital_feed.entrypoints.alert_stream import (
    AlertFeed,
    Subscriber,
    alert_feeds,
    feed_of,
)
from hospital_feed.service import DEFINITION

from ..support import FeedKit, feed_kit
from .test_alerts import encounter

STREAM = "/v1/practices/{ods}/alerts/stream"
WAIT = 5.0  # seconds any one expectation may take
RECHECK = 0.2  # seconds between an open stream's checks that its caller's access holds


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[FeedKit]:
    kit = feed_kit(
        f"sqlite:///{tmp_path / 'feed.db'}",
        alert_stream_poll_ms=10,
        alert_stream_queue_size=5,
        alert_stream_send_timeout_seconds=1.0,
        alert_stream_gap_ms=300,
        alert_stream_recheck_seconds=RECHECK,
    )
    yield kit
    kit.dispose()


@dataclass
class Server:
    url: str
    feed: AlertFeed
    uvicorn: uvicorn.Server
    task: "asyncio.Task[None]"

    def client(self, practice: str | None = None) -> httpx.AsyncClient:
        headers = {}
        if practice is not None:
            headers["Authorization"] = f"Bearer {token('practice', practice)}"
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=WAIT)


@pytest.fixture
async def server(kit: FeedKit) -> AsyncIterator[Server]:
    """The app on a free port without its lifespan (no Kafka), with the feed started as the
    runtime starts its components."""
    feed = feed_of(kit.runtime)
    await feed.start()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        kit.service.app, lifespan="off", log_config=None, timeout_graceful_shutdown=10
    )
    running = uvicorn.Server(config)
    task = asyncio.create_task(running.serve(sockets=[sock]))
    await until(lambda: running.started)
    yield Server(f"http://127.0.0.1:{port}", feed, running, task)
    running.should_exit = True
    await asyncio.wait_for(task, WAIT)
    await feed.stop()
    sock.close()


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT):
        while not condition():  # noqa: ASYNC110 - what is awaited has no event to wait on
            await asyncio.sleep(0.01)


def new_alert(kit: FeedKit, practice: str = "L85001") -> int:
    """An alert through the consumer path, as Kafka delivers it: its alert_id."""
    before = kit.read(views.newest_alert_id)
    (outcome,) = kit.consume(encounter(practice_ods=practice))
    assert outcome == "processed"
    alert_id = kit.read(views.newest_alert_id)
    assert alert_id > before
    return alert_id


def ids_of(kit: FeedKit, practice: str, after: int = 0) -> list[int]:
    return [a["alert_id"] for a in kit.read(views.practice_alerts, practice, after, 100_000)]


class Events:
    """The events of an open stream, parsed as a browser's EventSource does."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines = response.aiter_lines()
        self.received: list[dict[str, str]] = []

    async def take(self, count: int) -> list[dict[str, str]]:
        async with asyncio.timeout(WAIT):
            while len(self.received) < count:
                event: dict[str, str] = {}
                async for line in self.lines:
                    if not line:
                        break
                    if line.startswith(":"):
                        continue  # a comment (heartbeat)
                    name, _, value = line.partition(":")
                    event[name] = value.removeprefix(" ")
                if event:
                    self.received.append(event)
                elif self.response.is_closed or self.response.is_stream_consumed:
                    raise EOFError(f"the stream ended after {len(self.received)} events")
        return self.received[:count]

    def ids(self) -> list[int]:
        return [int(event["id"]) for event in self.received]


@contextlib.asynccontextmanager
async def stream(
    server: Server, practice: str, headers: dict[str, str] | None = None, **params: int
) -> AsyncIterator[Events]:
    async with (
        server.client(practice) as client,
        client.stream(
            "GET", STREAM.format(ods=practice), headers=headers or {}, params=params
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        yield Events(response)


async def test_events_arrive_as_alerts_are_created(server: Server, kit: FeedKit) -> None:
    earlier = [new_alert(kit), new_alert(kit)]
    async with stream(server, "L85001") as events:
        assert [int(e["id"]) for e in await events.take(2)] == earlier
        later = [new_alert(kit), new_alert(kit, "L85002"), new_alert(kit)]
        received = await events.take(4)
    assert events.ids() == [*earlier, later[0], later[2]]
    async with server.client("L85001") as client:
        listed = (await client.get("/v1/practices/L85001/alerts")).json()["alerts"]
    # Each event is exactly the list's JSON of that alert.
    assert [e["event"] for e in received] == ["alert"] * 4
    assert [json.loads(e["data"]) for e in received] == listed


async def test_resuming_sends_exactly_the_later_alerts(server: Server, kit: FeedKit) -> None:
    first = [new_alert(kit) for _ in range(4)]
    async with stream(server, "L85001", headers={"Last-Event-ID": str(first[1])}) as events:
        await events.take(2)
        assert events.ids() == first[2:]
    # `after` for a first connection; a browser reconnecting sends the header too: it wins.
    async with stream(server, "L85001", after=first[0]) as events:
        await events.take(3)
        assert events.ids() == first[1:]
    headers = {"Last-Event-ID": str(first[2])}
    async with stream(server, "L85001", headers=headers, after=first[0]) as events:
        await events.take(1)
        assert events.ids() == first[3:]


async def test_no_alert_is_missed_or_repeated_while_streams_catch_up(
    server: Server, kit: FeedKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alerts keep arriving while streams read the store (two at a time) and switch to the
    feed: each stream gets every later alert once, in order."""
    monkeypatch.setattr(alert_stream, "CATCH_UP_PAGE", 2)
    for _ in range(6):
        new_alert(kit)
    created = 40

    async def produce() -> None:
        for index in range(created):
            new_alert(kit, "L85001" if index % 3 else "L85002")
            await asyncio.sleep(0.003)

    async def client(resume_after: int, delay: float) -> tuple[int, list[int]]:
        await asyncio.sleep(delay)
        headers = {"Last-Event-ID": str(resume_after)}
        async with stream(server, "L85001", headers=headers) as events:
            reading = asyncio.create_task(events.take(10_000))
            await until(
                lambda: final.done() and bool(events.ids()) and events.ids()[-1] >= final.result()
            )
            reading.cancel()
            return resume_after, events.ids()

    final: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    clients = [
        asyncio.create_task(client(after, delay))
        for after, delay in [(0, 0), (3, 0.02), (5, 0.05), (2, 0.09), (0, 0.12)]
    ]
    await produce()
    final.set_result(ids_of(kit, "L85001")[-1])
    for resume_after, received in await asyncio.gather(*clients):
        assert received == ids_of(kit, "L85001", resume_after)
    await until(lambda: server.feed.subscriber_count() == 0)  # the server saw them go


async def test_a_practice_streams_only_its_own_alerts(server: Server, kit: FeedKit) -> None:
    mine = new_alert(kit, "L85001")
    async with server.client("L85002") as other:
        refused = await other.get(STREAM.format(ods="L85001"))
    assert refused.status_code == 403
    async with stream(server, "L85002") as events:
        theirs = [new_alert(kit, "L85002")]
        new_alert(kit, "L85001")
        theirs.append(new_alert(kit, "L85002"))
        await events.take(2)
        assert events.ids() == theirs
    assert mine not in theirs


async def test_a_stream_needs_a_practice_token(server: Server, kit: FeedKit) -> None:
    async with server.client() as anonymous:
        assert (await anonymous.get(STREAM.format(ods="L85001"))).status_code == 401
        anonymous.headers["Authorization"] = "Bearer not-a-known-token-at-all"
        assert (await anonymous.get(STREAM.format(ods="L85001"))).status_code == 401
    async with server.client("L85001") as practice:
        bad = await practice.get(STREAM.format(ods="L85001"), headers={"Last-Event-ID": "x1"})
    assert bad.status_code == 422


async def test_a_gap_in_the_ids_is_waited_for(server: Server, kit: FeedKit) -> None:
    """A later id committed first (PostgreSQL) is held until the earlier one commits; a gap
    that never fills (a rollback) is passed after the gap wait."""
    # A wait long enough that a loaded machine still fills the gap within it.
    server.feed.gap_seconds = 1.0
    start = new_alert(kit)
    async with stream(server, "L85001") as events:
        await events.take(1)
        insert_alerts(kit, [start + 2])
        await asyncio.sleep(0.1)  # well within the gap wait: nothing is sent past the gap
        insert_alerts(kit, [start + 1])
        await events.take(3)
        insert_alerts(kit, [start + 4])  # start + 3 never comes
        began = time.monotonic()
        await events.take(4)
        assert time.monotonic() - began >= 0.9
    assert events.ids() == [start, start + 1, start + 2, start + 4]


def insert_alerts(kit: FeedKit, alert_ids: list[int], practice: str = "L85001") -> None:
    """Alerts written straight to the table (one transaction), with chosen ids."""
    with Session(kit.service.engine) as session:
        for alert_id in alert_ids:
            session.add(
                PracticeAlert(
                    alert_id=alert_id,
                    practice_ods=practice,
                    nhs_number="9990000018",
                    kind="admitted",
                    encounter_event_id=uuid4(),
                    sending_facility="RCB",
                    location="WARD " + "X" * 190,
                    created_at=kit.clock(),
                )
            )
        session.commit()


async def test_a_client_that_stops_reading_is_disconnected(server: Server, kit: FeedKit) -> None:
    """The queue stays within its bound while the client reads nothing (a full queue is
    dropped for the store), and the send timeout closes the connection."""
    backlog = 6000  # ~3 MB of events: far more than the socket buffers hold
    insert_alerts(kit, list(range(1, backlog + 1)))
    await until(lambda: server.feed.high_water == backlog)
    with socket.socket() as reader:
        await stop_reading(server, kit, reader, backlog)


def handed_out(feed: AlertFeed, alert_id: int) -> bool:
    return feed.high_water >= alert_id


async def stop_reading(server: Server, kit: FeedKit, reader: socket.socket, backlog: int) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    reader.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(reader, (host, int(port)))
    request = (
        f"GET {STREAM.format(ods='L85001')} HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {token('practice', 'L85001')}\r\n\r\n"
    )
    await loop.sock_sendall(reader, request.encode())
    await until(lambda: bool(server.feed.subscribers))
    (subscriber,) = server.feed.subscribers["L85001"]
    await asyncio.sleep(0.2)  # the server is now stuck sending the backlog
    for _ in range(8):  # live alerts: more than the queue holds
        alert_id = new_alert(kit)
        await until(functools.partial(handed_out, server.feed, alert_id))
        assert len(subscriber) <= kit.settings.alert_stream_queue_size
    # The sixth found the queue full: the queue was dropped, the stream is to read the store
    # through the sixth, and holds only the two after it.
    assert subscriber.overflows == 1
    assert (subscriber.catch_up_to, len(subscriber)) == (backlog + 6, 2)
    # The send timeout ends the stream and the server closes the connection: reading it now
    # reaches its end.
    await until(lambda: server.feed.subscriber_count() == 0)
    received = b""
    async with asyncio.timeout(WAIT):
        while chunk := await loop.sock_recv(reader, 65536):
            received += chunk
    sent = received.count(b"\r\nid: ")
    assert 0 < sent < backlog


async def test_streams_end_when_the_feed_stops(server: Server, kit: FeedKit) -> None:
    new_alert(kit)
    async with stream(server, "L85001") as events:
        await events.take(1)
        await server.feed.stop()
        with pytest.raises(EOFError):
            await events.take(2)
    async with server.client("L85001") as client:
        assert (await client.get(STREAM.format(ods="L85001"))).status_code == 503


async def test_an_open_stream_does_not_hold_up_server_shutdown(
    server: Server, kit: FeedKit
) -> None:
    async with stream(server, "L85001") as events:
        new_alert(kit)
        await events.take(1)
        began = time.monotonic()
        server.uvicorn.should_exit = True  # as SIGTERM does
        with pytest.raises(EOFError):
            await events.take(2)
        await asyncio.wait_for(server.task, WAIT)
    # Ended by the stream's shutdown watch (sse-starlette), not the 10 s graceful timeout.
    assert time.monotonic() - began < 3


async def test_a_commit_that_inserts_alerts_wakes_the_feed_at_once(tmp_path: Path) -> None:
    """The feed's poll is only the fallback (for other replicas' alerts): an alert this
    process commits rings the bell and is handed out at once, not a poll interval later."""
    kit = feed_kit(f"sqlite:///{tmp_path / 'bell.db'}", alert_stream_poll_ms=600_000)
    feed = feed_of(kit.runtime)
    await feed.start()
    try:
        subscriber = feed.subscribe("L85001")
        await asyncio.sleep(0.1)  # the feed's first read is done: it waits for 600 s now
        alert_id = new_alert(kit)
        queued = await asyncio.wait_for(subscriber.next(0), WAIT)
        assert queued is not None and queued["alert_id"] == alert_id
        assert feed.high_water == alert_id
    finally:
        await feed.stop()
        kit.dispose()


async def test_the_bell_rings_from_the_thread_that_committed() -> None:
    bell = AlertBell()
    woken = bell.listen()
    ringer = threading.Thread(target=bell.ring)
    ringer.start()
    await asyncio.wait_for(woken.wait(), WAIT)
    ringer.join()
    bell.unlisten(woken)
    woken.clear()
    bell.ring()  # nobody listens: nothing is set
    await asyncio.sleep(0.05)
    assert not woken.is_set()


def test_a_subscriber_queue_is_bounded() -> None:
    subscriber = Subscriber("L85001", bound=2, catch_up_to=0)
    view: dict[str, Any] = {"alert_id": 1}
    assert subscriber.offer(view) and subscriber.offer(view | {"alert_id": 2})
    assert not subscriber.offer(view | {"alert_id": 3})
    assert len(subscriber) == 2
    subscriber.close("overflow")
    assert len(subscriber) == 0


def test_the_service_runs_one_feed(kit: FeedKit) -> None:
    assert alert_feeds in DEFINITION.components
    (feed,) = alert_feeds(kit.runtime)
    assert feed is feed_of(kit.runtime)
    assert (feed.poll_seconds, feed.queue_size) == (0.01, 5)

"""Practices' alerts as Server-Sent Events, from one feed per process.

`AlertFeed` (a component) reads the store for new alerts of every practice, one query per
tick on the reader, and hands each new alert to the connected streams of its practice. A tick
follows each commit of this process that inserted alerts (the alert bell), and at the latest
`alert_stream_poll_ms` after the last one (for alerts other replicas commit). A
stream (`alert_stream`) first catches up from the store, strictly after the client's
`Last-Event-ID`, until it reaches the feed's high-water mark, and then sends what the feed
hands it; it never sends an id at or below one it has sent, so nothing is missed or repeated
across the switch.

The feed's high-water mark is *settled*: every alert at or below it is committed. Alert
inserts take one lock on PostgreSQL (`AlertRepository.insert`), so ids commit in id order and
a gap in the ids is a rolled-back insert; the feed still holds back past a gap for
`alert_stream_gap_ms` before moving past it, a second guard should a writer ever insert
alerts around the repository. An id whose transaction stays open longer than that is missed
by streams (the list still has it).

Each stream holds at most `alert_stream_queue_size` alerts the client has not taken; when
more arrive its queue is emptied and the stream reads them from the store instead (memory
stays bounded whatever the client does). A client that takes nothing for the send timeout is
disconnected; it reconnects with `Last-Event-ID` and catches up from the store. Streams end
when the feed stops (service stop); when the caller's access ends (asked again every
`alert_stream_recheck_seconds`: a revoked or expired token, a disabled user, an ended page
session); or, under uvicorn, as soon as the server starts shutting down (sse-starlette watches
for it and the stream finishes its response), so the graceful shutdown is not held up by open
streams.
"""

import asyncio
import contextlib
import json
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any

import anyio
import structlog
from fastapi import HTTPException, status
from sse_starlette import EventSourceResponse, ServerSentEvent
from sse_starlette.sse import SendTimeoutError
from starlette.types import Receive, Scope, Send

from ensemble_runtime.service import ServiceRuntime
from hospital_feed.adapters import views
from hospital_feed.adapters.alert_bell import ALERT_BELL
from hospital_feed.entrypoints.alert_display import view_options

log = structlog.get_logger(__name__)
POLL_BATCH = 1000  # new alerts (of all practices) taken per tick; a full batch polls again
CATCH_UP_PAGE = views.STREAM_CATCH_UP_PAGE  # alerts per store read while a stream catches up
SHUTDOWN_GRACE_SECONDS = 1.0  # for a stream to finish its response when the server stops
AccessCheck = Callable[[], Awaitable[bool]]  # whether the stream's caller may still read it


class Subscriber:
    """One stream's place in the feed: a bounded queue of its practice's new alerts."""

    def __init__(self, practice: str, bound: int, catch_up_to: int) -> None:
        self.practice = practice
        self.bound = bound
        # The stream must have read the store through this id before it takes from the queue.
        self.catch_up_to = catch_up_to
        self.closed: str | None = None  # why the stream must end: "shutdown"
        self.overflows = 0  # times its queue was full and it went back to the store
        self._items: deque[dict[str, Any]] = deque()
        self._wake = asyncio.Event()

    def __len__(self) -> int:
        return len(self._items)

    def offer(self, view: dict[str, Any]) -> bool:
        """Queue an alert; False (nothing queued) when the queue is full."""
        if len(self._items) >= self.bound:
            return False
        self._items.append(view)
        self._wake.set()
        return True

    def catch_up(self, through: int) -> None:
        """The feed moved to `through` without this stream's alerts: read them from the store."""
        self.catch_up_to = max(self.catch_up_to, through)
        self._wake.set()

    def overflow(self, through: int) -> None:
        """The queue is full: drop it, and read everything through `through` from the store."""
        self._items.clear()
        self.overflows += 1
        self.catch_up(through)

    def close(self, reason: str) -> None:
        self.closed = reason
        self._items.clear()
        self._wake.set()

    async def next(self, position: int) -> dict[str, Any] | None:
        """The next queued alert; None when the stream is closed or must read the store
        (past `position`) first."""
        while True:
            if self.closed is not None or self.catch_up_to > position:
                return None
            if self._items:
                return self._items.popleft()
            self._wake.clear()
            await self._wake.wait()


class AlertFeed:
    """The process's one poller of new alerts, fanned out to the streams of each practice."""

    def __init__(
        self,
        runtime: ServiceRuntime[Any, Any],
        poll_seconds: float,
        queue_size: int,
        gap_seconds: float,
    ) -> None:
        if poll_seconds <= 0 or queue_size < 1 or gap_seconds < 0:
            raise ValueError("HOSPITAL_FEED_ALERT_STREAM_*: poll and queue must be positive")
        self.runtime = runtime
        self.poll_seconds = poll_seconds
        self.queue_size = queue_size
        self.gap_seconds = gap_seconds
        self.high_water = 0  # every alert at or below it is committed and handed out
        self.subscribers: dict[str, set[Subscriber]] = {}
        self._gap_since: float | None = None
        self._task: asyncio.Task[None] | None = None
        self._bell: asyncio.Event | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def subscriber_count(self) -> int:
        return sum(len(subscribers) for subscribers in self.subscribers.values())

    async def start(self) -> None:
        self.high_water = await self.runtime.read(views.newest_alert_id)
        self._bell = ALERT_BELL.listen()
        self._task = asyncio.create_task(self._run(self._bell), name="alert-feed")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._bell is not None:
            ALERT_BELL.unlisten(self._bell)
            self._bell = None
        for subscribers in self.subscribers.values():
            for subscriber in subscribers:
                subscriber.close("shutdown")
        self.subscribers.clear()

    def subscribe(self, practice: str) -> Subscriber:
        """A stream's subscription; its queue gets every alert of the practice above the
        high-water mark as it is now (read it from the store up to there)."""
        if not self.running:
            raise RuntimeError("the alert feed is not running")
        subscriber = Subscriber(practice, self.queue_size, self.high_water)
        self.subscribers.setdefault(practice, set()).add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        subscribers = self.subscribers.get(subscriber.practice)
        if subscribers is None:
            return
        subscribers.discard(subscriber)
        if not subscribers:
            del self.subscribers[subscriber.practice]

    async def _run(self, bell: asyncio.Event) -> None:
        while True:
            bell.clear()  # before reading: a commit during the read rings for another tick
            try:
                full = await self.poll()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the store is away: streams wait, the feed retries
                log.warning("alert feed poll failed", error_type=type(error).__name__)
                await asyncio.sleep(self.poll_seconds)
                continue
            if not full:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(bell.wait(), self.poll_seconds)

    async def poll(self) -> bool:
        """One tick: hand out the alerts committed since the last; True if there may be more."""
        start = self.high_water
        rows = await self.runtime.read(views.alerts_after, start, POLL_BATCH)
        settled = self._settled(rows, start)
        if not settled:
            return False
        by_practice: dict[str, set[int]] = {}
        for alert_id, practice in settled:
            by_practice.setdefault(practice, set()).add(alert_id)
        wanted = {p: ids for p, ids in by_practice.items() if p in self.subscribers}
        found = (
            await self.runtime.read(
                partial(views.views_of, **view_options(self.runtime)), wanted, start
            )
            if wanted
            else {}
        )
        # No await from here on: a stream subscribing now sees the new mark, and the queues
        # of those already subscribed hold everything above the old one.
        through = settled[-1][0]
        for practice in by_practice:
            for subscriber in list(self.subscribers.get(practice, ())):
                if practice not in found:  # subscribed while the views were read
                    subscriber.catch_up(through)
                    continue
                for view in found[practice]:
                    if not subscriber.offer(view):
                        subscriber.overflow(through)
                        break
        self.high_water = through
        return len(rows) == POLL_BATCH and len(settled) == len(rows)

    def _settled(self, rows: list[tuple[int, str]], after: int) -> list[tuple[int, str]]:
        """The rows up to the first gap in the ids, or all of them once a gap has lasted
        `gap_seconds` (a rolled-back insert)."""
        expected = after + 1
        for index, (alert_id, _practice) in enumerate(rows):
            if alert_id != expected:
                now = time.monotonic()
                if self._gap_since is None:
                    self._gap_since = now
                if now - self._gap_since >= self.gap_seconds:
                    self._gap_since = None
                    return rows
                return rows[:index]
            expected += 1
        self._gap_since = None
        return rows


_FEEDS: "weakref.WeakKeyDictionary[ServiceRuntime[Any, Any], AlertFeed]" = (
    weakref.WeakKeyDictionary()
)


def feed_of(runtime: ServiceRuntime[Any, Any]) -> AlertFeed:
    """The runtime's one alert feed (made on first use; running once the service starts)."""
    feed = _FEEDS.get(runtime)
    if feed is None:
        settings = runtime.settings
        feed = AlertFeed(
            runtime,
            settings.alert_stream_poll_ms / 1000,
            settings.alert_stream_queue_size,
            settings.alert_stream_gap_ms / 1000,
        )
        _FEEDS[runtime] = feed
    return feed


def alert_feeds(runtime: ServiceRuntime[Any, Any]) -> list[AlertFeed]:
    """The definition's component factory: the one feed."""
    return [feed_of(runtime)]


async def _close_on(shutdown: anyio.Event, subscriber: Subscriber) -> None:
    await shutdown.wait()
    subscriber.close("shutdown")


async def _close_when_refused(
    still_allowed: AccessCheck, every_seconds: float, subscriber: Subscriber
) -> None:
    while True:
        await asyncio.sleep(every_seconds)
        try:
            allowed = await still_allowed()
        except Exception as error:  # a store blip: the stream goes on, asked again next time
            log.warning("alert stream access check failed", error=type(error).__name__)
            continue
        if not allowed:
            subscriber.close("access ended")
            return


async def _events(
    runtime: ServiceRuntime[Any, Any],
    practice: str,
    after: int,
    shutdown: anyio.Event,
    still_allowed: AccessCheck,
) -> AsyncIterator[ServerSentEvent]:
    feed = feed_of(runtime)
    try:
        subscriber = feed.subscribe(practice)
    except RuntimeError:  # stopped since the response was made: end at once
        return
    # The server is shutting down (sse-starlette sets it): end the response properly.
    closer = asyncio.create_task(_close_on(shutdown, subscriber))
    recheck = runtime.settings.alert_stream_recheck_seconds
    gate = asyncio.create_task(_close_when_refused(still_allowed, recheck, subscriber))
    position = after  # every alert of the practice up to here has been sent (or is not sent)
    sent = 0
    log.info("alert stream opened", practice=practice, after=after)
    try:
        while True:
            while subscriber.closed is None and position < subscriber.catch_up_to:
                target = subscriber.catch_up_to
                page = await runtime.read(
                    partial(views.practice_alerts, **view_options(runtime)),
                    practice,
                    position,
                    CATCH_UP_PAGE,
                )
                fresh = [view for view in page if view["alert_id"] <= target]
                for view in fresh:
                    yield _event(view)
                    position, sent = view["alert_id"], sent + 1
                if len(fresh) < CATCH_UP_PAGE:
                    position = max(position, target)
            queued = await subscriber.next(position)
            if queued is None:
                if subscriber.closed is not None:
                    return
                continue
            if queued["alert_id"] > position:
                yield _event(queued)
                position, sent = queued["alert_id"], sent + 1
    finally:
        closer.cancel()
        gate.cancel()
        feed.unsubscribe(subscriber)
        log.info(
            "alert stream closed",
            practice=practice,
            alerts_sent=sent,
            overflows=subscriber.overflows,
            reason=subscriber.closed or "client",
        )


def _event(view: dict[str, Any]) -> ServerSentEvent:
    # One line of JSON (newlines in strings are escaped), as the list answers it.
    data = json.dumps(view, ensure_ascii=True, separators=(",", ":"))
    return ServerSentEvent(data=data, id=str(view["alert_id"]), event="alert")


class AlertEventStream(EventSourceResponse):
    """An SSE response that ends quietly when the client stops reading (send timeout)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except SendTimeoutError:
            log.info("alert stream client stopped reading; disconnected")


def alert_stream(
    runtime: ServiceRuntime[Any, Any],
    practice_ods: str,
    still_allowed: AccessCheck,
    last_event_id: int = 0,
) -> EventSourceResponse:
    """The practice's alerts strictly after `last_event_id` (0: all), then each new one as
    it is committed: `id:` the alert_id, `event: alert`, `data:` the list's JSON of it.

    The caller has authenticated the practice; `still_allowed` asks again (the same check),
    every `alert_stream_recheck_seconds`, and the stream ends once it answers False. 503 when
    the feed is not running."""
    if not feed_of(runtime).running:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "alert stream unavailable")
    settings = runtime.settings
    shutdown = anyio.Event()
    return AlertEventStream(
        _events(runtime, practice_ods, last_event_id, shutdown, still_allowed),
        ping=settings.alert_stream_ping_seconds,
        send_timeout=settings.alert_stream_send_timeout_seconds,
        shutdown_event=shutdown,
        shutdown_grace_period=SHUTDOWN_GRACE_SECONDS,
    )

"""The webhook dispatcher: a component that plans deliveries from the store and sends them.

Every tick (`webhook_poll_ms`, or at once when an attempt ends) it reads, in one query,
whether an endpoint has alerts above its cursor and which queue heads are due. If there is
planning to do (or a digest slot has come) it runs the planner (`PlanDeliveries`, one
transaction), then starts an attempt for each due head: at most `webhook_concurrency` in
flight in all, at most one per endpoint, and an endpoint's deliveries strictly in order
(its next one is only read once this one is recorded). An endpoint that hangs or fails holds
up only itself: its attempt is bounded by the timeouts, and other endpoints' heads go on.
Finished attempts are recorded together (`RecordAttempts`, one transaction per tick).

Nothing here is needed for safety: an attempt that ends in a crash, or that is cancelled by
the service stopping, is still `pending` in the store and is sent again, with the same
`webhook-id`, after the restart; the receiver dedupes on it.
"""

import asyncio
import contextlib
import time
from datetime import datetime
from typing import Any

import structlog
from prometheus_client import Counter, Gauge, Histogram

from ensemble_runtime.service import ServiceRuntime
from hospital_feed.adapters import webhook_views
from hospital_feed.adapters.webhook_sender import WebhookSender
from hospital_feed.domain.webhooks import Attempt, DeliveryType, Outcome, short_error
from hospital_feed.entrypoints.alert_display import view_options
from hospital_feed.service_layer.webhooks import (
    PlanDeliveries,
    RecordAttempts,
    digest_slot,
    retry_policy,
)

log = structlog.get_logger(__name__)
DEAD_GAUGE_EVERY_SECONDS = 5.0
PLAN_ROUNDS = 10  # planner transactions per tick at most, so sending is never starved

DELIVERY_ATTEMPTS = Counter(
    "ensemble_hospital_feed_webhook_attempts_total",
    "Webhook delivery attempts by outcome (delivered, retry, dead, gone).",
    ["outcome"],
)
DELIVERY_LATENCY = Histogram(
    "ensemble_hospital_feed_webhook_delivery_seconds",
    "From an alert being created to its alert.created webhook being delivered.",
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
DEAD_DELIVERIES = Gauge(
    "ensemble_hospital_feed_webhook_dead_deliveries",
    "Webhook deliveries given up on (dead), waiting for staff to replay them.",
)


class WebhookDispatcher:
    """The process's one planner and sender of webhooks."""

    def __init__(self, runtime: ServiceRuntime[Any, Any], sender: WebhookSender | None = None):
        settings = runtime.settings
        if settings.webhook_poll_ms <= 0 or settings.webhook_concurrency < 1:
            raise ValueError("HOSPITAL_FEED_WEBHOOK_POLL_MS and _CONCURRENCY must be positive")
        retry_policy(settings)  # bad settings refuse to start, as do bad digest times
        digest_slot(settings, runtime.clock())
        self.runtime = runtime
        self.poll_seconds = settings.webhook_poll_ms / 1000
        self.concurrency = settings.webhook_concurrency
        self.sender = sender or WebhookSender(
            settings.webhook_connect_timeout_seconds,
            settings.webhook_read_timeout_seconds,
            settings.webhook_total_timeout_seconds,
            settings.webhook_concurrency,
            settings.webhook_networks,
        )
        self.in_flight: dict[str, asyncio.Task[None]] = {}  # recipient -> its one attempt
        self._finished: list[tuple[webhook_views.Due, Attempt]] = []
        self._wake = asyncio.Event()
        self._digest_slot: datetime | None = None  # the slot planned for, in this process
        self._dead_gauge_at = 0.0
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="webhook-dispatcher")

    async def stop(self) -> None:
        task, self._task = self._task, None
        attempts = list(self.in_flight.values())
        for running in [task, *attempts]:
            if running is not None:
                running.cancel()
        for running in [task, *attempts]:
            if running is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await running
        self.in_flight.clear()
        with contextlib.suppress(Exception):  # the store is away: they are sent again later
            await self._record()
        await self.sender.close()

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the store is away: attempts wait, the loop retries
                log.warning("webhook dispatch failed", error_type=type(error).__name__)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_seconds):
                    await self._wake.wait()
            self._wake.clear()

    async def tick(self) -> None:
        """Record what finished, plan what is new, start what is due."""
        await self._record()
        free = self.concurrency - len(self.in_flight)
        now = self.runtime.clock()
        busy = frozenset(self.in_flight)
        work = await self.runtime.read(webhook_views.dispatch_work, now, busy, free)
        slot = digest_slot(self.runtime.settings, now)
        if work.plan_needed or slot != self._digest_slot:
            for _round in range(PLAN_ROUNDS):  # more than one transaction's worth: plan on
                if not await self.runtime.execute(PlanDeliveries(view_options(self.runtime))):
                    break
            self._digest_slot = slot
            work = await self.runtime.read(webhook_views.dispatch_work, now, busy, free)
        for due in work.due:
            if due.recipient not in self.in_flight and len(self.in_flight) < self.concurrency:
                self.in_flight[due.recipient] = asyncio.create_task(
                    self._attempt(due), name=f"webhook-{due.delivery_id}"
                )
        if time.monotonic() >= self._dead_gauge_at:
            DEAD_DELIVERIES.set(await self.runtime.read(webhook_views.dead_count))
            self._dead_gauge_at = time.monotonic() + DEAD_GAUGE_EVERY_SECONDS

    async def _attempt(self, due: webhook_views.Due) -> None:
        try:
            attempt = await self.sender.send(due)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a bug in sending: still an attempt, still retried
            attempt = Attempt(due.delivery_id, None, short_error(type(error).__name__))
        self._finished.append((due, attempt))
        self._wake.set()

    async def _record(self) -> None:
        finished, self._finished = self._finished, []
        if not finished:
            return
        try:
            outcomes = await self.runtime.execute(
                RecordAttempts(tuple(attempt for _due, attempt in finished))
            )
        except Exception:
            self._finished = finished + self._finished  # recorded on the next tick
            raise
        now = self.runtime.clock()
        for (due, attempt), outcome in zip(finished, outcomes, strict=True):
            self.in_flight.pop(due.recipient, None)
            if outcome is None:
                continue
            DELIVERY_ATTEMPTS.labels(outcome.value).inc()
            fields = {
                "recipient": due.recipient,
                "delivery_id": due.delivery_id,
                "attempt": due.attempts + 1,
                "status_code": attempt.status_code,
                "outcome": outcome.value,
            }
            if outcome is Outcome.DELIVERED:
                if due.type == DeliveryType.ALERT_CREATED and due.alert_created_at is not None:
                    DELIVERY_LATENCY.observe(max(0.0, (now - due.alert_created_at).total_seconds()))
                log.info("webhook delivered", **fields)
            elif outcome is Outcome.RETRY:
                log.info("webhook attempt failed", error=attempt.error, **fields)
            else:  # dead, or gone (the endpoint is disabled): staff should look
                log.warning("webhook given up", error=attempt.error, **fields)


def webhook_dispatchers(runtime: ServiceRuntime[Any, Any]) -> list[WebhookDispatcher]:
    """The definition's component factory: the one dispatcher."""
    return [WebhookDispatcher(runtime)]

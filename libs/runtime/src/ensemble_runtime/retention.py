"""Retention (a component every service runs): old rows pruned on a schedule, in small batches.

Each table has a policy: how old a row may get (`None`: kept for ever), how to find the next
batch of rows past that age and how to prune them. A sweep (every
`RETENTION_SWEEP_SECONDS`) walks each table in key order: the next keys are found on a
reader, then pruned on the writer in a transaction of their own, at most
`RETENTION_BATCH_SIZE` rows, so the writer is never held for long and the writes of intake
and consumers queue in between. The prune statement checks the age again: a row changed
since it was found is left alone. Every `RETENTION_COUNT_SECONDS` each table's rows are
counted into `ensemble_table_rows{table}`; a scrape never counts.

The runtime prunes every store's own tables:
- `outbox`: rows published longer ago than `OUTBOX_RETENTION_HOURS` (unpublished never go).
- `inbox`: rows older than `INBOX_RETENTION_HOURS`. The inbox is what drops a redelivered
  event, so it must outlive every redelivery: the broker keeps an event for the topic's
  retention, and a dead letter replayed (`ensemble-dlq replay`) republishes it up to the
  DLQ's retention later. So at start the inbox age must exceed, for each consumed topic, its
  `retention.ms` plus its dead-letter topic's, or the service refuses to start; a topic kept
  for ever allows no inbox pruning at all (0 hours).

A service adds policies of its own with `retention_component` (hospital-feed's raw messages).
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, cast

import structlog
from sqlalchemy import Table, delete, func, select, table, tuple_
from sqlmodel import Session

from ensemble_runtime import metrics
from ensemble_runtime.db import without_flush_wait
from ensemble_runtime.inbox import ProcessedEvent
from ensemble_runtime.outbox import OUTBOX
from ensemble_runtime.topic_retention import check_inbox_outlives_topics, topic_retentions

if TYPE_CHECKING:
    from ensemble_runtime.service import ServiceRuntime

log = structlog.get_logger(__name__)
INBOX = cast(Table, ProcessedEvent.__table__)  # type: ignore[attr-defined]
BATCH_PAUSE_SECONDS = 0.05  # between batches: other writers go first


class Found(NamedTuple):
    """One step of a sweep: the keys to prune now, and where the next step starts (None: the
    sweep of this table is done)."""

    keys: list[Any]
    resume_after: Any | None


class RetentionPolicy(Protocol):
    """How one table is pruned. `find` runs on a reader, `prune` on the writer."""

    @property
    def table(self) -> str:
        """The metric label: the table's name."""
        ...

    @property
    def max_age(self) -> timedelta | None:
        """None: kept for ever."""
        ...

    def find(self, session: Session, cutoff: datetime, after: Any | None, limit: int) -> Found:
        """The next keys (after `after`; None: from the start) of rows older than `cutoff`."""
        ...

    def prune(self, session: Session, keys: Sequence[Any], cutoff: datetime) -> int:
        """Prune these rows if still older than `cutoff`; how many were."""
        ...


def age_of(hours: float, setting: str) -> timedelta | None:
    """A retention setting in hours as an age; 0 keeps for ever; negative is refused."""
    if hours < 0:
        raise ValueError(f"{setting} must be 0 (keep for ever) or more hours")
    return timedelta(hours=hours) if hours else None


@dataclass(frozen=True)
class OutboxRetention:
    """Published outbox rows; their `published_at` is indexed."""

    max_age: timedelta | None
    table: str = "outbox"

    def find(self, session: Session, cutoff: datetime, after: Any | None, limit: int) -> Found:
        query = select(OUTBOX.c.id).where(OUTBOX.c.published_at < cutoff)
        if after is not None:
            query = query.where(OUTBOX.c.id > after)
        ids = list(session.execute(query.order_by(OUTBOX.c.id).limit(limit)).scalars())
        return Found(ids, ids[-1] if len(ids) == limit else None)

    def prune(self, session: Session, keys: Sequence[Any], cutoff: datetime) -> int:
        done = session.execute(
            delete(OUTBOX).where(OUTBOX.c.id.in_(list(keys)), OUTBOX.c.published_at < cutoff)
        )
        return int(getattr(done, "rowcount", 0) or 0)


@dataclass(frozen=True)
class InboxRetention:
    """Inbox rows. `processed_at` has no index, so the sweep walks the primary key (consumer,
    event_id) `limit` rows at a time and picks the old ones: each step reads a bounded slice."""

    max_age: timedelta | None
    table: str = "inbox"

    def find(self, session: Session, cutoff: datetime, after: Any | None, limit: int) -> Found:
        key = tuple_(INBOX.c.consumer, INBOX.c.event_id)
        query = select(INBOX.c.consumer, INBOX.c.event_id, INBOX.c.processed_at)
        if after is not None:
            query = query.where(key > tuple_(*after))
        rows = session.execute(query.order_by(*key.clauses).limit(limit)).all()
        old = [(consumer, event_id) for consumer, event_id, at in rows if at < cutoff]
        last = (rows[-1][0], rows[-1][1]) if len(rows) == limit else None
        return Found(old, last)

    def prune(self, session: Session, keys: Sequence[Any], cutoff: datetime) -> int:
        by_consumer: dict[str, list[Any]] = {}
        for consumer, event_id in keys:
            by_consumer.setdefault(consumer, []).append(event_id)
        pruned = 0
        for consumer, event_ids in by_consumer.items():
            done = session.execute(
                delete(INBOX).where(
                    INBOX.c.consumer == consumer,
                    INBOX.c.event_id.in_(event_ids),
                    INBOX.c.processed_at < cutoff,
                )
            )
            pruned += int(getattr(done, "rowcount", 0) or 0)
        return pruned


def count_rows(session: Session, name: str) -> int:
    """Every row of the table: a full count, so only every few minutes, on a reader."""
    return int(session.execute(select(func.count()).select_from(table(name))).scalar_one())


def setting_name(settings: Any, field: str) -> str:
    """The environment variable of a setting, e.g. SCORING_INBOX_RETENTION_HOURS."""
    return f"{settings.model_config.get('env_prefix', '')}{field}".upper()


# --- the component -------------------------------------------------------------------------------


class Retention:
    """Sweeps its policies' tables on a schedule and counts their rows."""

    def __init__(
        self,
        runtime: "ServiceRuntime[Any, Any]",
        policies: Sequence[RetentionPolicy],
        *,
        enabled: bool = True,
        sweep_seconds: float = 3600.0,
        count_seconds: float = 300.0,
        batch_size: int = 500,
        before_start: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        if batch_size < 1 or sweep_seconds <= 0 or count_seconds <= 0:
            raise ValueError("RETENTION_BATCH_SIZE, _SWEEP_SECONDS and _COUNT_SECONDS must be > 0")
        self.runtime = runtime
        self.policies = list(policies)
        self.enabled = enabled
        self.sweep_seconds = sweep_seconds
        self.count_seconds = count_seconds
        self.batch_size = batch_size
        self._before_start = before_start
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._before_start is not None:
            await self._before_start()
        self._task = asyncio.create_task(self._run(), name="retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def sweep(self) -> dict[str, int]:
        """Prune every table once, batch by batch; rows pruned per table."""
        pruned: dict[str, int] = {}
        for policy in self.policies:
            if policy.max_age is not None and self.enabled:
                pruned[policy.table] = await self._sweep(policy, policy.max_age)
        return pruned

    async def _sweep(self, policy: RetentionPolicy, max_age: timedelta) -> int:
        cutoff = self.runtime.clock() - max_age
        after: Any | None = None
        total = 0
        while True:
            found = await self.runtime.read(policy.find, cutoff, after, self.batch_size)
            if found.keys:
                pruned = await self.runtime.store.run(self._prune, policy, found.keys, cutoff)
                metrics.RETENTION_PRUNED.labels(policy.table).inc(pruned)
                total += pruned
            if found.resume_after is None:
                break
            after = found.resume_after
            await asyncio.sleep(BATCH_PAUSE_SECONDS)
        if total:
            log.info("retention pruned", table=policy.table, rows=total)
        return total

    def _prune(self, policy: RetentionPolicy, keys: Sequence[Any], cutoff: datetime) -> int:
        """One batch in a transaction of its own. Without waiting for the disk: a prune lost
        in a power cut is done again by the next sweep."""
        with (
            self.runtime.engine.connect() as connection,
            without_flush_wait(connection),
            Session(connection) as session,
        ):
            pruned = policy.prune(session, keys, cutoff)
            session.commit()
            return pruned

    async def count(self) -> dict[str, int]:
        """Count each table's rows into `ensemble_table_rows`."""
        counts = {}
        for policy in self.policies:
            counts[policy.table] = await self.runtime.read(count_rows, policy.table)
            metrics.TABLE_ROWS.labels(policy.table).set(counts[policy.table])
        return counts

    async def _run(self) -> None:
        """Sweep and count at once, then each on its own period."""
        loop = asyncio.get_running_loop()
        due = {self.sweep: loop.time(), self.count: loop.time()}
        every = {self.sweep: self.sweep_seconds, self.count: self.count_seconds}
        while True:
            for work, at in list(due.items()):
                if loop.time() >= at:
                    due[work] = loop.time() + every[work]
                    try:
                        await work()
                    except Exception as error:  # a store outage: the next round tries again
                        log.error("retention failed", error=type(error).__name__)
            await asyncio.sleep(max(min(due.values()) - loop.time(), 0.0))


def retention_component(
    runtime: "ServiceRuntime[Any, Any]",
    policies: Sequence[RetentionPolicy],
    before_start: Callable[[], Awaitable[None]] | None = None,
) -> Retention:
    """A retention component on the runtime's retention settings (a service's own tables)."""
    settings = runtime.settings
    return Retention(
        runtime,
        policies,
        enabled=settings.retention_enabled,
        sweep_seconds=settings.retention_sweep_seconds,
        count_seconds=settings.retention_count_seconds,
        batch_size=settings.retention_batch_size,
        before_start=before_start,
    )


def runtime_retention(runtime: "ServiceRuntime[Any, Any]") -> Retention:
    """The outbox and inbox retention every service runs; the inbox age checked at start."""
    settings = runtime.settings
    inbox_setting = setting_name(settings, "inbox_retention_hours")
    inbox_age = age_of(settings.inbox_retention_hours, inbox_setting)
    outbox_age = age_of(
        settings.outbox_retention_hours, setting_name(settings, "outbox_retention_hours")
    )
    policies: list[RetentionPolicy] = [OutboxRetention(outbox_age), InboxRetention(inbox_age)]
    consumed = sorted({s.topic.name for s in runtime.definition.subscriptions})

    async def check_inbox() -> None:
        if not settings.retention_enabled or inbox_age is None or not consumed:
            return
        dead_letters = [f"{topic}.dlq" for topic in consumed]
        retentions = await topic_retentions(
            settings.kafka_bootstrap_servers, [*consumed, *dead_letters], runtime.kafka_security
        )
        check_inbox_outlives_topics(inbox_age, consumed, retentions, inbox_setting)

    return retention_component(runtime, policies, check_inbox)

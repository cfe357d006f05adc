"""One test kit for every service, built on its definition.

    kit = ServiceKit(DEFINITION, database_url, practice_tokens=tokens("practice", "L85001"))
    kit.consume(event)                 # through the real inbox and handler, minus Kafka
    kit.published(HOSPITAL_ENCOUNTERS) # typed events staged in the outbox, oldest first
    kit.execute(Command(...))          # a command through the definition's handler
    async with kit.client("practice", "L85001") as http: ...  # the ASGI app, no lifespan

The clock is a `FrozenClock` the test moves by hand. Nothing here contacts Kafka.
"""

import html
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar, cast

import httpx
from sqlmodel import Session, col, select

from ensemble_contracts import Envelope, PatientEvent, TopicSpec
from ensemble_runtime.config import ServiceSettings
from ensemble_runtime.consumer import Outcome
from ensemble_runtime.db import create_schema
from ensemble_runtime.definition import Command, ServiceDefinition, Subscription
from ensemble_runtime.outbox import OutboxMessage
from ensemble_runtime.service import Service, ServiceRuntime, build_service
from ensemble_runtime.tracing import Tracing
from ensemble_runtime.unit_of_work import UnitOfWork

S = TypeVar("S", bound=ServiceSettings)
U = TypeVar("U", bound=UnitOfWork[Any])
E = TypeVar("E", bound=Envelope)
R = TypeVar("R")

UNREACHABLE_BROKER = "127.0.0.1:1"  # never contacted: tests run without the lifespan
_HIDDEN_FIELD = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


class FrozenClock:
    """A clock that stands still until the test moves it."""

    def __init__(self, now: datetime = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def token(kind: str, principal: str) -> str:
    """The test token of one caller: long enough for the runtime's token rules."""
    return f"{kind}-{principal.lower()}-test-token"


def tokens(kind: str, *principals: str) -> str:
    """A `<kind>_tokens` setting (JSON) for these principals."""
    return json.dumps({principal: token(kind, principal) for principal in principals})


def hidden_fields(page: str) -> dict[str, str]:
    """A page's hidden form fields (a CSRF token, a page to return to), name -> value, for a
    test that posts the form back as a browser would."""
    return {name: html.unescape(value) for name, value in _HIDDEN_FIELD.findall(page)}


class ServiceKit(Generic[S, U]):
    """A service built from its definition on a fresh store, driven without Kafka."""

    def __init__(
        self,
        definition: ServiceDefinition[S, U],
        database_url: str,
        clock: FrozenClock | None = None,
        tracing: Tracing | None = None,  # e.g. an in-memory exporter's, to read the spans
        **settings: Any,
    ) -> None:
        self.definition = definition
        self.clock = clock or FrozenClock()
        values = {"kafka_bootstrap_servers": UNREACHABLE_BROKER, **settings}
        self.service: Service[S, U] = build_service(
            definition,
            definition.settings(database_url=database_url, **values),
            clock=self.clock,
            tracing=tracing,
        )
        create_schema(self.service.engine)

    @property
    def settings(self) -> S:
        return self.service.settings

    @property
    def runtime(self) -> ServiceRuntime[S, U]:
        return self.service.runtime

    def unit_of_work(self) -> U:
        return self.service.runtime.unit_of_work()

    def run(self, handler: Callable[..., R], *args: Any) -> R:
        """Call a service-layer function `(uow, *args)` in a fresh unit of work."""
        with self.unit_of_work() as uow:
            return handler(uow, *args)

    def execute(self, command: Command[R]) -> R:
        """Run a command through the handler its definition names (synchronously)."""
        handler = self.definition.commands[type(command)]
        return cast(R, self.run(handler, command))

    async def execute_async(self, command: Command[R]) -> R:
        """The same through the runtime: store thread, conflict reruns."""
        return await self.service.runtime.execute(command)

    def read(self, query: Callable[..., R], *args: Any) -> R:
        """Run a read-model query from the service's `views.py`."""
        with Session(self.service.engine) as session:
            return query(session, *args)

    def subscription(self, topic: TopicSpec[Any], group: str | None = None) -> Subscription[Any, U]:
        matches = [
            s
            for s in self.definition.subscriptions
            if s.topic.name == topic.name and group in (None, s.group)
        ]
        if len(matches) != 1:
            raise LookupError(f"{len(matches)} subscriptions to {topic.name} (group {group})")
        return matches[0]

    def consume(self, *events: Envelope, group: str | None = None) -> list[Outcome]:
        """Deliver events as the runtime does (inbox + handler + commit), one transaction each.

        The topic is the one the definition subscribes to with this event model.
        """
        outcomes = []
        for event in events:
            topics = [
                s.topic for s in self.definition.subscriptions if isinstance(event, s.topic.value)
            ]
            if not topics:
                raise LookupError(f"{self.definition.name} consumes no {type(event).__name__}")
            subscription = self.subscription(topics[0], group)
            outcomes.append(self.service.runtime.consumers.apply(subscription, event))
        return outcomes

    def outbox_rows(self) -> list[OutboxMessage]:
        """Every outbox row, oldest first."""
        with Session(self.service.engine) as session:
            return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))))

    def published(self, topic: TopicSpec[E]) -> list[E]:
        """Events staged for `topic` in the outbox, oldest first, keyed as the contract says."""
        rows = [row for row in self.outbox_rows() if row.topic == topic.name]
        events = [topic.value.model_validate_json(row.payload) for row in rows]
        for row, event in zip(rows, events, strict=True):
            expected = event.key if isinstance(event, PatientEvent) else None
            assert row.key == expected, f"{topic.name} row keyed {row.key!r}, not {expected!r}"
        return events

    def published_topics(self) -> set[str]:
        with Session(self.service.engine) as session:
            return set(session.exec(select(OutboxMessage.topic)).all())

    def client(self, kind: str | None = None, principal: str | None = None) -> httpx.AsyncClient:
        """An HTTP client on the app; with `kind` and `principal`, it sends that test token."""
        headers = {}
        if kind is not None and principal is not None:
            headers["Authorization"] = f"Bearer {token(kind, principal)}"
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.service.app),
            base_url=f"http://{self.definition.name}",
            headers=headers,
        )

    def dispose(self) -> None:
        self.service.engine.dispose()

"""One service process, built from its definition: store, broker, consumers, relay, HTTP."""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

import structlog
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.telemetry import TelemetryConfig
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session

from ensemble_runtime.auth import TokenRegistry
from ensemble_runtime.clock import Clock, utc_now
from ensemble_runtime.config import ServiceSettings
from ensemble_runtime.consumer import EventConsumers
from ensemble_runtime.db import (
    StoreWorker,
    create_db_engine,
    is_transient_conflict,
    reader_engine,
)
from ensemble_runtime.definition import Command, Component, ServiceDefinition
from ensemble_runtime.group_commit import GroupCommitter, Overloaded
from ensemble_runtime.http_guard import DEFAULT_MAX_BODY_BYTES, guard
from ensemble_runtime.kafka import create_broker, ensure_topics
from ensemble_runtime.lifeline import watch_lifeline
from ensemble_runtime.logging import configure_logging
from ensemble_runtime.migrations import migrate
from ensemble_runtime.ops_metrics import consumers_connected, ops_metrics
from ensemble_runtime.relay import OutboxRelay
from ensemble_runtime.retention import runtime_retention
from ensemble_runtime.secrets import SecretFileError
from ensemble_runtime.tracing import Tracing, TracingSettingError
from ensemble_runtime.unit_of_work import UnitOfWork

# What every service runs beside its definition's components: outbox and inbox retention,
# and the ops metrics (outbox backlog, consumer lag, dead-letter depth).
RUNTIME_COMPONENTS: tuple[Callable[["ServiceRuntime[Any, Any]"], Component], ...] = (
    runtime_retention,
    ops_metrics,
)
T = TypeVar("T")
R = TypeVar("R")
S = TypeVar("S", bound=ServiceSettings)
U = TypeVar("U", bound=UnitOfWork[Any])
log = structlog.get_logger(__name__)
TRANSIENT_CONFLICT_ATTEMPTS = 3
# FastAPI's own OpenTelemetry (on whenever a global provider is set, e.g. by an agent or
# FASTAPI_OTEL_AUTO_CONFIGURE) would put raw paths (NHS numbers) in its spans and exception
# messages in its logs; the runtime's spans and metrics (http_edge.py) are the services'.
# Off, it also costs each request no provider checks.
NO_FASTAPI_TELEMETRY: TelemetryConfig = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "auto_configure": False,
}


class UnknownCommand(LookupError):
    """No handler is registered for this command type in the service definition."""


class ServiceRuntime(Generic[S, U]):
    """Owns the moving parts of a service; entrypoints reach the store through it."""

    def __init__(
        self,
        definition: ServiceDefinition[S, U],
        settings: S,
        engine: Engine,
        clock: Clock = utc_now,
        tracing: Tracing | None = None,
    ) -> None:
        self.definition = definition
        self.settings = settings
        self.engine = engine
        self.reader = reader_engine(engine)
        self.clock = clock
        # Off (no spans at all) unless an OTLP endpoint is configured (config.py, tracing.py).
        self.tracing = tracing or Tracing.otlp(
            settings.service_name, settings.otlp_traces_endpoint()
        )
        self.store = StoreWorker(engine)
        self.callers: dict[str, TokenRegistry] = settings.caller_registries()
        self.kafka_security = settings.kafka_security()
        self.broker = create_broker(
            settings.kafka_bootstrap_servers,
            settings.service_name,
            settings.graceful_timeout_seconds,
            self.kafka_security,
        )
        self.relay = OutboxRelay(
            engine,
            settings.kafka_bootstrap_servers,
            batch_size=settings.outbox_batch_size,
            poll_seconds=settings.outbox_poll_seconds,
            store=self.store,
            security=self.kafka_security,
            service=settings.service_name,
            reader=self.reader,
            tracing=self.tracing,
        )
        self.consumers: EventConsumers[U] = EventConsumers(
            self.broker,
            self.unit_of_work,
            settings.service_name,
            self.store,
            settings.consumer_max_attempts,
            settings.consumer_retry_base_seconds,
            settings.consumer_batch_size,
            settings.consumer_poll_timeout_ms,
            settings.consumer_retry_max_seconds,
            tracing=self.tracing,
        )
        for subscription in definition.subscriptions:
            self.consumers.register(subscription)
        self.group: GroupCommitter[U] = GroupCommitter(
            self.unit_of_work,
            self.store,
            settings.service_name,
            settings.group_commit_max,
            settings.group_commit_max_waiting,
        )
        self.components: list[Component] = []
        self.started = False

    def unit_of_work(self) -> U:
        return self.definition.unit_of_work(
            self.engine, self.settings, self.clock, self.relay.notify
        )

    async def transact(self, work: Callable[[U], T]) -> T:
        """Run `work` in a unit of work on the store thread; `work` calls `uow.commit()`.

        A deadlock or serialization failure rolls everything back, so the work is run again
        (a few times) rather than failing the caller.
        """

        def run() -> T:
            with self.unit_of_work() as uow:
                return work(uow)

        for attempt in range(1, TRANSIENT_CONFLICT_ATTEMPTS + 1):
            try:
                return await self.store.run(run)
            except OperationalError as error:
                if attempt == TRANSIENT_CONFLICT_ATTEMPTS or not is_transient_conflict(error):
                    raise
                log.warning("transaction conflict, running it again", attempt=attempt)
        raise AssertionError("unreachable")

    async def execute(self, command: Command[R], *, may_refuse: bool = True) -> R:
        """Run the command's handler from the definition in a unit of work.

        A grouped command may be refused with `Overloaded` when too many wait, unless the
        caller bounds its own load (`may_refuse=False`, e.g. an MLLP window)."""
        handler = self.definition.commands.get(type(command))
        if handler is None:
            raise UnknownCommand(type(command).__name__)

        def work(uow: U) -> R:
            return cast(R, handler(uow, command))

        try:
            if command.group_commit:
                return await self._grouped(work, may_refuse)
            return await self.transact(work)
        except IntegrityError:
            if not command.rerun_on_conflict:
                raise
            return await self.transact(work)  # the twin has committed: now the rules see it

    async def _grouped(self, work: Callable[[U], R], may_refuse: bool) -> R:
        try:
            return await self.group.submit(work, may_refuse)
        except OperationalError as error:
            if not is_transient_conflict(error):
                raise
            return await self.transact(work)  # a deadlock victim: alone, with reruns

    async def read(self, query: Callable[..., T], *args: Any) -> T:
        """Run a read model query (`adapters/views.py`) with its own session."""

        def run() -> T:
            with Session(self.reader) as session:
                return query(session, *args)

        return await self.store.run_read(run)

    def prepare_store(self) -> None:
        """Bring the schema up to date with the service's migrations."""
        migrate(self.engine, self.definition.migrations)

    async def start(self) -> None:
        await self.store.run(self.prepare_store)
        await ensure_topics(
            self.settings.kafka_bootstrap_servers,
            replication_factor=self.settings.topic_replication_factor,
            security=self.kafka_security,
        )
        self.relay.start()
        await self.broker.start()
        for build in RUNTIME_COMPONENTS:
            runtime_component = build(self)
            await runtime_component.start()
            self.components.append(runtime_component)
        for make in self.definition.components:
            for component in make(self):
                await component.start()
                self.components.append(component)
        self.started = True
        log.info("service started")

    async def stop(self) -> None:
        self.started = False
        for component in reversed(self.components):
            await component.stop()
        self.components.clear()
        await self.broker.stop()  # stops intake, waits for in-flight handlers
        await self.relay.stop()
        await asyncio.to_thread(self.tracing.flush)  # the last spans, before the process ends
        log.info("service stopped")

    async def ready(self) -> dict[str, bool]:
        def database_answers() -> bool:
            try:
                with self.engine.connect() as connection:
                    connection.execute(text("SELECT 1"))
                return True
            except Exception:
                return False

        return {
            "started": self.started,
            "database": await self.store.run(database_answers),
            "outbox_relay": self.relay.ready,
            "kafka_consumers": self.started and consumers_connected(self.broker),
        }


def runtime_from(request: Request) -> "ServiceRuntime[Any, Any]":
    """The runtime of the app serving this request (for a route without dependencies)."""
    return cast("ServiceRuntime[Any, Any]", request.app.state.runtime)


async def runtime_of(request: Request) -> "ServiceRuntime[Any, Any]":
    """FastAPI dependency: the runtime of the app serving this request."""
    return runtime_from(request)


def create_app(runtime: ServiceRuntime[Any, Any]) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title=runtime.definition.title, lifespan=lifespan, telemetry=NO_FASTAPI_TELEMETRY)
    app.state.runtime = runtime

    @app.exception_handler(Overloaded)
    async def overloaded(_request: Request, error: Overloaded) -> Response:
        return JSONResponse(
            {"detail": "the service is busy; retry shortly"},
            status_code=503,
            headers={"Retry-After": str(error.retry_after_seconds)},
        )

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    async def readyz(response: Response) -> dict[str, Any]:
        checks = await runtime.ready()
        ready = all(checks.values())
        response.status_code = 200 if ready else 503
        return {"ready": ready, "checks": checks}

    @app.get("/metrics", tags=["ops"])
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    for router in runtime.definition.routers:
        app.include_router(router)
    # Correlation ids, spans and metrics for every answer; body cap, strict JSON, auth before
    # validation, no 500 details, staff and practice audit.
    max_body_bytes = getattr(runtime.settings, "max_body_bytes", DEFAULT_MAX_BODY_BYTES)
    guard(app, max_body_bytes, tracing=runtime.tracing)
    return app


@dataclass
class Service(Generic[S, U]):
    """A wired service: what `serve` runs and what tests drive."""

    settings: S
    engine: Engine
    runtime: ServiceRuntime[S, U]
    app: FastAPI


def build_service(
    definition: ServiceDefinition[S, U],
    settings: S | None = None,
    *,
    engine: Engine | None = None,
    clock: Clock = utc_now,
    tracing: Tracing | None = None,
) -> Service[S, U]:
    """The one bootstrap: settings (from the environment unless given), store, runtime, app."""
    settings = settings if settings is not None else definition.settings()
    engine = engine or create_db_engine(
        settings.database_url, password=settings.database_password_source()
    )
    runtime = ServiceRuntime(definition, settings, engine, clock, tracing)
    return Service(settings, engine, runtime, create_app(runtime))


def serve(definition: ServiceDefinition[Any, Any]) -> None:
    """Run a service until SIGTERM/SIGINT; shutdown drains in-flight work."""
    try:
        settings = definition.settings()
        configure_logging(settings.service_name, settings.log_level, settings.log_json)
        service = build_service(definition, settings)
    except (SecretFileError, TracingSettingError) as error:  # one line, no traceback or value
        raise SystemExit(f"{definition.name}: {error}") from None
    # Started by a launcher: stop with it. The web server and then the broker each drain for
    # up to the graceful timeout.
    watch_lifeline(grace_seconds=2 * settings.graceful_timeout_seconds + 5)
    uvicorn.run(
        service.app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,  # keep our structured, redacted logging
        access_log=False,  # request paths carry NHS numbers
        # Beyond this many connections and requests in progress, uvicorn answers 503 at once:
        # memory stays bounded under any offered load (group commit bounds the store queue).
        limit_concurrency=settings.http_max_concurrency,
        timeout_graceful_shutdown=int(settings.graceful_timeout_seconds),
    )

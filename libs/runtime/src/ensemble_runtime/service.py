"""One service process: store, broker, consumers, outbox relay and the HTTP shell."""

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import structlog
import uvicorn
from fastapi import APIRouter, FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from ensemble_runtime.config import ServiceSettings
from ensemble_runtime.consumer import EventConsumers, Subscription
from ensemble_runtime.db import (
    StoreWorker,
    create_db_engine,
    create_schema,
    is_transient_conflict,
)
from ensemble_runtime.kafka import create_broker, ensure_topics
from ensemble_runtime.logging import configure_logging
from ensemble_runtime.migrations import migrate
from ensemble_runtime.relay import OutboxRelay
from ensemble_runtime.unit_of_work import UnitOfWork

T = TypeVar("T")
log = structlog.get_logger(__name__)
TRANSIENT_CONFLICT_ATTEMPTS = 3


class ServiceRuntime:
    """Owns the moving parts of a service; entrypoints reach the store through it."""

    def __init__(
        self,
        settings: ServiceSettings,
        engine: Engine,
        subscriptions: Sequence[Subscription[Any]] = (),
        migrations: Path | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.migrations = migrations
        self.store = StoreWorker(engine)
        self.broker = create_broker(
            settings.kafka_bootstrap_servers,
            settings.service_name,
            settings.graceful_timeout_seconds,
        )
        self.relay = OutboxRelay(
            engine,
            settings.kafka_bootstrap_servers,
            batch_size=settings.outbox_batch_size,
            poll_seconds=settings.outbox_poll_seconds,
            store=self.store,
        )
        self.consumers = EventConsumers(
            self.broker,
            engine,
            settings.service_name,
            self.relay.notify,
            settings.consumer_max_attempts,
            settings.consumer_retry_base_seconds,
            self.store,
            settings.consumer_batch_size,
            settings.consumer_batch_timeout_ms,
        )
        for subscription in subscriptions:
            self.consumers.register(subscription)
        self.started = False

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.engine, self.settings.service_name, self.relay.notify)

    async def transact(self, work: Callable[[UnitOfWork], T]) -> T:
        """Run `work` in a unit of work on a worker thread; `work` calls `uow.commit()`.

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

    async def read(self, query: Callable[[Session], T]) -> T:
        def run() -> T:
            with Session(self.engine) as session:
                return query(session)

        return await self.store.run(run)

    def prepare_store(self) -> None:
        """Bring the schema up to date: the service's migrations, else the models as they are."""
        if self.migrations is not None:
            migrate(self.engine, self.migrations)
        else:
            create_schema(self.engine)

    async def start(self) -> None:
        await self.store.run(self.prepare_store)
        await ensure_topics(
            self.settings.kafka_bootstrap_servers,
            replication_factor=self.settings.topic_replication_factor,
        )
        self.relay.start()
        await self.broker.start()
        self.started = True
        log.info("service started")

    async def stop(self) -> None:
        self.started = False
        await self.broker.stop()  # stops intake, waits for in-flight handlers
        await self.relay.stop()
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
            "outbox_relay": self.relay.connected,
        }


def create_app(runtime: ServiceRuntime, routers: Sequence[APIRouter], title: str) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title=title, lifespan=lifespan)
    app.state.runtime = runtime

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

    for router in routers:
        app.include_router(router)
    return app


@dataclass
class Service:
    """A wired service: what `__main__` serves and what tests drive."""

    settings: ServiceSettings
    engine: Engine
    runtime: ServiceRuntime
    app: FastAPI


def build_service(
    settings: ServiceSettings,
    title: str,
    subscriptions: Sequence[Subscription[Any]],
    routers: Callable[[ServiceRuntime], Sequence[APIRouter]],
    engine: Engine | None = None,
    migrations: Path | None = None,
) -> Service:
    """The one bootstrap every service shares; `engine` lets tests bring their own store."""
    engine = engine or create_db_engine(settings.database_url)
    runtime = ServiceRuntime(settings, engine, subscriptions, migrations)
    return Service(settings, engine, runtime, create_app(runtime, routers(runtime), title))


def serve(app_factory: Callable[[], FastAPI], settings: ServiceSettings) -> None:
    """Run a service until SIGTERM/SIGINT; shutdown drains in-flight work."""
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    uvicorn.run(
        app_factory(),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,  # keep our structured, redacted logging
        access_log=False,  # request paths carry NHS numbers
        timeout_graceful_shutdown=int(settings.graceful_timeout_seconds),
    )

"""Wire settings, store, runtime, HTTP app and MLLP listeners together."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import FastAPI
from sqlalchemy import Engine

from ensemble_runtime.db import create_db_engine
from ensemble_runtime.service import ServiceRuntime, create_app
from hospital_feed.adapters import orm  # noqa: F401  (registers the tables)
from hospital_feed.config import Settings
from hospital_feed.entrypoints.http import build_router
from hospital_feed.entrypoints.kafka import SUBSCRIPTIONS
from hospital_feed.entrypoints.mllp import MllpListener


@dataclass
class Service:
    settings: Settings
    engine: Engine
    runtime: ServiceRuntime
    app: FastAPI
    mllp: list[MllpListener] = field(default_factory=list)


def bootstrap(settings: Settings, engine: Engine | None = None) -> Service:
    engine = engine or create_db_engine(settings.database_url)
    runtime = ServiceRuntime(settings, engine, SUBSCRIPTIONS)
    app = create_app(runtime, [build_router(runtime, settings)], title="Ensemble hospital-feed")
    listeners = [
        MllpListener(runtime, sender, settings.http_host, port, settings.max_message_bytes)
        for sender, port in settings.mllp_ports().items()
    ]
    if listeners:
        _run_with_app(app, listeners)
    return Service(settings=settings, engine=engine, runtime=runtime, app=app, mllp=listeners)


def _run_with_app(app: FastAPI, listeners: list[MllpListener]) -> None:
    """Start the listeners after the runtime (store, relay) and stop them before it."""
    runtime_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app_: FastAPI) -> AsyncIterator[None]:
        async with runtime_lifespan(app_):
            for listener in listeners:
                await listener.start()
            try:
                yield
            finally:
                for listener in listeners:
                    await listener.stop()

    app.router.lifespan_context = lifespan

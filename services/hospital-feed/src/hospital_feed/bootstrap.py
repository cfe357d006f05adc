"""Wire settings, store, runtime, HTTP app and MLLP listeners together."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import Engine

from ensemble_runtime.service import Service as RuntimeService
from ensemble_runtime.service import build_service
from hospital_feed.adapters import orm  # noqa: F401  (registers the tables)
from hospital_feed.config import Settings
from hospital_feed.entrypoints.http import build_router
from hospital_feed.entrypoints.kafka import SUBSCRIPTIONS
from hospital_feed.entrypoints.mllp import MllpListener

MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"


@dataclass
class Service(RuntimeService):
    mllp: list[MllpListener] = field(default_factory=list)


def bootstrap(settings: Settings, engine: Engine | None = None) -> Service:
    wired = build_service(
        settings,
        "Ensemble hospital-feed",
        SUBSCRIPTIONS,
        lambda runtime: [build_router(runtime, settings)],
        engine,
        MIGRATIONS,
    )
    listeners = [
        MllpListener(wired.runtime, sender, settings.http_host, port, settings.max_message_bytes)
        for sender, port in settings.mllp_ports().items()
    ]
    if listeners:
        _run_with_app(wired.app, listeners)
    return Service(wired.settings, wired.engine, wired.runtime, wired.app, mllp=listeners)


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

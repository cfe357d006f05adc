"""Wire settings, store, runtime and HTTP app together."""

from dataclasses import dataclass

from fastapi import FastAPI
from sqlalchemy import Engine

from ensemble_runtime.db import create_db_engine
from ensemble_runtime.service import ServiceRuntime, create_app
from scheduling.adapters import orm  # noqa: F401  (registers the tables)
from scheduling.config import Settings
from scheduling.entrypoints.http import build_router
from scheduling.entrypoints.kafka import SUBSCRIPTIONS


@dataclass
class Service:
    settings: Settings
    engine: Engine
    runtime: ServiceRuntime
    app: FastAPI


def bootstrap(settings: Settings, engine: Engine | None = None) -> Service:
    engine = engine or create_db_engine(settings.database_url)
    runtime = ServiceRuntime(settings, engine, SUBSCRIPTIONS)
    app = create_app(runtime, [build_router(runtime, settings)], title="Ensemble scheduling")
    return Service(settings=settings, engine=engine, runtime=runtime, app=app)

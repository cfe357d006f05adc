"""Wire settings, store, runtime and HTTP app together."""

from dataclasses import dataclass

from fastapi import FastAPI
from sqlalchemy import Engine

from ensemble_runtime.auth import TokenRegistry
from ensemble_runtime.db import create_db_engine
from ensemble_runtime.service import ServiceRuntime, create_app
from scoring.adapters import orm  # noqa: F401  (registers the tables for create_schema)
from scoring.config import Settings
from scoring.entrypoints.http import build_router
from scoring.entrypoints.kafka import subscriptions


@dataclass
class Service:
    settings: Settings
    engine: Engine
    runtime: ServiceRuntime
    app: FastAPI


def bootstrap(settings: Settings, engine: Engine | None = None) -> Service:
    engine = engine or create_db_engine(settings.database_url)
    runtime = ServiceRuntime(settings, engine, subscriptions(settings))
    router = build_router(runtime, TokenRegistry(settings.staff_token_map))
    app = create_app(runtime, [router], title="Ensemble scoring")
    return Service(settings=settings, engine=engine, runtime=runtime, app=app)

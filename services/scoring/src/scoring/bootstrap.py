"""Wire settings, store, runtime and HTTP app together."""

from pathlib import Path

from sqlalchemy import Engine

from ensemble_runtime.auth import TokenRegistry
from ensemble_runtime.service import Service, build_service
from scoring.adapters import orm  # noqa: F401  (registers the tables for create_schema)
from scoring.config import Settings
from scoring.entrypoints.http import build_router
from scoring.entrypoints.kafka import subscriptions

__all__ = ["Service", "bootstrap"]

MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"


def bootstrap(settings: Settings, engine: Engine | None = None) -> Service:
    staff = TokenRegistry(settings.tokens("staff"))
    return build_service(
        settings,
        "Ensemble scoring",
        subscriptions(settings),
        lambda runtime: [build_router(runtime, staff)],
        engine,
        MIGRATIONS,
    )

"""Wire settings, store, runtime and HTTP app together."""

from pathlib import Path

from sqlalchemy import Engine

from ensemble_runtime.service import Service, build_service
from referral.adapters import orm  # noqa: F401  (registers the tables)
from referral.config import Settings
from referral.entrypoints.http import build_router
from referral.entrypoints.kafka import SUBSCRIPTIONS

__all__ = ["Service", "bootstrap"]

MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"


def bootstrap(settings: Settings, engine: Engine | None = None) -> Service:
    return build_service(
        settings,
        "Ensemble referral",
        SUBSCRIPTIONS,
        lambda runtime: [build_router(runtime, settings)],
        engine,
        MIGRATIONS,
    )

"""Wire settings, store, runtime and HTTP app together."""

import json
from pathlib import Path

from sqlalchemy import Engine

from ensemble_runtime.service import Service, build_service
from ensemble_runtime.unit_of_work import UnitOfWork
from scheduling.adapters import orm  # noqa: F401  (registers the tables)
from scheduling.config import Settings
from scheduling.domain.coach import Coach
from scheduling.entrypoints.http import build_router
from scheduling.entrypoints.kafka import subscriptions
from scheduling.service_layer.handlers import Clock, upsert_coaches, utc_now

__all__ = ["Service", "bootstrap", "load_coaches_file"]

MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"


def bootstrap(settings: Settings, engine: Engine | None = None, clock: Clock = utc_now) -> Service:
    service = build_service(
        settings,
        "Ensemble scheduling",
        subscriptions(settings.slot_policy(), clock),
        lambda runtime: [build_router(runtime, settings)],
        engine,
        MIGRATIONS,
    )
    if settings.coaches_file:
        service.runtime.prepare_store()
        load_coaches_file(service.engine, Path(settings.coaches_file), settings.service_name)
    return service


def load_coaches_file(engine: Engine, path: Path, producer: str) -> int:
    """Upsert the roster from a JSON list before serving; a bad file stops the start."""
    coaches = [Coach.from_json(item) for item in json.loads(path.read_text(encoding="utf-8"))]
    with UnitOfWork(engine, producer) as uow:
        return upsert_coaches(uow, coaches)

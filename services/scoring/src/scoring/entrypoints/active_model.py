"""At start, the service reads and checks the active risk model before it consumes or serves.

A store that never activated a model records the packaged default as activated; a stored model
that no longer passes the checks stops the start, with the lines the checks name.
"""

from collections.abc import Iterable
from typing import Any

import structlog

from ensemble_runtime.definition import Component
from ensemble_runtime.service import ServiceRuntime
from scoring.adapters.unit_of_work import ScoringUnitOfWork
from scoring.service_layer.models import record_packaged_default

log = structlog.get_logger(__name__)


def _active(uow: ScoringUnitOfWork) -> tuple[str, str]:
    record_packaged_default(uow)
    model = uow.models.active()
    return model.version, model.digest


class ActiveModelCheck:
    def __init__(self, runtime: ServiceRuntime[Any, ScoringUnitOfWork]) -> None:
        self._runtime = runtime

    async def start(self) -> None:
        version, digest = await self._runtime.transact(_active)
        log.info("risk model active", version=version, digest=digest[:12])

    async def stop(self) -> None:
        return None


def active_model_check(runtime: ServiceRuntime[Any, ScoringUnitOfWork]) -> Iterable[Component]:
    return [ActiveModelCheck(runtime)]

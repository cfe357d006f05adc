"""One proposal per trigger, enforced by the store itself (SQLite and PostgreSQL)."""

from uuid import uuid4

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from ensemble_runtime.unit_of_work import UnitOfWork
from referral.adapters.orm import Referral
from referral.service_layer.handlers import on_hot_onboarding_triggered

from ..support import published, service_on, trigger


def test_one_proposal_per_trigger(database_url: str) -> None:
    service = service_on(database_url)
    event = trigger()
    with UnitOfWork(service.engine, "referral") as uow:
        on_hot_onboarding_triggered(uow, event)
        uow.commit()
    with UnitOfWork(service.engine, "referral") as uow:
        (existing,) = uow.session.exec(select(Referral)).all()
        twin = existing.model_dump() | {"referral_id": uuid4()}  # same source_event_id
        uow.session.add(Referral.model_validate(twin))
        with pytest.raises(IntegrityError):
            uow.commit()
    assert len(published(service)) == 1
    service.engine.dispose()

"""A throwaway fifth service, "audit", to prove the README's "Adding a service" checklist.

It is a whole service squeezed into one module; a real one spreads the same parts over
`services/audit/src/audit/{config,service}.py`, `adapters/`, `service_layer/`, `entrypoints/`.
It records referral decisions and lists them to staff.
"""

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends
from pydantic_settings import SettingsConfigDict
from sqlmodel import Field, Session, SQLModel, col, select

from ensemble_contracts.referral import ReferralEvent, ReferralEventType
from ensemble_contracts.topics import REFERRALS
from ensemble_runtime.auth import Staff
from ensemble_runtime.config import ServiceSettings
from ensemble_runtime.db import UtcDateTime
from ensemble_runtime.definition import Command, ServiceDefinition, Subscription
from ensemble_runtime.service import ServiceRuntime, runtime_of
from ensemble_runtime.unit_of_work import UnitOfWork


class Settings(ServiceSettings):  # config.py
    model_config = SettingsConfigDict(env_prefix="AUDIT_", extra="ignore")

    service_name: str = "audit"
    database_url: str = "sqlite:///run/audit.db"
    http_port: int = 8005


class AuditEntry(SQLModel, table=True):  # adapters/orm.py
    __tablename__ = "audit_entry"

    id: int | None = Field(default=None, primary_key=True)
    referral_id: UUID = Field(index=True)
    decision: str
    recorded_at: datetime = Field(sa_type=UtcDateTime)


class AuditRepository:  # adapters/repository.py
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, entry: AuditEntry) -> None:
        self._session.add(entry)

    def count(self) -> int:
        return len(self._session.exec(select(AuditEntry.id)).all())


class AuditUnitOfWork(UnitOfWork[Settings]):  # adapters/unit_of_work.py
    entries: AuditRepository

    def open_repositories(self, session: Session) -> None:
        self.entries = AuditRepository(session)


def entries(session: Session) -> list[dict[str, Any]]:  # adapters/views.py
    rows = session.exec(select(AuditEntry).order_by(col(AuditEntry.id))).all()
    return [{"referral_id": str(r.referral_id), "decision": r.decision} for r in rows]


@dataclass(frozen=True)
class CountEntries(Command[int]):  # service_layer/commands.py
    pass


# service_layer/handlers.py
def record_decision(uow: AuditUnitOfWork, event: ReferralEvent) -> None:
    uow.entries.add(
        AuditEntry(referral_id=event.referral_id, decision=event.status, recorded_at=uow.clock())
    )
    uow.commit()


def count_entries(uow: AuditUnitOfWork, command: CountEntries) -> int:
    return uow.entries.count()


Runtime = Annotated[ServiceRuntime[Any, Any], Depends(runtime_of)]
router = APIRouter(prefix="/v1")  # entrypoints/http.py


@router.get("/audit")
async def list_entries(staff: Staff, runtime: Runtime) -> dict[str, Any]:
    return {"entries": await runtime.read(entries), "count": await runtime.execute(CountEntries())}


DEFINITION = ServiceDefinition(  # service.py
    name="audit",
    title="Ensemble audit (throwaway)",
    settings=Settings,
    unit_of_work=AuditUnitOfWork,
    migrations=Path(__file__).parent / "no-migrations-in-a-throwaway",
    subscriptions=[
        Subscription(
            topic=REFERRALS,
            group="audit.referrals",
            handlers={
                ReferralEventType.ACCEPTED: record_decision,
                ReferralEventType.DECLINED: record_decision,
            },
        )
    ],
    commands={CountEntries: count_entries},
    routers=[router],
)

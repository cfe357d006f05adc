"""HTTP for the coaching team (staff token): roster, appointments, outcomes, waiting list."""

from collections.abc import Callable
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from ensemble_runtime.auth import TokenRegistry, authenticate
from ensemble_runtime.service import ServiceRuntime
from ensemble_runtime.unit_of_work import UnitOfWork
from scheduling.adapters import repository as repo
from scheduling.adapters.orm import Appointment, WaitingListEntry
from scheduling.config import Settings
from scheduling.domain.appointment import AppointmentStatus, InvalidTransition
from scheduling.domain.coach import Coach, InvalidCoach
from scheduling.service_layer.handlers import (
    AppointmentNotFound,
    cancel,
    mark_attended,
    mark_did_not_attend,
    upsert_coaches,
)


class CoachIn(BaseModel):
    """The published coach format; the domain checks zones, weekdays and hours."""

    coach_id: str
    display_name: str
    languages: list[str] = Field(min_length=1)
    timezone: str
    weekly_hours: dict[str, list[list[str]]] = Field(default_factory=dict)
    active: bool = True


def parse_coaches(items: list[CoachIn]) -> list[Coach]:
    coaches, errors = [], []
    for index, item in enumerate(items):
        try:
            coaches.append(Coach.from_json(item.model_dump()))
        except InvalidCoach as error:
            errors.append({"index": index, "coach_id": item.coach_id, "error": str(error)})
    if errors:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, errors)
    if len({c.coach_id for c in coaches}) != len(coaches):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "coach_id repeated in the list")
    return coaches


def build_router(runtime: ServiceRuntime, settings: Settings) -> APIRouter:
    staff = TokenRegistry(settings.tokens("staff"))
    router = APIRouter(prefix="/v1", tags=["coaching team"])

    @router.post("/coaches")
    async def put_coaches(coaches: list[CoachIn], request: Request) -> dict[str, int]:
        authenticate(request, staff)
        parsed = parse_coaches(coaches)
        return {"upserted": await runtime.transact(lambda uow: upsert_coaches(uow, parsed))}

    @router.get("/coaches")
    async def get_coaches(request: Request) -> dict[str, Any]:
        authenticate(request, staff)
        coaches = await runtime.read(repo.all_coaches)
        return {"coaches": [c.to_json() for c in coaches]}

    @router.get("/appointments")
    async def appointments(
        request: Request,
        nhs_number: str | None = None,
        coach_id: str | None = None,
        referral_id: UUID | None = None,
        status_: Annotated[AppointmentStatus | None, Query(alias="status")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    ) -> dict[str, Any]:
        authenticate(request, staff)

        def query(session: Session) -> list[dict[str, Any]]:
            found = repo.find_appointments(
                session,
                limit,
                nhs_number=nhs_number,
                coach_id=coach_id,
                referral_id=referral_id,
                status=status_.value if status_ else None,
            )
            return [repo.appointment_view(a) for a in found]

        return {"appointments": await runtime.read(query)}

    async def change(
        request: Request, command: Callable[[UnitOfWork, UUID], Appointment], appointment_id: UUID
    ) -> dict[str, Any]:
        authenticate(request, staff)
        try:
            changed = await runtime.transact(lambda uow: command(uow, appointment_id))
        except AppointmentNotFound as error:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such appointment") from error
        except InvalidTransition as error:
            raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
        return repo.appointment_view(changed)

    @router.post("/appointments/{appointment_id}/attended")
    async def attended(appointment_id: UUID, request: Request) -> dict[str, Any]:
        return await change(request, mark_attended, appointment_id)

    @router.post("/appointments/{appointment_id}/did-not-attend")
    async def did_not_attend(appointment_id: UUID, request: Request) -> dict[str, Any]:
        return await change(request, mark_did_not_attend, appointment_id)

    @router.post("/appointments/{appointment_id}/cancel")
    async def cancel_appointment(appointment_id: UUID, request: Request) -> dict[str, Any]:
        return await change(request, cancel, appointment_id)

    @router.get("/waiting-list")
    async def waiting_list(request: Request) -> dict[str, Any]:
        authenticate(request, staff)

        def query(session: Session) -> list[dict[str, Any]]:
            rows = session.exec(select(WaitingListEntry).order_by(col(WaitingListEntry.created_at)))
            return [repo.waiting_view(r) for r in rows]

        return {"waiting_list": await runtime.read(query)}

    return router

"""HTTP for the coaching team (staff token): roster, appointments, outcomes."""

from datetime import time
from typing import Annotated, Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, Field, field_validator
from sqlmodel import Session, col, select

from ensemble_runtime.auth import TokenRegistry, authenticate
from ensemble_runtime.service import ServiceRuntime
from scheduling.adapters.orm import Appointment, CoachRecord, WaitingListEntry
from scheduling.config import Settings
from scheduling.domain.coaching import WEEKDAYS
from scheduling.service_layer.handlers import (
    InvalidAppointmentChange,
    record_outcome,
    upsert_coaches,
)


class CoachIn(BaseModel):
    coach_id: str = Field(min_length=1, max_length=50)
    display_name: str = Field(min_length=1, max_length=100)
    languages: list[str] = Field(min_length=1)
    timezone: str
    weekly_hours: dict[str, list[tuple[str, str]]]
    active: bool = True

    @field_validator("timezone")
    @classmethod
    def known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError("unknown IANA time zone") from error
        return value

    @field_validator("weekly_hours")
    @classmethod
    def valid_hours(
        cls, value: dict[str, list[tuple[str, str]]]
    ) -> dict[str, list[tuple[str, str]]]:
        for day, ranges in value.items():
            if day not in WEEKDAYS:
                raise ValueError(f"weekday must be one of {', '.join(WEEKDAYS)}")
            for start, end in ranges:
                if time.fromisoformat(start) >= time.fromisoformat(end):
                    raise ValueError("each range must start before it ends")
        return value


def view(appointment: Appointment) -> dict[str, Any]:
    return appointment.model_dump(mode="json", exclude={"first_for_referral"})


def build_router(runtime: ServiceRuntime, settings: Settings) -> APIRouter:
    staff = TokenRegistry(settings.tokens("staff"))
    router = APIRouter(prefix="/v1", tags=["coaching team"])

    @router.post("/coaches")
    async def put_coaches(coaches: list[CoachIn], request: Request) -> dict[str, int]:
        authenticate(request, staff)
        records = [
            CoachRecord(
                **c.model_dump(exclude={"weekly_hours"}),
                weekly_hours={d: [list(r) for r in rs] for d, rs in c.weekly_hours.items()},
            )
            for c in coaches
        ]
        return {"coaches": await runtime.transact(lambda uow: upsert_coaches(uow, records))}

    @router.get("/coaches")
    async def get_coaches(request: Request) -> dict[str, Any]:
        authenticate(request, staff)
        rows = await runtime.read(lambda s: list(s.exec(select(CoachRecord))))
        return {"coaches": [r.model_dump() for r in rows]}

    @router.get("/appointments")
    async def appointments(
        request: Request,
        nhs_number: str | None = None,
        coach_id: str | None = None,
        status_: Annotated[str | None, Query(alias="status")] = None,
    ) -> dict[str, Any]:
        authenticate(request, staff)

        def query(session: Session) -> list[dict[str, Any]]:
            statement = select(Appointment).order_by(col(Appointment.starts_at))
            for name, value in (
                ("nhs_number", nhs_number),
                ("coach_id", coach_id),
                ("status", status_),
            ):
                if value is not None:
                    statement = statement.where(getattr(Appointment, name) == value)
            return [view(a) for a in session.exec(statement.limit(1000))]

        return {"appointments": await runtime.read(query)}

    async def outcome(appointment_id: UUID, request: Request, result: str) -> dict[str, Any]:
        authenticate(request, staff)
        try:
            found = await runtime.transact(lambda uow: record_outcome(uow, appointment_id, result))
        except InvalidAppointmentChange as error:
            raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such appointment")
        return view(found)

    @router.post("/appointments/{appointment_id}/attended")
    async def attended(appointment_id: UUID, request: Request) -> dict[str, Any]:
        return await outcome(appointment_id, request, "attended")

    @router.post("/appointments/{appointment_id}/did-not-attend")
    async def did_not_attend(appointment_id: UUID, request: Request) -> dict[str, Any]:
        return await outcome(appointment_id, request, "did_not_attend")

    @router.post("/appointments/{appointment_id}/cancel")
    async def cancel(appointment_id: UUID, request: Request) -> dict[str, Any]:
        return await outcome(appointment_id, request, "cancelled")

    @router.get("/waiting-list")
    async def waiting_list(request: Request) -> dict[str, Any]:
        authenticate(request, staff)
        rows = await runtime.read(lambda s: list(s.exec(select(WaitingListEntry))))
        return {"waiting": [r.model_dump(mode="json") for r in rows]}

    return router

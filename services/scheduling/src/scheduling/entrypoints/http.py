"""HTTP for the coaching team (staff token): roster, appointments, outcomes, waiting list."""

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel, Field

from ensemble_contracts import limits
from ensemble_runtime.auth import Staff
from ensemble_runtime.service import ServiceRuntime, runtime_of
from scheduling.adapters import views
from scheduling.domain.appointment import (
    AppointmentStatus,
    ChangedBy,
    ImpossibleTime,
    InvalidTransition,
)
from scheduling.domain.coach import Coach, InvalidCoach
from scheduling.service_layer.commands import (
    CancelAppointment,
    MarkAttended,
    MarkDidNotAttend,
    RescheduleAppointment,
    UpsertCoaches,
)
from scheduling.service_layer.handlers import AppointmentNotFound, SlotTaken

Runtime = Annotated[ServiceRuntime[Any, Any], Depends(runtime_of)]

router = APIRouter(prefix="/v1", tags=["coaching team"])


# Bounds of what the coaching team may send: the widths of the store's columns and the
# contract's limits (an appointment carries the coach's id, language and zone).
COACH_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,49}$"
MAX_COACHES = 1000
Language = Annotated[str, Field(min_length=1, max_length=limits.LANGUAGE)]
Clock = Annotated[str, Field(max_length=5)]
Period = Annotated[list[Clock], Field(max_length=2)]
Weekday = Annotated[str, Field(max_length=10)]
Day = Annotated[str, Field(max_length=10)]


class CoachIn(BaseModel):
    """The published coach format; the domain checks zones, weekdays and hours."""

    coach_id: str = Field(min_length=1, max_length=50)
    display_name: str = Field(min_length=1, max_length=100)
    languages: list[Language] = Field(min_length=1, max_length=20)
    timezone: str = Field(min_length=1, max_length=64)
    weekly_hours: dict[Weekday, Annotated[list[Period], Field(max_length=48)]] = Field(
        default_factory=dict, max_length=7
    )
    active: bool = True
    team: Literal["health_coaching", "complex_care"] = "health_coaching"
    wte: float = Field(default=1.0, gt=0, le=1.0)
    monthly_target: int | None = Field(default=None, ge=0, le=10_000)
    leave: list[Annotated[list[Day], Field(min_length=2, max_length=2)]] = Field(
        default_factory=list, max_length=100
    )


def parse_coaches(items: list[CoachIn]) -> tuple[Coach, ...]:
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
    return tuple(coaches)


@router.post("/coaches")
async def put_coaches(
    coaches: Annotated[list[CoachIn], Field(max_length=MAX_COACHES)],
    _staff: Staff,
    runtime: Runtime,
) -> dict[str, int]:
    return {"upserted": await runtime.execute(UpsertCoaches(parse_coaches(coaches)))}


@router.get("/coaches")
async def get_coaches(_staff: Staff, runtime: Runtime) -> dict[str, Any]:
    return {"coaches": await runtime.read(views.coaches)}


@router.get("/appointments")
async def appointments(
    _staff: Staff,
    runtime: Runtime,
    nhs_number: Annotated[str | None, Query(pattern=r"^\d{10}$")] = None,
    coach_id: Annotated[str | None, Query(pattern=COACH_ID)] = None,
    referral_id: UUID | None = None,
    status_: Annotated[AppointmentStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> dict[str, Any]:
    found = await runtime.read(
        views.appointments,
        limit,
        nhs_number,
        coach_id,
        referral_id,
        status_.value if status_ else None,
    )
    return {"appointments": found}


async def record(
    runtime: ServiceRuntime[Any, Any],
    command: MarkAttended | MarkDidNotAttend | CancelAppointment | RescheduleAppointment,
) -> dict[str, Any]:
    """Run the change: 404 unknown, 409 not possible now, 422 an impossible time; a refused
    change leaves nothing behind (one transaction)."""
    try:
        changed = await runtime.execute(command)
    except AppointmentNotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such appointment") from error
    except (InvalidTransition, SlotTaken) as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
    except ImpossibleTime as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
    return views.appointment_view(changed)


Side = Literal["patient", "coach", "staff"]  # who asks for a change ("policy" is ours)


class CancelIn(BaseModel):
    by: Side = "staff"
    reason: str | None = Field(default=None, min_length=1, max_length=200)


@router.post("/appointments/{appointment_id}/attended")
async def attended(appointment_id: UUID, _staff: Staff, runtime: Runtime) -> dict[str, Any]:
    return await record(runtime, MarkAttended(appointment_id))


@router.post("/appointments/{appointment_id}/did-not-attend")
async def did_not_attend(appointment_id: UUID, _staff: Staff, runtime: Runtime) -> dict[str, Any]:
    return await record(runtime, MarkDidNotAttend(appointment_id))


@router.post("/appointments/{appointment_id}/cancel")
async def cancel_appointment(
    appointment_id: UUID, _staff: Staff, runtime: Runtime, body: CancelIn | None = None
) -> dict[str, Any]:
    """By `patient`, `coach` or `staff`, with a reason kept in the store (never published)."""
    body = body or CancelIn()
    command = CancelAppointment(appointment_id, ChangedBy(body.by), body.reason)
    return await record(runtime, command)


@router.get("/waiting-list")
async def waiting_list(_staff: Staff, runtime: Runtime) -> dict[str, Any]:
    return {"waiting_list": await runtime.read(views.waiting_list)}

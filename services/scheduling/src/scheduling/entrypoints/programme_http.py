"""HTTP for the coaching team (staff token): reschedules, patients' hours, coaches' load."""

import re
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Path, Query, Response, status
from pydantic import BaseModel, Field

from ensemble_contracts.limits import Language, OdsCode
from ensemble_contracts.referral import ReferralService
from ensemble_runtime.auth import Staff
from scheduling.adapters import views
from scheduling.domain.appointment import ChangedBy, InvalidTransition
from scheduling.domain.coach import InvalidCoach, parse_clock, zone_named
from scheduling.entrypoints.http import COACH_ID, Runtime, Side, record
from scheduling.service_layer.commands import (
    BookProgramme,
    PutPatientPreference,
    RescheduleAppointment,
    ResumeProgramme,
)
from scheduling.service_layer.handlers import ProgrammeNotFound

router = APIRouter(prefix="/v1", tags=["coaching team"])
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class RescheduleIn(BaseModel):
    """`starts_at` a wall time (`2027-03-28T10:00`) read in `timezone` (the coach's when
    left out), or an ISO time with an offset; no `starts_at`: the coach's next free slot."""

    by: Side
    reason: str | None = Field(default=None, min_length=1, max_length=200)
    starts_at: datetime | None = None
    timezone: str | None = Field(default=None, min_length=1, max_length=64)


@router.post("/appointments/{appointment_id}/reschedule")
async def reschedule(
    appointment_id: UUID, body: RescheduleIn, _staff: Staff, runtime: Runtime
) -> dict[str, Any]:
    command = RescheduleAppointment(
        appointment_id, ChangedBy(body.by), body.reason, body.starts_at, body.timezone
    )
    return await record(runtime, command)


class PreferenceIn(BaseModel):
    """The hours a patient can take a session, on their own clock."""

    timezone: str = Field(min_length=1, max_length=64)
    day_start: str = Field(default="08:00", max_length=5)
    day_end: str = Field(default="20:00", max_length=5)
    coach_change_requested: bool = False


@router.put("/patients/{nhs_number}/preferences")
async def put_preferences(
    nhs_number: Annotated[str, Path(pattern=r"^\d{10}$")],
    body: PreferenceIn,
    _staff: Staff,
    runtime: Runtime,
) -> dict[str, Any]:
    try:
        zone_named(body.timezone)
        start = parse_clock(body.day_start)
        end = parse_clock(body.day_end, allow_midnight_end=True)
    except InvalidCoach as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
    if end <= start:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "day_end must follow day_start")
    command = PutPatientPreference(
        nhs_number, body.timezone, start, end, body.coach_change_requested
    )
    return views.preference_view(await runtime.execute(command))


@router.get("/coaches/{coach_id}/load")
async def coach_load(
    coach_id: Annotated[str, Path(pattern=COACH_ID)],
    month: Annotated[str, Query(pattern=MONTH.pattern)],
    _staff: Staff,
    runtime: Runtime,
) -> dict[str, Any]:
    """A coach's month on their own calendar: target, booked, held, missed, remaining."""
    match = MONTH.fullmatch(month)
    assert match is not None
    load = await runtime.read(views.coach_load, coach_id, int(match[1]), int(match[2]))
    if load is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such coach")
    return load


class ProgrammeIn(BaseModel):
    """An accepted referral, as `referral.accepted` carries it."""

    referral_id: UUID
    nhs_number: str = Field(pattern=r"^\d{10}$")
    practice_ods: OdsCode
    service: ReferralService = "health_coaching"
    preferred_language: Language | None = None


@router.post("/programmes", status_code=status.HTTP_201_CREATED)
async def book_programme(
    body: ProgrammeIn, _staff: Staff, runtime: Runtime, response: Response
) -> dict[str, Any]:
    """Book an accepted referral's programme directly, by the rules `referral.accepted`
    follows (a referral taken outside the referral service); 200 and the programme as it
    is when this referral already has one."""
    command = BookProgramme(
        body.referral_id,
        body.nhs_number,
        body.practice_ods,
        body.service,
        body.preferred_language,
    )
    if not await runtime.execute(command):
        response.status_code = status.HTTP_200_OK
    found = await runtime.read(views.programme, body.referral_id)
    if found is None:  # a referral booked before programmes existed
        raise HTTPException(
            status.HTTP_409_CONFLICT, "this referral was booked without a programme"
        )
    return found


@router.get("/programmes/{referral_id}")
async def programme(referral_id: UUID, _staff: Staff, runtime: Runtime) -> dict[str, Any]:
    found = await runtime.read(views.programme, referral_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no programme for this referral")
    return found


@router.post("/programmes/{referral_id}/resume")
async def resume(referral_id: UUID, _staff: Staff, runtime: Runtime) -> dict[str, Any]:
    """A programme the DNA policy paused goes on: 404 unknown, 409 unless paused."""
    try:
        await runtime.execute(ResumeProgramme(referral_id))
    except ProgrammeNotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no programme for this referral") from error
    except InvalidTransition as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
    found = await runtime.read(views.programme, referral_id)
    assert found is not None
    return found

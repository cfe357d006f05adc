"""A coach's diary: the iCalendar feed and an HTML page in the coach's own time.

Both take a staff token, or the coach's secret link (`?key=`), which staff issue (`POST
.../calendar-link`, shown once) and revoke (`DELETE`, or by issuing a new one).
"""

import hmac
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status
from fastapi.responses import HTMLResponse

from ensemble_runtime.auth import Staff, bearer_token, caller_of, declare_caller
from scheduling.adapters import ical, views
from scheduling.adapters.orm import Appointment
from scheduling.domain.coach import InvalidCoach, zone_named
from scheduling.entrypoints import diary_page
from scheduling.entrypoints.http import COACH_ID, Runtime
from scheduling.service_layer.calendar_links import (
    IssueCalendarLink,
    RevokeCalendarLink,
    UnknownCoach,
    digest,
)

router = APIRouter(prefix="/v1", tags=["coaches' diaries"])
CoachId = Annotated[str, Path(pattern=COACH_ID)]
Key = Annotated[str | None, Query(min_length=20, max_length=100)]
FEED_PAST, FEED_AHEAD = timedelta(days=31), timedelta(days=366)
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the page's URL may hold the secret
}


async def allowed(request: Request, runtime: Runtime, coach_id: str, key: str | None) -> None:
    """The coach's secret link, else a staff token; 401 otherwise (the same for an unknown
    coach, so a link says nothing about who exists)."""
    if key is not None:
        expected = await runtime.read(views.calendar_link_digest, coach_id)
        if expected is not None and hmac.compare_digest(expected, digest(key)):
            return
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown or revoked calendar link")
    found = await caller_of(request, "staff", bearer_token(request))
    if found is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "unknown token", headers={"WWW-Authenticate": "Bearer"}
        )
    declare_caller(request, "staff", found)


@router.post("/coaches/{coach_id}/calendar-link", status_code=status.HTTP_201_CREATED)
async def issue_link(coach_id: CoachId, _staff: Staff, runtime: Runtime) -> dict[str, str]:
    """A new secret link (shown once); any earlier link of the coach stops working."""
    try:
        key = await runtime.execute(IssueCalendarLink(coach_id))
    except UnknownCoach as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such coach") from error
    return {
        "calendar": f"/v1/coaches/{coach_id}/calendar.ics?key={key}",
        "diary": f"/v1/coaches/{coach_id}/diary?key={key}",
    }


@router.delete("/coaches/{coach_id}/calendar-link", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_link(coach_id: CoachId, _staff: Staff, runtime: Runtime) -> Response:
    if not await runtime.execute(RevokeCalendarLink(coach_id)):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "the coach has no calendar link")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/coaches/{coach_id}/calendar.ics")
async def calendar_feed(
    coach_id: CoachId, request: Request, runtime: Runtime, key: Key = None
) -> Response:
    await allowed(request, runtime, coach_id, key)
    now = runtime.clock()
    found = await runtime.read(views.diary, coach_id, now - FEED_PAST, now + FEED_AHEAD)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such coach")
    coach, appointments = found
    return Response(
        ical.calendar(coach, appointments),
        media_type="text/calendar; charset=utf-8",
        headers={"Cache-Control": "no-store", "Content-Disposition": "inline; filename=diary.ics"},
    )


@router.get("/coaches/{coach_id}/diary", response_class=HTMLResponse)
async def coach_diary(
    coach_id: CoachId,
    request: Request,
    runtime: Runtime,
    key: Key = None,
    days: Annotated[int, Query(ge=1, le=62)] = 14,
    patient_timezone: Annotated[str, Query(max_length=64)] = "Europe/London",
) -> HTMLResponse:
    """The coach's next `days` days on their own clock, with the patient's time beside it."""
    await allowed(request, runtime, coach_id, key)
    try:
        patient_zone = zone_named(patient_timezone)
    except InvalidCoach as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
    coach_now = runtime.clock()
    found = await runtime.read(views.coach_zone, coach_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such coach")
    zone = ZoneInfo(found)
    today = coach_now.astimezone(zone).date()
    start = datetime.combine(today, time(0), zone)
    end = datetime.combine(today + timedelta(days=days), time(0), zone)
    result = await runtime.read(views.diary, coach_id, start, end)
    if result is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such coach")
    coach, appointments = result
    html = diary_page.render(
        coach.display_name,
        coach.timezone,
        patient_zone.key,
        today,
        days,
        by_local_day(appointments, zone, patient_zone),
    )
    return HTMLResponse(html, headers=PAGE_HEADERS)


def by_local_day(
    appointments: list[Appointment], zone: ZoneInfo, patient_zone: ZoneInfo
) -> dict[date, list[dict[str, Any]]]:
    days: dict[date, list[dict[str, Any]]] = defaultdict(list)
    for appointment in appointments:
        local = appointment.starts_at.astimezone(zone)
        days[local.date()].append(
            {
                "starts": local,
                "ends": appointment.ends_at.astimezone(zone),
                "patient_starts": appointment.starts_at.astimezone(patient_zone),
                "title": ical.session_title(appointment),
                "status": appointment.status.replace("_", " "),
                "id": appointment.appointment_id,
            }
        )
    return dict(days)

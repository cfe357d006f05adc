"""HTTP for huddles (staff only): open a team's huddle for a date, read its agenda, add an
action to an item, mark an action done, and print the huddle sheet.

A team is a service, for every practice or one: `complex_care`, `complex_care.L85001`.
A practice's token is a 403 (huddles are the care team's business), no known token a 401.
The sheet is also for a browser signed in with a staff token (entrypoints/sheet_sign_in.py):
without a bearer header or a session it is the sign-in form (401), which returns to it.
"""

from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, Field

from ensemble_runtime.audit import audit_detail
from ensemble_runtime.auth import Caller
from ensemble_runtime.page_sign_in import has_bearer, this_page
from referral.adapters import huddle_views
from referral.domain.huddle import (
    ACTION_TEXT,
    InvalidTeam,
    LaterHuddleExists,
    PastDueDate,
    Team,
    TooFarAhead,
    UnknownOwner,
    parse_team,
)
from referral.domain.sla import LONDON
from referral.entrypoints.http import PlainText, Runtime
from referral.entrypoints.lifecycle_http import PersonId, staff_only
from referral.entrypoints.sheet_sign_in import SHEET_SIGN_IN
from referral.service_layer.huddle_commands import AddAction, CompleteAction, OpenHuddle
from referral.service_layer.huddles import HuddleNotFound

router = APIRouter(prefix="/v1/teams/{team}/huddles/{on}", tags=["huddles"])
_STAFF_ONLY = staff_only("only staff hold huddles")
StaffMember = Annotated[Caller, Depends(_STAFF_ONLY)]
_PAGES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
)


def _london(value: str) -> str:
    return datetime.fromisoformat(value).astimezone(LONDON).strftime("%a %d %b %H:%M")


def _date(value: str | date, pattern: str) -> str:
    return (date.fromisoformat(value) if isinstance(value, str) else value).strftime(pattern)


_PAGES.filters.update(
    london=_london,
    longdate=lambda value: _date(value, "%A %d %B %Y"),
    shortdate=lambda value: _date(value, "%d %b %Y"),
    nhs=lambda number: f"{number[:3]} {number[3:6]} {number[6:]}",
)
# Nothing runs on the sheet and nothing is fetched from elsewhere; it is not cached either.
SHEET_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _team(team: str) -> Team:
    try:
        return parse_team(team)
    except InvalidTeam as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error


TeamPath = Annotated[Team, Depends(_team)]


class NewAction(BaseModel):
    text: PlainText = Field(min_length=1, max_length=ACTION_TEXT)
    owner_id: PersonId = Field(description="A coach, keyworker or supervisor of the team.")
    due_on: date = Field(description="Today (London) or later.")


async def _agenda(runtime: Runtime, team: Team, on: date) -> dict[str, Any]:
    roster = runtime.settings.roster_for(team)
    found = await runtime.read(huddle_views.agenda, team, on, roster)
    audit_detail(action="huddles.read", items=len(found["items"]) if found else 0)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no huddle for this team and date")
    return found


@router.post("", status_code=status.HTTP_201_CREATED)
async def open_huddle(
    team: TeamPath, on: date, staff: StaffMember, runtime: Runtime, response: Response
) -> dict[str, Any]:
    """201 and the agenda of a new huddle; 200 when it existed (the team's latest huddle
    then takes the signals recorded since it was opened)."""
    try:
        opened = await runtime.execute(OpenHuddle(team, on, staff.user))
    except LaterHuddleExists as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
    except TooFarAhead as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
    finally:
        audit_detail(action="huddles.open")
    if not opened.created:
        response.status_code = status.HTTP_200_OK
    return await _agenda(runtime, team, on)


@router.get("")
async def agenda(team: TeamPath, on: date, _staff: StaffMember, runtime: Runtime) -> dict[str, Any]:
    return await _agenda(runtime, team, on)


@router.post("/items/{item_id}/actions", status_code=status.HTTP_201_CREATED)
async def add_action(
    team: TeamPath,
    on: date,
    item_id: UUID,
    body: NewAction,
    staff: StaffMember,
    runtime: Runtime,
) -> dict[str, Any]:
    command = AddAction(team, on, item_id, body.text, body.owner_id, body.due_on, staff.user)
    try:
        action = await runtime.execute(command)
    except HuddleNotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from error
    except (UnknownOwner, PastDueDate) as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
    finally:
        audit_detail(action="huddles.action.add")
    return huddle_views.action_json(action)


@router.post("/actions/{action_id}/done")
async def mark_done(
    team: TeamPath, on: date, action_id: UUID, staff: StaffMember, runtime: Runtime
) -> dict[str, Any]:
    """Done, from the huddle it was raised in or any it was carried over to (idempotent)."""
    try:
        action = await runtime.execute(CompleteAction(team, action_id, staff.user))
    except HuddleNotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from error
    finally:
        audit_detail(action="huddles.action.done")
    return huddle_views.action_json(action)


@router.get("/sheet", response_class=HTMLResponse)
async def sheet(request: Request, team: TeamPath, on: date, runtime: Runtime) -> Response:
    """The huddle sheet: one printable page, no script. For a staff bearer token, or a
    browser signed in with one (else the sign-in form)."""
    if has_bearer(request):
        await _STAFF_ONLY(request)  # 401 or 403 as the API's
    elif await SHEET_SIGN_IN.signed_in(request, runtime) is None:
        page = this_page(request)
        return SHEET_SIGN_IN.sign_in_page(request, runtime, status_code=401, next_page=page)
    found = await _agenda(runtime, team, on)
    return HTMLResponse(render_sheet(found, team, on), headers=SHEET_HEADERS)


def render_sheet(agenda: dict[str, Any], team: Team, on: date) -> str:
    """The sheet's HTML for an agenda (huddle_views.agenda), autoescaped."""
    service = team.service.replace("_", " ").capitalize()
    return _PAGES.get_template("huddle_sheet.html").render(
        agenda=agenda,
        on=on,
        team_name=service if team.practice_ods is None else f"{service}, {team.practice_ods}",
    )

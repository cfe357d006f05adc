"""The practice inbox page (`/practice/`): server-rendered HTML, usable without JavaScript.

Signing in takes the practice's token once and opens a session kept in the store
(`adapters/sessions.py`): the browser holds only an opaque random id in an HttpOnly,
SameSite=Strict cookie scoped to `/practice`. Every POST then carries the session's CSRF token
(checked in constant time) and is refused when its Origin header names another origin.

The sign-in form itself has no session yet. Login CSRF (a forged sign-in into someone else's
practice) is refused twice over: by the same Origin check, and by a double-submit token, a
random value set in a short-lived SameSite=Strict cookie with the form and echoed in a hidden
field, which a cross-site page can neither read nor set.

Pages with patient data are `Cache-Control: no-store`. Nothing here logs an NHS number.
"""

from collections.abc import Mapping
from functools import partial
from typing import Annotated, Any
from urllib.parse import urlencode

import structlog
from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response

from hospital_feed.adapters import sessions, views
from hospital_feed.domain.acknowledgement import OUTCOME_LABELS, AlertState, Outcome
from hospital_feed.domain.encounters import AlertKind, alert_title
from hospital_feed.entrypoints.alert_display import view_options
from hospital_feed.entrypoints.alert_stream import alert_stream
from hospital_feed.entrypoints.http import MAX_ID
from hospital_feed.entrypoints.page_sign_in import (
    TEMPLATES,
    Answer,
    PageSignIn,
    Runtime,
    render,
    see_other,
    sign_in_form,
)
from hospital_feed.service_layer.commands import AcknowledgeAlert

PREFIX = "/practice"
SESSION_COOKIE = "practice_session"
SIGN_IN_COOKIE = "practice_sign_in"  # the pre-session double-submit token
INBOX_LIMIT = 300  # the newest alerts shown (filters apply within them)
MAX_FORM_FIELDS = 10
KINDS = {  # the filter's kinds, by their titles
    kind.value: "Admission" if kind is AlertKind.ADMITTED else alert_title(kind, False)
    for kind in AlertKind
}
BANDS = {"very_high": "Very high", "high": "High", "moderate": "Moderate", "low": "Low"}
OUTCOMES = {outcome.value: label for outcome, label in OUTCOME_LABELS.items()}
STATES = {state.value: state.value.capitalize() for state in AlertState}
FILTERS = ("kind", "band", "state")
_ASSETS = {
    "inbox.js": "text/javascript; charset=utf-8",
    "inbox.css": "text/css; charset=utf-8",
}

router = APIRouter(prefix=PREFIX, include_in_schema=False)
log = structlog.get_logger(__name__)


def _refused(status_code: int, message: str, who: object = None) -> HTMLResponse:
    return render("refused.html", status_code, message=message)


PAGE = PageSignIn[sessions.SignedIn](
    prefix=PREFIX,
    home=f"{PREFIX}/",
    kinds=("practice",),
    session_cookie=SESSION_COOKIE,
    sign_in_cookie=SIGN_IN_COOKIE,
    sign_in_form=sign_in_form("sign_in.html"),
    max_form_fields=MAX_FORM_FIELDS,
    live=sessions.signed_in,
    principal_of=lambda who: who.practice_ods,
    store_of=lambda uow: uow.page_sessions,
    refused=_refused,
    log=log,
    log_field="practice",
    normalise=str.upper,
)
PAGE.add_routes(router)  # POST sign-in and sign-out; the page's home is its form


# --- the pages -----------------------------------------------------------------------------------


def _filters(query: Mapping[str, str]) -> dict[str, str]:
    """The inbox's filters from a query, unknown values dropped."""
    allowed: dict[str, Mapping[str, str]] = {"kind": KINDS, "band": BANDS, "state": STATES}
    return {name: query[name] for name in FILTERS if query.get(name) in allowed[name]}


def _card(alert: dict[str, Any]) -> dict[str, Any]:
    """What one alert shows, whatever `views.alert_view` adds (title, risk, ...) or not."""
    band = alert.get("risk_band")
    reasons = alert.get("risk_reasons") or []
    return {
        **alert,
        "title": alert.get("title") or KINDS.get(alert["kind"], alert["kind"]),
        "kind_label": KINDS.get(alert["kind"], alert["kind"]),
        "band": band if band in BANDS else None,
        "band_label": BANDS.get(band, "Not scored") if band else "Not scored",
        "reasons": [
            reason.get("detail") or reason.get("factor") if isinstance(reason, dict) else reason
            for reason in reasons
        ],
        "state_label": STATES.get(alert["state"], alert["state"]),
        "outcome_label": OUTCOMES.get(alert.get("outcome") or "", alert.get("outcome")),
        "nhs_display": _spaced(alert["nhs_number"]),
    }


def _spaced(nhs_number: str) -> str:
    """An NHS number as people read it: 3 3 4 digits."""
    if len(nhs_number) != 10:
        return nhs_number
    return f"{nhs_number[:3]} {nhs_number[3:6]} {nhs_number[6:]}"


@router.get("/")
async def inbox(request: Request, runtime: Runtime) -> Response:
    who = await PAGE.signed_in(request, runtime)
    if who is None:
        return PAGE.sign_in_page(request, runtime)
    chosen = _filters(request.query_params)
    query = partial(views.practice_inbox, **view_options(runtime))
    alerts = await runtime.read(query, who.practice_ods, INBOX_LIMIT)
    cards = [_card(alert) for alert in alerts]
    shown = [
        card
        for card in cards
        if chosen.get("kind", card["kind"]) == card["kind"]
        and chosen.get("band", card["band"]) == card["band"]
        and chosen.get("state", card["state"]) == card["state"]
    ]
    return render(
        "inbox.html",
        who=who,
        alerts=shown,
        total=len(cards),
        chosen=chosen,
        query=urlencode(chosen),
        kinds=KINDS,
        bands=BANDS,
        states=STATES,
        outcomes=OUTCOMES,
        newest=max((card["alert_id"] for card in cards), default=0),
    )


@router.post("/alerts/{alert_id}/{action}")
async def acknowledge(
    request: Request,
    runtime: Runtime,
    alert_id: Annotated[int, PathParam(ge=1, le=MAX_ID)],
    action: str,
) -> Response:
    """The inbox's Mark seen and Actioned buttons: the JSON API's command, then back (303)."""
    try:
        who, form = await PAGE.checked(request, runtime)
    except Answer as answer:
        return answer.response
    state = {"seen": AlertState.SEEN, "actioned": AlertState.ACTIONED}.get(action)
    if state is None:
        return _refused(404, "No such page.")
    outcome = None
    if state is AlertState.ACTIONED:
        chosen = form.get("outcome")
        if not isinstance(chosen, str) or chosen not in set(Outcome):
            return _refused(422, "Choose what was done before marking the alert actioned.")
        outcome = Outcome(chosen)
    command = AcknowledgeAlert(who.practice_ods, alert_id, who.user, state, outcome)
    if not await runtime.execute(command):
        return _refused(404, "No such alert.")
    back = urlencode(_filters(request.query_params))
    return see_other(f"{PREFIX}/{'?' + back if back else ''}#alert-{alert_id}")


@router.get("/stream")
async def stream(request: Request, runtime: Runtime, after: str = "0") -> Response:
    """The signed-in practice's new alerts as Server-Sent Events (the runtime's stream, by
    cookie rather than bearer token): those after `Last-Event-ID`, else after `after`."""
    who = await PAGE.signed_in(request, runtime)
    if who is None:
        return Response("not signed in", 401, headers={"Cache-Control": "no-store"})
    value = request.headers.get("last-event-id", after).strip()
    if not (value.isascii() and value.isdigit() and len(value) <= 10 and int(value) <= MAX_ID):
        return Response("bad Last-Event-ID", 422, headers={"Cache-Control": "no-store"})

    async def still_signed_in() -> bool:
        now = await PAGE.signed_in(request, runtime)
        return now is not None and now.practice_ods == who.practice_ods

    return alert_stream(runtime, who.practice_ods, still_signed_in, int(value))  # no-store


@router.get("/assets/{name}")
async def asset(name: str) -> Response:
    """The page's script and style sheet (no build step)."""
    media_type = _ASSETS.get(name)
    if media_type is None:
        return Response(status_code=404)
    content = (TEMPLATES / name).read_bytes()
    return Response(content, media_type=media_type, headers={"Cache-Control": "no-cache"})

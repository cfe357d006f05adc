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

import hmac
from collections.abc import Mapping
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData

from ensemble_runtime import auth
from ensemble_runtime.service import ServiceRuntime, runtime_of
from hospital_feed.adapters import sessions, views
from hospital_feed.domain.acknowledgement import OUTCOME_LABELS, AlertState, Outcome
from hospital_feed.domain.encounters import AlertKind, alert_title
from hospital_feed.entrypoints.alert_display import view_options
from hospital_feed.entrypoints.alert_stream import alert_stream
from hospital_feed.entrypoints.http import MAX_ID
from hospital_feed.service_layer.commands import AcknowledgeAlert

PREFIX = "/practice"
SESSION_COOKIE = "practice_session"
SIGN_IN_COOKIE = "practice_sign_in"  # the pre-session double-submit token
SIGN_IN_COOKIE_SECONDS = 30 * 60
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
_TEMPLATES = Path(__file__).parent / "templates"
_ENVIRONMENT = Environment(
    loader=FileSystemLoader(_TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
)
_SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    # Not no-referrer: with it, browsers send `Origin: null` on the page's own form posts.
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
_ASSETS = {
    "inbox.js": "text/javascript; charset=utf-8",
    "inbox.css": "text/css; charset=utf-8",
}

Runtime = Annotated[ServiceRuntime[Any, Any], Depends(runtime_of)]
router = APIRouter(prefix=PREFIX, include_in_schema=False)
log = structlog.get_logger(__name__)


# --- responses -----------------------------------------------------------------------------------


def _page(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = _ENVIRONMENT.get_template(template).render(**context)
    return HTMLResponse(html, status_code, headers=_SECURITY_HEADERS)


def _refused(status_code: int, message: str) -> HTMLResponse:
    return _page("refused.html", status_code, message=message)


def _see_other(location: str) -> RedirectResponse:
    return RedirectResponse(location, 303, headers={"Cache-Control": "no-store"})


def _set_cookie(response: Response, runtime: Runtime, name: str, value: str, age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=age,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=runtime.settings.page_cookie_secure,
    )


# --- who is signed in, and whether a POST is the page's own -------------------------------------


async def _signed_in(request: Request, runtime: Runtime) -> sessions.SignedIn | None:
    session_id = request.cookies.get(SESSION_COOKIE, "")
    if not session_id or len(session_id) > 100:
        return None
    who = await runtime.read(sessions.signed_in, session_id, runtime.clock())
    if who is not None:  # a read of patient alerts: audited by the guard like a bearer's
        auth.declare_caller(request, "practice", auth.Caller(who.practice_ods, who.user))
    return who


def _same_origin(request: Request) -> bool:
    """No Origin header (an older browser), or the page's own scheme, host and port."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    own = f"{request.url.scheme}://{request.url.netloc}"
    return origin.lower() == own.lower()


def _matches(expected: str, given: object) -> bool:
    return isinstance(given, str) and hmac.compare_digest(
        expected.encode("utf-8", "surrogatepass"), given.encode("utf-8", "surrogatepass")
    )


async def _form(request: Request) -> FormData:
    """A small urlencoded form: no files, a few fields (the guard caps the body)."""
    return await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)


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


def _sign_in_page(runtime: Runtime, error: str | None = None, status_code: int = 200) -> Response:
    csrf = sessions.new_secret()
    response = _page("sign_in.html", status_code, csrf_token=csrf, error=error)
    _set_cookie(response, runtime, SIGN_IN_COOKIE, csrf, SIGN_IN_COOKIE_SECONDS)
    return response


@router.get("/")
async def inbox(request: Request, runtime: Runtime) -> Response:
    who = await _signed_in(request, runtime)
    if who is None:
        return _sign_in_page(runtime)
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
    return _page(
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


@router.post("/sign-in")
async def sign_in(request: Request, runtime: Runtime) -> Response:
    form = await _form(request)
    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    if not _same_origin(request) or not expected or not _matches(expected, form.get("csrf_token")):
        return _refused(403, "This sign-in form has expired. Go back and try again.")
    token = form.get("token")
    found = None
    if isinstance(token, str) and token.strip():
        found = await auth.caller_of(request, "practice", token.strip())
    if found is None:
        return _sign_in_page(runtime, "That token was not recognised.", 401)
    ods, user = found.principal.upper(), found.user
    lifetime = timedelta(hours=runtime.settings.page_session_hours)

    def open_session(uow: Any) -> str:
        session_id: str = uow.page_sessions.open(ods, user, runtime.clock(), lifetime)
        uow.commit()
        return session_id

    session_id = await runtime.transact(open_session)
    log.info("practice page signed in", practice=ods)
    response = _see_other(f"{PREFIX}/")
    _set_cookie(response, runtime, SESSION_COOKIE, session_id, int(lifetime.total_seconds()))
    response.delete_cookie(SIGN_IN_COOKIE, path=PREFIX)
    return response


async def _checked(request: Request, runtime: Runtime) -> tuple[sessions.SignedIn, FormData]:
    """The signed-in caller of a POST and its form, or the refusal (raised as a response)."""
    who = await _signed_in(request, runtime)
    if who is None:
        raise _Answer(_see_other(f"{PREFIX}/"))  # expired: sign in again
    form = await _form(request)
    if not _same_origin(request) or not _matches(who.csrf_token, form.get("csrf_token")):
        raise _Answer(_refused(403, "This form has expired. Reload the page and try again."))
    return who, form


class _Answer(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


@router.post("/sign-out")
async def sign_out(request: Request, runtime: Runtime) -> Response:
    try:
        await _checked(request, runtime)
    except _Answer as answer:
        return answer.response
    session_id = request.cookies.get(SESSION_COOKIE, "")

    def close_session(uow: Any) -> None:
        uow.page_sessions.close(session_id)
        uow.commit()

    await runtime.transact(close_session)
    response = _see_other(f"{PREFIX}/")
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


@router.post("/alerts/{alert_id}/{action}")
async def acknowledge(
    request: Request,
    runtime: Runtime,
    alert_id: Annotated[int, PathParam(ge=1, le=MAX_ID)],
    action: str,
) -> Response:
    """The inbox's Mark seen and Actioned buttons: the JSON API's command, then back (303)."""
    try:
        who, form = await _checked(request, runtime)
    except _Answer as answer:
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
    return _see_other(f"{PREFIX}/{'?' + back if back else ''}#alert-{alert_id}")


@router.get("/stream")
async def stream(request: Request, runtime: Runtime, after: str = "0") -> Response:
    """The signed-in practice's new alerts as Server-Sent Events (the runtime's stream, by
    cookie rather than bearer token): those after `Last-Event-ID`, else after `after`."""
    who = await _signed_in(request, runtime)
    if who is None:
        return Response("not signed in", 401, headers={"Cache-Control": "no-store"})
    value = request.headers.get("last-event-id", after).strip()
    if not (value.isascii() and value.isdigit() and len(value) <= 10 and int(value) <= MAX_ID):
        return Response("bad Last-Event-ID", 422, headers={"Cache-Control": "no-store"})
    return alert_stream(runtime, who.practice_ods, int(value))  # itself no-store


@router.get("/assets/{name}")
async def asset(name: str) -> Response:
    """The page's script and style sheet (no build step)."""
    media_type = _ASSETS.get(name)
    if media_type is None:
        return Response(status_code=404)
    content = (_TEMPLATES / name).read_bytes()
    return Response(content, media_type=media_type, headers={"Cache-Control": "no-cache"})

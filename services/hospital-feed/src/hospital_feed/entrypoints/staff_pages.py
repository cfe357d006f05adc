"""The staff message browser page (`/staff/messages`): server-rendered, no JavaScript.

The practice page's approach (entrypoints/pages.py), for staff: sign in once with a staff
token, which opens a session kept hashed in the store (`staff_sessions`); the browser holds
an opaque id in an HttpOnly, SameSite=Strict cookie scoped to `/staff`. Every POST carries
the session's CSRF token and is refused when its Origin names another origin; the sign-in
form has its own double-submit token. Searches are POSTs, so an NHS number searched for
never lands in a URL. Every page is `Cache-Control: no-store`; each request is audited by the
HTTP guard (the session's caller is declared), and each view of a message in the store.
"""

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from ensemble_runtime.audit import audit_detail
from ensemble_runtime.definition import Command
from hospital_feed.adapters import message_browser as views
from hospital_feed.adapters import staff_sessions
from hospital_feed.domain.hl7_message import LOCAL_TIME
from hospital_feed.domain.message_search import SearchRefused, SearchUnavailable, displayable
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
from hospital_feed.service_layer.message_browser import (
    CLOSABLE,
    DiscardMessage,
    NotClosable,
    ResubmitMessage,
    ShowMessage,
    StaffAction,
)
from hospital_feed.service_layer.message_filters import ACK_CODES, STATUSES, message_filter

PREFIX = "/staff"
SESSION_COOKIE = "staff_session"
SIGN_IN_COOKIE = "staff_sign_in"
PAGE_SIZE = 50
MAX_FORM_FIELDS = 16
FILTERS = ("control_id", "nhs_number", "sender", "trigger", "status", "ack_code")
DATES = ("received_from", "received_to")
router = APIRouter(prefix=PREFIX, include_in_schema=False)
log = structlog.get_logger(__name__)


def _refused(status_code: int, message: str, who: Any = None, back: str = "") -> HTMLResponse:
    return render("staff_refused.html", status_code, message=message, who=who, back=back)


PAGE = PageSignIn[staff_sessions.StaffSignedIn](
    prefix=PREFIX,
    home=f"{PREFIX}/messages",
    kinds=("staff",),
    session_cookie=SESSION_COOKIE,
    sign_in_cookie=SIGN_IN_COOKIE,
    sign_in_form=sign_in_form("staff_sign_in.html"),
    max_form_fields=MAX_FORM_FIELDS,
    live=staff_sessions.staff_signed_in,
    principal_of=lambda who: who.principal,
    store_of=lambda uow: uow.staff_sessions,
    refused=_refused,
    log=log,
    log_field="principal",
)
PAGE.add_routes(router)  # POST sign-in and sign-out; the page's home is its form


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _day(text: str, name: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise SearchRefused(f"{name.replace('_', ' ')} is not a date") from None


def _local_midnight(day: date | None, days_later: int = 0) -> datetime | None:
    if day is None:
        return None
    return datetime.combine(day + timedelta(days=days_later), time(), tzinfo=LOCAL_TIME)


async def _results(
    runtime: Runtime, who: staff_sessions.StaffSignedIn, chosen: dict[str, str], before: int
) -> Response:
    """The search page for the chosen filters (as typed), or the reason it cannot search."""
    key = runtime.settings.message_search_hmac_key()
    context: dict[str, Any] = {
        "who": who,
        "section": "messages",
        "chosen": chosen,
        "statuses": STATUSES,
        "ack_codes": ACK_CODES,
        "nhs_search": key is not None,
        "messages": [],
        "next_before": None,
    }
    try:
        wanted = message_filter(
            key,
            **{name: chosen.get(name) for name in FILTERS},
            received_from=_local_midnight(_day(chosen.get("received_from", ""), "received_from")),
            received_to=_local_midnight(_day(chosen.get("received_to", ""), "received_to"), 1),
        )
    except (SearchRefused, SearchUnavailable) as error:
        return render("staff_messages.html", 422, error=str(error), **context)
    found = await runtime.read(views.search_messages, wanted, before, PAGE_SIZE)
    audit_detail(action="messages.search", messages=len(found))
    next_before = found[-1]["id"] if len(found) == PAGE_SIZE else None
    return render(
        "staff_messages.html", **context | {"messages": found, "next_before": next_before}
    )


@router.get("/")
async def home() -> Response:
    return see_other(f"{PREFIX}/messages")


@router.get("/messages")
async def messages(request: Request, runtime: Runtime) -> Response:
    """The newest messages and the search form (or the sign-in form)."""
    who = await PAGE.signed_in(request, runtime)
    if who is None:
        return PAGE.sign_in_page(request, runtime)
    return await _results(runtime, who, {}, 0)


@router.post("/messages")
async def search(request: Request, runtime: Runtime) -> Response:
    try:
        who, form = await PAGE.checked(request, runtime)
    except Answer as answer:
        return answer.response
    chosen = {name: _field(form, name) for name in (*FILTERS, *DATES) if _field(form, name)}
    before = _field(form, "before")
    cursor = int(before) if before.isascii() and before.isdigit() and len(before) <= 10 else 0
    return await _results(runtime, who, chosen, min(cursor, MAX_ID))


MessageId = Annotated[int, PathParam(ge=1, le=MAX_ID)]


@router.get("/messages/{message_id}")
async def message(request: Request, runtime: Runtime, message_id: MessageId) -> Response:
    """One message: raw text, ACK, the correct and discard forms, its audit (this view is
    in it: audited by the command)."""
    who = await PAGE.signed_in(request, runtime)
    if who is None:
        return PAGE.sign_in_page(request, runtime)
    shown = await runtime.execute(ShowMessage(message_id, StaffAction(who.user, "page")))
    if shown is None:
        return _refused(404, "No such message.", who)
    trail = await runtime.read(views.audit_trail, message_id)
    return render(
        "staff_message.html",
        who=who,
        section="messages",
        m=shown.message,
        raw=displayable(shown.raw),
        raw_escaped=shown.raw_escaped,
        ack=shown.ack,
        closed_reason=shown.closed_reason,
        resubmissions=shown.resubmissions,
        closable=shown.message["status"] in CLOSABLE,
        audit=trail,
    )


async def _act(request: Request, runtime: Runtime, message_id: int, make: Any) -> Response:
    """Run the form's command; 303 to the message it names, or the refusal."""
    try:
        who, form = await PAGE.checked(request, runtime)
    except Answer as answer:
        return answer.response
    back = f"{PREFIX}/messages/{message_id}"
    command: Command[Any] = make(form, StaffAction(who.user, "page"))
    try:
        result = await runtime.execute(command)
    except NotClosable as error:
        return _refused(409, str(error), who, back)
    if result is None:
        return _refused(404, "No such message.", who)
    target = getattr(result, "message_id", message_id)
    return see_other(f"{PREFIX}/messages/{target}")


@router.post("/messages/{message_id}/resubmit")
async def resubmit(request: Request, runtime: Runtime, message_id: MessageId) -> Response:
    """Receive the corrected text (the textarea's lines back to HL7's CRs); then the new one."""

    def command(form: FormData, by: StaffAction) -> ResubmitMessage:
        text = form.get("text")
        text = text.replace("\r\n", "\r").replace("\n", "\r") if isinstance(text, str) else ""
        return ResubmitMessage(message_id, text, by, _field(form, "note"))

    return await _act(request, runtime, message_id, command)


@router.post("/messages/{message_id}/discard")
async def discard(request: Request, runtime: Runtime, message_id: MessageId) -> Response:
    def command(form: FormData, by: StaffAction) -> DiscardMessage:
        return DiscardMessage(message_id, _field(form, "reason"), by)

    return await _act(request, runtime, message_id, command)


@router.get("/channels")
async def channels(request: Request, runtime: Runtime) -> Response:
    who = await PAGE.signed_in(request, runtime)
    if who is None:
        return PAGE.sign_in_page(request, runtime)
    found = await runtime.read(views.channel_statistics, runtime.settings.known_senders())
    return render("staff_channels.html", who=who, section="channels", channels=found)


@router.get("/assets/staff.css")
async def stylesheet() -> Response:
    content = (TEMPLATES / "staff.css").read_bytes()
    return Response(
        content, media_type="text/css; charset=utf-8", headers={"Cache-Control": "no-cache"}
    )

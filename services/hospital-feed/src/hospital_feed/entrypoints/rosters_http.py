"""HTTP for subscription rosters and alerts with no recipient (issue 9).

A recipient's roster is read and changed on its own path, by its own token (a practice's or
a care team's, e.g. `COACH1`, issued by `ensemble-hospital-feed-access`) or by staff:

    PUT  /v1/practices/{code}/roster               text/csv; the roster becomes the file
    POST /v1/practices/{code}/roster?mode=add|remove
    GET  /v1/practices/{code}/roster?after=&limit= its size and entries (NHS number order)

Staff upload files naming each row's recipient (`recipient,nhs_number`) at
`POST /v1/rosters?mode=replace|add|remove`, list the uploads (`GET /v1/staff/rosters/uploads`)
and the alerts nobody could be told of (`GET /v1/staff/alerts/unrouted`). A file is parsed
here (domain/rosters.py) and applied by one command (service_layer/rosters.py), which the
access CLI runs too. Answers carry line numbers and reasons, never a value from the file.
"""

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool

from ensemble_runtime.audit import audit_detail
from ensemble_runtime.auth import OwnPracticeOrStaff, Staff, caller_user
from ensemble_runtime.http_guard import declared_length
from ensemble_runtime.service import ServiceRuntime, runtime_of
from hospital_feed.adapters import rosters as roster_views
from hospital_feed.domain.rosters import (
    RosterFileError,
    RosterMode,
    RosterTooLarge,
    parse_roster,
    recipient_code,
)
from hospital_feed.service_layer.rosters import RosterUploaded, UnknownRecipient, UploadRoster

MAX_ID = 2**31 - 1
CSV_TYPES = frozenset({"text/csv", "text/plain", "application/csv"})

Runtime = Annotated[ServiceRuntime[Any, Any], Depends(runtime_of)]
router = APIRouter(prefix="/v1")


@dataclass(frozen=True)
class RosterCaller:
    kind: str  # practice (the recipient's own token) or staff
    recipient: str
    user: str


async def roster_caller(caller: OwnPracticeOrStaff) -> RosterCaller:
    """The recipient in the path, for its own token or a staff token (401 without either,
    403 for another recipient's), 422 for a path that is no recipient code. Checked before
    the body is read."""
    code = recipient_code(caller.ods)
    if code is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "a recipient is a code of 3-12 letters and digits, one a letter",
        )
    return RosterCaller(caller.kind, code, caller.user)


Recipient = Annotated[RosterCaller, Depends(roster_caller)]


async def _roster_text(request: Request, runtime: ServiceRuntime[Any, Any]) -> str:
    """The CSV body as text: 415 for another media type, 413 past the size limit, 422 when
    it is not UTF-8."""
    media = request.headers.get("content-type", "text/csv").split(";")[0].strip().lower()
    if media not in CSV_TYPES:
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "send the roster as text/csv")
    limit = runtime.settings.roster_max_bytes
    too_large = f"a roster file holds at most {limit} bytes; split it"
    declared = declared_length(request.headers)
    if declared is not None and declared > limit:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, too_large)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, too_large)
    try:
        return bytes(body).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "the roster is not UTF-8 text"
        ) from None


async def _upload(
    request: Request,
    runtime: ServiceRuntime[Any, Any],
    mode: RosterMode,
    caller: str,
    recipient: str | None,
) -> dict[str, Any]:
    text = await _roster_text(request, runtime)
    max_rows = runtime.settings.roster_max_rows
    try:  # off the event loop: a large file takes a while to read
        parsed = await run_in_threadpool(parse_roster, text, recipient=recipient, max_rows=max_rows)
    except RosterTooLarge as error:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(error)) from None
    except RosterFileError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
    command = UploadRoster(parsed, mode, caller, caller_user(request), recipient)
    try:
        uploaded: RosterUploaded = await runtime.execute(command)
    except UnknownRecipient as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
    audit_detail(
        action=f"rosters.{mode.value}",
        rows=uploaded.rows,
        added=uploaded.total("added"),
        removed=uploaded.total("removed"),
        rejected=len(uploaded.rejected),
    )
    return uploaded.answer()


@router.put("/practices/{ods}/roster", tags=["rosters"])
async def replace_roster(request: Request, caller: Recipient, runtime: Runtime) -> dict[str, Any]:
    """The recipient's roster becomes exactly the file's accepted rows (CSV, one NHS number
    a line, header `nhs_number` optional). A file whose every row is rejected changes
    nothing; a header row alone empties the roster."""
    return await _upload(request, runtime, RosterMode.REPLACE, caller.kind, caller.recipient)


@router.post("/practices/{ods}/roster", tags=["rosters"])
async def change_roster(
    request: Request, caller: Recipient, runtime: Runtime, mode: Annotated[RosterMode, Query()]
) -> dict[str, Any]:
    """Add the file's patients to the roster, or remove them (`mode=add|remove`)."""
    return await _upload(request, runtime, mode, caller.kind, caller.recipient)


@router.get("/practices/{ods}/roster", tags=["rosters"])
async def show_roster(
    caller: Recipient,
    runtime: Runtime,
    after: Annotated[str, Query(pattern=r"^[0-9]{0,10}$")] = "",
    limit: Annotated[int, Query(ge=1, le=roster_views.MAX_LIST)] = 1000,
) -> dict[str, Any]:
    """The roster's size and its entries after the NHS number `after`, in NHS number order;
    page on with `after=next_after` (null on the last page)."""
    page: dict[str, Any] = await runtime.read(
        roster_views.roster_page, caller.recipient, after, limit
    )
    audit_detail(action="rosters.read", entries=len(page["entries"]))
    return page


@router.post("/rosters", tags=["staff"])
async def staff_roster_upload(
    request: Request, _staff: Staff, runtime: Runtime, mode: Annotated[RosterMode, Query()]
) -> dict[str, Any]:
    """A file of `recipient,nhs_number` rows for any recipients (header optional). Rows of a
    recipient no practice user or practice token has are rejected; in replace mode each
    recipient named by an accepted row gets exactly its rows."""
    return await _upload(request, runtime, mode, "staff", None)


@router.get("/staff/rosters/uploads", tags=["staff"])
async def roster_uploads(
    _staff: Staff,
    runtime: Runtime,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Every roster upload, newest first: who, for which recipients, how, and its counts."""
    uploads = await runtime.read(roster_views.roster_uploads, before, limit)
    return {"uploads": uploads, "next_before": uploads[-1]["upload_id"] if uploads else None}


@router.get("/staff/alerts/unrouted", tags=["staff"])
async def unrouted_alerts(
    _staff: Staff, runtime: Runtime, limit: Annotated[int, Query(ge=1, le=200)] = 20
) -> dict[str, Any]:
    """How many events had no recipient (no usable PD1-3 practice, no roster), and the
    newest of them; never the NHS number."""
    found: dict[str, Any] = await runtime.read(roster_views.unrouted_alerts, limit)
    return found

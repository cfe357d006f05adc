"""The staff message browser's JSON API (`/v1/staff/messages`, `/v1/staff/channels`).

Search takes an NHS number only in a POST body (`/search`), never in a URL: URLs end up in
proxies' logs and browser histories. Showing a message's raw text, resubmitting and
discarding are audited in the store by their commands, and in the HTTP guard's audit line.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ensemble_runtime.audit import audit_detail
from ensemble_runtime.auth import Staff, caller_user
from ensemble_runtime.definition import Command
from ensemble_runtime.service import ServiceRuntime, runtime_of
from hospital_feed.adapters import message_browser as views
from hospital_feed.domain.message_search import (
    MessageFilter,
    SearchRefused,
    SearchUnavailable,
    displayable,
)
from hospital_feed.entrypoints.http import MAX_ID
from hospital_feed.service_layer.message_browser import (
    MAX_BULK,
    MAX_REASON,
    DiscardMessage,
    MessageShown,
    NotClosable,
    ReprocessMatching,
    ResubmitMessage,
    ShowMessage,
    StaffAction,
)
from hospital_feed.service_layer.message_filters import message_filter

MAX_PAGE = 500
Runtime = Annotated[ServiceRuntime[Any, Any], Depends(runtime_of)]
MessageId = Annotated[int, Path(ge=1, le=MAX_ID)]
router = APIRouter(prefix="/v1/staff", tags=["staff"])


class Filter(BaseModel):
    """What to search by; every field optional, all of them apply."""

    model_config = ConfigDict(extra="forbid")

    sender: str | None = Field(None, max_length=50, description="the sender (MSH-4 principal)")
    control_id: str | None = Field(None, max_length=200, description="MSH-10, exactly")
    trigger: str | None = Field(None, max_length=10, description="e.g. A01")
    ack_code: str | None = Field(None, max_length=2, description="AA, AE or AR")
    status: str | None = Field(None, max_length=20, description="e.g. rejected")
    received_from: AwareDatetime | None = Field(None, description="received at or after")
    received_to: AwareDatetime | None = Field(None, description="received before")
    nhs_number: str | None = Field(
        None, max_length=30, description="PID-3's NHS number; matched by its keyed hash"
    )


class Search(Filter):
    before: int = Field(0, ge=0, le=MAX_ID, description="page on: the last id of a page")
    limit: int = Field(100, ge=1, le=MAX_PAGE)


class BulkReprocess(Filter):
    after: int = Field(0, ge=0, le=MAX_ID, description="page on: next_after of the last call")
    limit: int = Field(100, ge=1, le=MAX_BULK)


class Correction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, description="the corrected ER7 message")
    note: str = Field("", max_length=MAX_REASON, description="why (kept on the original)")


class Discard(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=MAX_REASON)


def _filter(runtime: ServiceRuntime[Any, Any], given: Filter) -> MessageFilter:
    """The filter, or the 4xx saying what is wrong with it (never echoing a value)."""
    fields = given.model_dump(include=set(Filter.model_fields))
    try:
        return message_filter(runtime.settings.message_search_hmac_key(), **fields)
    except SearchRefused as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
    except SearchUnavailable as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None


async def _search(runtime: ServiceRuntime[Any, Any], given: Search) -> dict[str, Any]:
    wanted = _filter(runtime, given)
    found = await runtime.read(views.search_messages, wanted, given.before, given.limit)
    audit_detail(action="messages.search", messages=len(found))
    full = len(found) == given.limit
    return {"messages": found, "next_before": found[-1]["id"] if full else None}


@router.get("/messages")
async def search(
    _staff: Staff,
    runtime: Runtime,
    sender: Annotated[str | None, Query(max_length=50)] = None,
    control_id: Annotated[str | None, Query(max_length=200)] = None,
    trigger: Annotated[str | None, Query(max_length=10)] = None,
    ack_code: Annotated[str | None, Query(max_length=2)] = None,
    status_: Annotated[str | None, Query(alias="status", max_length=20)] = None,
    received_from: Annotated[AwareDatetime | None, Query()] = None,
    received_to: Annotated[AwareDatetime | None, Query()] = None,
    before: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> dict[str, Any]:
    """Stored messages, newest first, metadata only; page on with `before=<next_before>`.
    By NHS number: `POST /v1/staff/messages/search` (kept out of URLs)."""
    given = Search(
        sender=sender,
        control_id=control_id,
        trigger=trigger,
        ack_code=ack_code,
        status=status_,
        received_from=received_from,
        received_to=received_to,
        before=before,
        limit=limit,
    )
    return await _search(runtime, given)


@router.post("/messages/search")
async def search_by_body(body: Search, _staff: Staff, runtime: Runtime) -> dict[str, Any]:
    """The same search with the filter in the body, NHS number included."""
    return await _search(runtime, body)


def _by(request: Request) -> StaffAction:
    return StaffAction(caller_user(request), "api")


async def _run(runtime: ServiceRuntime[Any, Any], command: Command[Any]) -> Any:
    """The command's result; 404 for no such message, 409 when it cannot be done."""
    try:
        result = await runtime.execute(command)
    except NotClosable as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    if result is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such message")
    return result


def shown_json(shown: MessageShown, trail: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "message": shown.message,
        "raw": displayable(shown.raw),
        "raw_escaped": shown.raw_escaped,
        "raw_charset": shown.raw_charset,
        "ack": shown.ack,
        "closed_reason": shown.closed_reason,
        "resubmissions": shown.resubmissions,
        "audit": trail,
    }


@router.get("/messages/{message_id}")
async def show(
    request: Request, message_id: MessageId, _staff: Staff, runtime: Runtime
) -> dict[str, Any]:
    """One message with its raw text (as received) and its ACK (rebuilt from the stored
    answer); every view is audited (`audit`: who did what with it, oldest first)."""
    shown: MessageShown = await _run(runtime, ShowMessage(message_id, _by(request)))
    audit_detail(action="messages.view", messages=1)
    trail = await runtime.read(views.audit_trail, message_id)
    return shown_json(shown, trail)


@router.post("/messages/{message_id}/resubmit")
async def resubmit(
    request: Request, message_id: MessageId, body: Correction, _staff: Staff, runtime: Runtime
) -> dict[str, Any]:
    """Receive a corrected text of a rejected or held message as a new message (linked by
    `resubmitted_from`), through the same rules; the original is kept, closed `resubmitted`.
    409 for another status, an unchanged text or a text already received."""
    command = ResubmitMessage(message_id, body.text, _by(request), body.note)
    done = await _run(runtime, command)
    audit_detail(action="messages.resubmit", messages=1)
    return {
        "original_id": done.original_id,
        "message_id": done.message_id,
        "status": done.status,
        "ack_code": done.ack_code,
        "error": done.error,
        "ack": done.ack,
    }


@router.post("/messages/{message_id}/discard")
async def discard(
    request: Request, message_id: MessageId, body: Discard, _staff: Staff, runtime: Runtime
) -> dict[str, Any]:
    """Close a rejected or held message for good, with a reason (kept, never logged)."""
    done: dict[str, Any] = await _run(
        runtime, DiscardMessage(message_id, body.reason, _by(request))
    )
    audit_detail(action="messages.discard", messages=1)
    return done


@router.post("/messages/reprocess")
async def reprocess_matching(
    request: Request, body: BulkReprocess, _staff: Staff, runtime: Runtime
) -> dict[str, Any]:
    """Rerun the rejected and held messages the filter matches, oldest first, at most
    `limit` per call; `counts` by new status. More: call again with `after=<next_after>`."""
    wanted = _filter(runtime, body)
    command = ReprocessMatching(wanted, _by(request), body.after, body.limit)
    done = await runtime.execute(command)
    audit_detail(action="messages.reprocess", messages=done.processed)
    return {"counts": done.counts, "processed": done.processed, "next_after": done.next_after}


@router.get("/channels")
async def channels(_staff: Staff, runtime: Runtime) -> dict[str, Any]:
    """Per sender: received, accepted, held, rejected, duplicate (and resubmitted,
    discarded, resubmissions), last message time; every configured sender is listed."""
    senders = runtime.settings.known_senders()
    return {"channels": await runtime.read(views.channel_statistics, senders)}

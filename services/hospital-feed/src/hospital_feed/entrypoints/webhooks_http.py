"""HTTP for webhooks: a recipient's endpoint and preferences, and staff's view of deliveries.

A practice manages its own (`/v1/practices/{ods}/...`, its token, as the alert list); staff
manage any recipient's at the same paths under `/v1/staff` (`/v1/staff/practices/{ods}/...`).
The secret is shown once, when the endpoint is created or its secret rotated. Deliveries
listed for staff carry their state, never their body (which names the patient).
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ensemble_contracts.scoring import RiskBand
from ensemble_runtime.audit import audit_detail
from ensemble_runtime.auth import OwnPractice, Staff, caller_user
from ensemble_runtime.service import ServiceRuntime, runtime_of
from hospital_feed.adapters import webhook_views as views
from hospital_feed.domain.encounters import AlertKind
from hospital_feed.domain.webhooks import MAX_URL, DeliveryMode, DeliveryStatus, WebhookError
from hospital_feed.service_layer.access import AccessError, practice_code
from hospital_feed.service_layer.webhooks import (
    RegisterWebhook,
    RemoveWebhook,
    Replay,
    ReplayDelivery,
    RotateWebhookSecret,
    SetPreferences,
)

MAX_ID = 2**31 - 1
Runtime = Annotated[ServiceRuntime[Any, Any], Depends(runtime_of)]
router = APIRouter(prefix="/v1")


async def staff_recipient(ods: str, _staff: Staff) -> str:
    """The recipient in the path of a staff route: any ODS code (422 for what is not one)."""
    try:
        return practice_code(ods)
    except AccessError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None


StaffRecipient = Annotated[str, Depends(staff_recipient)]


class Registration(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(max_length=MAX_URL, description="https://... (http only to this machine)")


class Wanted(BaseModel):
    """What the recipient's webhook is sent: null kinds or bands mean all of them."""

    model_config = ConfigDict(extra="forbid")
    kinds: list[AlertKind] | None = Field(default=None, min_length=1, max_length=len(AlertKind))
    bands: list[RiskBand] | None = Field(default=None, min_length=1, max_length=4)
    delivery: DeliveryMode = DeliveryMode.REALTIME


# --- what both kinds of caller do ------------------------------------------------------------


async def _register(
    runtime: ServiceRuntime[Any, Any], recipient: str, user: str, body: Registration
) -> Response | dict[str, Any]:
    try:
        registered = await runtime.execute(RegisterWebhook(recipient, body.url, user))
    except WebhookError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
    audit_detail(action="webhooks.register", created=int(registered.created))
    shown = await _endpoint(runtime, recipient)
    if registered.created:
        return JSONResponse(shown | {"secret": registered.secret}, status.HTTP_201_CREATED)
    return shown


async def _endpoint(runtime: ServiceRuntime[Any, Any], recipient: str) -> dict[str, Any]:
    shown = await runtime.read(views.endpoint_view, recipient)
    if shown is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no webhook registered")
    return {"recipient": recipient} | shown


async def _remove(runtime: ServiceRuntime[Any, Any], recipient: str) -> Response:
    if not await runtime.execute(RemoveWebhook(recipient)):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no webhook registered")
    audit_detail(action="webhooks.remove")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _rotate(runtime: ServiceRuntime[Any, Any], recipient: str, user: str) -> dict[str, Any]:
    rotated = await runtime.execute(RotateWebhookSecret(recipient, user))
    if rotated is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no webhook registered")
    audit_detail(action="webhooks.rotate_secret")
    until = rotated.previous_valid_until.isoformat()
    return {"secret": rotated.secret, "previous_secret_valid_until": until}


async def _set_preferences(
    runtime: ServiceRuntime[Any, Any], recipient: str, user: str, body: Wanted
) -> dict[str, Any]:
    kinds = tuple(body.kinds) if body.kinds is not None else None
    bands = tuple(body.bands) if body.bands is not None else None
    try:
        wanted = await runtime.execute(SetPreferences(recipient, kinds, bands, body.delivery, user))
    except WebhookError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
    audit_detail(action="webhooks.preferences")
    return {"recipient": recipient} | wanted.to_json()


async def _preferences(runtime: ServiceRuntime[Any, Any], recipient: str) -> dict[str, Any]:
    return {"recipient": recipient} | await runtime.read(views.preferences_view, recipient)


# --- a practice's own ------------------------------------------------------------------------

PRACTICE = "/practices/{ods}"
STAFF = "/staff/practices/{ods}"


@router.put(f"{PRACTICE}/webhook", tags=["practices"], status_code=200)
async def put_webhook(
    request: Request, body: Registration, practice: OwnPractice, runtime: Runtime
) -> Any:
    """Register the practice's endpoint: 201 with the secret (shown only now) when new;
    200 when it changes the URL of one already registered (secret kept; re-enabled)."""
    return await _register(runtime, practice, caller_user(request), body)


@router.get(f"{PRACTICE}/webhook", tags=["practices"])
async def get_webhook(practice: OwnPractice, runtime: Runtime) -> dict[str, Any]:
    return await _endpoint(runtime, practice)


@router.delete(f"{PRACTICE}/webhook", tags=["practices"], status_code=204)
async def delete_webhook(practice: OwnPractice, runtime: Runtime) -> Response:
    return await _remove(runtime, practice)


@router.post(f"{PRACTICE}/webhook/secret", tags=["practices"])
async def rotate_webhook_secret(
    request: Request, practice: OwnPractice, runtime: Runtime
) -> dict[str, Any]:
    """A new secret (shown only now); the old one also signs for a grace period."""
    return await _rotate(runtime, practice, caller_user(request))


@router.put(f"{PRACTICE}/preferences", tags=["practices"])
async def put_preferences(
    request: Request, body: Wanted, practice: OwnPractice, runtime: Runtime
) -> dict[str, Any]:
    """Which alerts the webhook is sent and how (real time, or a twice-daily digest)."""
    return await _set_preferences(runtime, practice, caller_user(request), body)


@router.get(f"{PRACTICE}/preferences", tags=["practices"])
async def get_preferences(practice: OwnPractice, runtime: Runtime) -> dict[str, Any]:
    return await _preferences(runtime, practice)


# --- staff, for any recipient ----------------------------------------------------------------


@router.put(f"{STAFF}/webhook", tags=["staff"], status_code=200)
async def staff_put_webhook(
    request: Request, body: Registration, recipient: StaffRecipient, runtime: Runtime
) -> Any:
    return await _register(runtime, recipient, caller_user(request), body)


@router.get(f"{STAFF}/webhook", tags=["staff"])
async def staff_get_webhook(recipient: StaffRecipient, runtime: Runtime) -> dict[str, Any]:
    return await _endpoint(runtime, recipient)


@router.delete(f"{STAFF}/webhook", tags=["staff"], status_code=204)
async def staff_delete_webhook(recipient: StaffRecipient, runtime: Runtime) -> Response:
    return await _remove(runtime, recipient)


@router.post(f"{STAFF}/webhook/secret", tags=["staff"])
async def staff_rotate_webhook_secret(
    request: Request, recipient: StaffRecipient, runtime: Runtime
) -> dict[str, Any]:
    return await _rotate(runtime, recipient, caller_user(request))


@router.put(f"{STAFF}/preferences", tags=["staff"])
async def staff_put_preferences(
    request: Request, body: Wanted, recipient: StaffRecipient, runtime: Runtime
) -> dict[str, Any]:
    return await _set_preferences(runtime, recipient, caller_user(request), body)


@router.get(f"{STAFF}/preferences", tags=["staff"])
async def staff_get_preferences(recipient: StaffRecipient, runtime: Runtime) -> dict[str, Any]:
    return await _preferences(runtime, recipient)


@router.get("/staff/webhooks/deliveries", tags=["staff"])
async def list_deliveries(
    _staff: Staff,
    runtime: Runtime,
    status_: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
    recipient: Annotated[str | None, Query(max_length=12)] = None,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Deliveries oldest first (page on with `after=next_after`): state only, no bodies."""
    who = recipient.upper() if recipient is not None else None
    found = await runtime.read(views.deliveries, status_, who, after, limit)
    audit_detail(action="webhooks.deliveries", deliveries=len(found))
    return {"deliveries": found, "next_after": found[-1]["id"] if found else None}


@router.post("/staff/webhooks/deliveries/{delivery_id}/replay", tags=["staff"])
async def replay_delivery(
    delivery_id: Annotated[int, Path(ge=1, le=MAX_ID)], _staff: Staff, runtime: Runtime
) -> dict[str, Any]:
    """Send a dead delivery again from its first attempt (same webhook-id): 409 unless
    dead, or when its recipient has no webhook any more."""
    result = await runtime.execute(ReplayDelivery(delivery_id))
    if result is Replay.NOT_FOUND:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such delivery")
    if result is Replay.NOT_DEAD:
        raise HTTPException(status.HTTP_409_CONFLICT, "only a dead delivery can be replayed")
    if result is Replay.NO_ENDPOINT:
        raise HTTPException(status.HTTP_409_CONFLICT, "its recipient has no webhook registered")
    audit_detail(action="webhooks.replay")
    shown = await runtime.read(views.delivery, delivery_id)
    if shown is None:  # removed with its webhook meanwhile
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such delivery")
    return shown

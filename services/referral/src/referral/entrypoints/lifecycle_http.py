"""HTTP for the lifecycle after a referral arrives: the staff worklist, triage, consent,
assignment, activation, completion, discharge; the GP's withdrawal; notes.

Consent is staff business: a practice's (or any other non-staff) token is a 403, not a
401, so the caller learns why. Notes are for staff and the referring practice; another
practice is told "no such referral", as for a referral that does not exist.
"""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import AwareDatetime, BaseModel, Field

from ensemble_runtime.audit import audit_detail
from ensemble_runtime.auth import Caller, Practice, Staff, bearer_token, caller_of, declare_caller
from referral.adapters import views
from referral.adapters.repository import MAX_LISTED
from referral.domain.referral import (
    CompletionOutcome,
    Consent,
    ConsentMethod,
    DischargeOutcome,
    Service,
    WorkerRole,
)
from referral.domain.sla import Priority
from referral.entrypoints.answers import decided
from referral.entrypoints.http import PlainText, Runtime
from referral.service_layer.commands import (
    ActivateReferral,
    AddNote,
    AssignReferral,
    CompleteReferral,
    DischargeReferral,
    RecordConsent,
    TriageReferral,
    WithdrawReferral,
)
from referral.service_layer.notes import NOTE_LENGTH, NotYours

router = APIRouter(prefix="/v1")
PersonId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
PersonName = Annotated[PlainText, Field(min_length=1, max_length=100, pattern=r"^[^\r\n\t]+$")]


def staff_only(why: str) -> Callable[[Request], Awaitable[Caller]]:
    """Staff; 403 `why` for a token of any other kind (a practice's), 401 for no known token."""

    async def dependency(request: Request) -> Caller:
        token = bearer_token(request)
        found = await caller_of(request, "staff", token)
        if found is not None:
            declare_caller(request, "staff", found)
            return found
        for kind in ("practice", "sender"):
            if await caller_of(request, kind, token) is not None:
                raise HTTPException(status.HTTP_403_FORBIDDEN, why)
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "unknown token", headers={"WWW-Authenticate": "Bearer"}
        )

    return dependency


async def _staff_or_practice(request: Request) -> str | None:
    """None for staff, else the calling practice's ODS code (401 for no known token)."""
    token = bearer_token(request)
    for kind in ("staff", "practice"):
        found = await caller_of(request, kind, token)
        if found is not None:
            declare_caller(request, kind, found)
            return None if kind == "staff" else found.principal.upper()
    raise HTTPException(
        status.HTTP_401_UNAUTHORIZED, "unknown token", headers={"WWW-Authenticate": "Bearer"}
    )


StaffOnly = Annotated[Caller, Depends(staff_only("only staff record consent"))]
StaffOrPractice = Annotated[str | None, Depends(_staff_or_practice)]


class Triage(BaseModel):
    priority: Priority


class ConsentRecord(BaseModel):
    decision: Consent
    method: ConsentMethod = Field(description="How the patient gave or refused it.")
    decided_at: AwareDatetime | None = Field(
        default=None, description="When the patient decided (default: now; never later)."
    )


class Assignment(BaseModel):
    role: WorkerRole = Field(
        description="`coach` for health coaching, `keyworker` for complex care."
    )
    worker_id: PersonId
    worker_name: PersonName
    supervisor_id: PersonId
    supervisor_name: PersonName


class Completion(BaseModel):
    outcome: CompletionOutcome


class Discharge(BaseModel):
    outcome: DischargeOutcome


class Note(BaseModel):
    text: PlainText = Field(min_length=1, max_length=NOTE_LENGTH)


@router.get("/referrals/worklist", tags=["staff"])
async def worklist(
    _staff: Staff,
    runtime: Runtime,
    service: Annotated[Service, Query()],
    limit: Annotated[int, Query(ge=1, le=MAX_LISTED)] = MAX_LISTED,
) -> dict[str, Any]:
    found = await runtime.read(views.worklist, service, limit)
    audit_detail(action="referrals.worklist", referrals=len(found["referrals"]))
    return found


@router.post("/referrals/{referral_id}/triage", tags=["staff"])
async def triage(
    referral_id: UUID, body: Triage, _staff: Staff, runtime: Runtime
) -> dict[str, Any]:
    return await decided(runtime, "referrals.triage", TriageReferral(referral_id, body.priority))


@router.post("/referrals/{referral_id}/consent", tags=["staff"])
async def consent(
    referral_id: UUID, body: ConsentRecord, staff: StaffOnly, runtime: Runtime
) -> dict[str, Any]:
    decided_at: datetime | None = body.decided_at
    command = RecordConsent(referral_id, body.decision, body.method, staff.user, decided_at)
    return await decided(runtime, "referrals.consent", command)


@router.post("/referrals/{referral_id}/assign", tags=["staff"])
async def assign(
    referral_id: UUID, body: Assignment, _staff: Staff, runtime: Runtime
) -> dict[str, Any]:
    command = AssignReferral(referral_id, **body.model_dump())
    return await decided(runtime, "referrals.assign", command)


@router.post("/referrals/{referral_id}/activate", tags=["staff"])
async def activate(referral_id: UUID, _staff: Staff, runtime: Runtime) -> dict[str, Any]:
    return await decided(runtime, "referrals.activate", ActivateReferral(referral_id))


@router.post("/referrals/{referral_id}/complete", tags=["staff"])
async def complete(
    referral_id: UUID, body: Completion, _staff: Staff, runtime: Runtime
) -> dict[str, Any]:
    command = CompleteReferral(referral_id, body.outcome)
    return await decided(runtime, "referrals.complete", command)


@router.post("/referrals/{referral_id}/discharge", tags=["staff"])
async def discharge(
    referral_id: UUID, body: Discharge, _staff: Staff, runtime: Runtime
) -> dict[str, Any]:
    command = DischargeReferral(referral_id, body.outcome)
    return await decided(runtime, "referrals.discharge", command)


@router.post("/referrals/{referral_id}/withdraw", tags=["practices"])
async def withdraw(referral_id: UUID, practice: Practice, runtime: Runtime) -> dict[str, Any]:
    """The referring GP withdraws its referral while it is open."""
    command = WithdrawReferral(referral_id, practice.upper())
    return await decided(runtime, "referrals.withdraw", command)


@router.get("/referrals/{referral_id}/notes", tags=["staff", "practices"])
async def notes(referral_id: UUID, caller: StaffOrPractice, runtime: Runtime) -> dict[str, Any]:
    found = await runtime.read(views.notes, referral_id, caller)
    audit_detail(action="referrals.notes.read", notes=len(found["notes"]) if found else 0)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such referral")
    return found


@router.post("/referrals/{referral_id}/notes", status_code=201, tags=["staff", "practices"])
async def add_note(
    referral_id: UUID, body: Note, caller: StaffOrPractice, runtime: Runtime, request: Request
) -> dict[str, Any]:
    author = getattr(request.state, "caller_user", None) or "unknown"
    command = AddNote(referral_id, body.text, str(author), caller)
    try:
        note = await runtime.execute(command)
    except NotYours as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from error
    finally:
        audit_detail(action="referrals.notes.add")
    return {
        name: str(value) if isinstance(value, UUID | datetime) else value
        for name, value in note.items()
    }

"""HTTP: GPs refer, staff triage, practices follow their own referrals.

Thin: authenticate (a dependency, so a missing token is 401 before any body is looked at),
parse, run a command or a read model, answer.

Least privilege: a practice acts for, and sees, only patients registered with it (or whose
registration referral does not know); a patient registered elsewhere is a uniform 403 that
names no referral. Every staff request is audited in one `audit` log line: the runtime's
HTTP guard writes who, the route and the status; the routes add the action and counts with
`audit_detail`, never an NHS number.
"""

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from pydantic import AfterValidator, BaseModel, Field

from ensemble_contracts import limits
from ensemble_runtime.audit import audit_detail
from ensemble_runtime.auth import OwnPractice, Practice, Staff, caller_user
from ensemble_runtime.definition import Command
from ensemble_runtime.service import ServiceRuntime, runtime_of
from referral.adapters import views
from referral.adapters.repository import MAX_LISTED
from referral.domain.nhs_number import InvalidNhsNumber, parse_nhs_number
from referral.domain.referral import Referral, Service, Status, UnknownService
from referral.entrypoints.answers import decided
from referral.service_layer.commands import AcceptReferral, DeclineReferral, RequestReferral
from referral.service_layer.handlers import NotRegisteredHere

Runtime = Annotated[ServiceRuntime[Any, Any], Depends(runtime_of)]
Limit = Annotated[int, Query(ge=1, le=MAX_LISTED)]
StatusFilter = Annotated[Status | None, Query(alias="status")]
NhsNumberFilter = Annotated[str | None, Query(max_length=20, description="Ten digits.")]
PracticeFilter = Annotated[str | None, Query(max_length=limits.ODS_CODE, pattern=r"^[A-Za-z0-9]+$")]


def _plain(value: str) -> str:
    """Refuse what no store or log should hold: control characters (NUL among them; tab and
    line breaks are fine) and unpaired surrogates, which cannot be encoded."""
    for char in value:
        code = ord(char)
        if (code < 0x20 and char not in "\t\n\r") or code == 0x7F or 0xD800 <= code <= 0xDFFF:
            raise ValueError("text must not contain control characters or unpaired surrogates")
    return value


PlainText = Annotated[str, AfterValidator(_plain)]
router = APIRouter(prefix="/v1")


class ReferralRequest(BaseModel):
    """Bounded as the referrals topic is (`ensemble_contracts.limits`), so whatever is accepted
    can be published."""

    nhs_number: str = Field(max_length=20, description="Ten digits; spaces are allowed.")
    service: Service
    reason: PlainText | None = Field(default=None, max_length=limits.TEXT)
    preferred_language: str | None = Field(
        default=None,
        max_length=limits.LANGUAGE,
        pattern=r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$",
        description="BCP 47, e.g. `pa` or `en-GB`.",
    )


class Decline(BaseModel):
    reason: PlainText = Field(min_length=1, max_length=limits.TEXT)


async def _triage(runtime: Runtime, action: str, command: Command[Referral]) -> dict[str, Any]:
    return await decided(runtime, action, command)


@router.post("/referrals", status_code=status.HTTP_201_CREATED, tags=["practices"])
async def create(
    body: ReferralRequest,
    practice: Practice,
    runtime: Runtime,
    request: Request,
    response: Response,
) -> dict[str, Any]:
    """201 with a new referral; 200 with the practice's open referral of the patient to the
    service when there is one (the request is merged into it and kept as a note)."""
    # The practice is the caller's (ODS codes are upper case), never taken from the body.
    command = RequestReferral(
        practice_ods=practice.upper(), requested_by=caller_user(request), **body.model_dump()
    )
    try:
        requested = await runtime.execute(command)
    except (InvalidNhsNumber, UnknownService) as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
    except NotRegisteredHere as error:
        # The same answer whatever the patient's history: no ids, no hint of referrals.
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(error)) from error
    answer = views.referral_json(requested.referral)
    if requested.merged:  # always this practice's own referral: another's never merges
        response.status_code = status.HTTP_200_OK
        answer["note"] = "merged into your practice's open referral of this patient"
    return answer


@router.get("/referrals", tags=["staff"])
async def referrals(
    _staff: Staff,
    runtime: Runtime,
    nhs_number: NhsNumberFilter = None,
    status_: StatusFilter = None,
    practice_ods: PracticeFilter = None,
    limit: Limit = MAX_LISTED,
) -> dict[str, Any]:
    try:
        patient = None if nhs_number is None else parse_nhs_number(nhs_number)
    except InvalidNhsNumber as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
    practice = None if practice_ods is None else practice_ods.upper()
    found = await runtime.read(views.referrals, patient, status_, practice, limit)
    audit_detail(
        action="referrals.list",
        referrals=len(found["referrals"]),
        # Which filters were used, as counts: the values (an NHS number) stay out of logs.
        by_patient=int(patient is not None),
        by_practice=int(practice is not None),
        by_status=int(status_ is not None),
    )
    return found


@router.get("/referrals/{referral_id}", tags=["staff"])
async def one(referral_id: UUID, _staff: Staff, runtime: Runtime) -> dict[str, Any]:
    found = await runtime.read(views.referral, referral_id)
    audit_detail(action="referrals.read", referrals=int(found is not None))
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such referral")
    return found


@router.post("/referrals/{referral_id}/accept", tags=["staff"])
async def accept(referral_id: UUID, _staff: Staff, runtime: Runtime) -> dict[str, Any]:
    return await _triage(runtime, "referrals.accept", AcceptReferral(referral_id))


@router.post("/referrals/{referral_id}/decline", tags=["staff"])
async def decline(
    referral_id: UUID, body: Decline, _staff: Staff, runtime: Runtime
) -> dict[str, Any]:
    command = DeclineReferral(referral_id, body.reason)
    return await _triage(runtime, "referrals.decline", command)


@router.get("/practices/{ods}/referrals", tags=["practices"])
async def practice_referrals(
    practice_ods: OwnPractice,
    runtime: Runtime,
    status_: StatusFilter = None,
    limit: Limit = MAX_LISTED,
) -> dict[str, Any]:
    return await runtime.read(views.practice_referrals, practice_ods, status_, limit)

"""HTTP: GPs refer, staff triage, practices follow their own referrals.

Thin: authenticate (a dependency, so a missing token is 401 before any body is looked at),
parse, one unit of work, answer.
"""

from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import BaseModel, Field
from sqlmodel import Session

from ensemble_runtime.auth import TokenRegistry, authenticate
from ensemble_runtime.service import ServiceRuntime
from ensemble_runtime.unit_of_work import UnitOfWork
from referral.adapters.repository import MAX_LISTED, ReferralRepository
from referral.config import Settings
from referral.domain.nhs_number import InvalidNhsNumber
from referral.domain.referral import InvalidTransition, Referral, Service, Status, UnknownService
from referral.service_layer import handlers
from referral.service_layer.handlers import Conflict, NotFound, RequestReferral

Decision = Callable[[UnitOfWork, UUID], Referral]
Limit = Annotated[int, Query(ge=1, le=MAX_LISTED)]
StatusFilter = Annotated[Status | None, Query(alias="status")]


class ReferralRequest(BaseModel):
    nhs_number: str = Field(max_length=20, description="Ten digits; spaces are allowed.")
    service: Service
    reason: str | None = Field(default=None, max_length=1000)
    preferred_language: str | None = Field(default=None, max_length=35, description="BCP 47")


class Decline(BaseModel):
    reason: str = Field(min_length=1, max_length=1000)


def _json(value: object) -> object:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def view(referral: Referral) -> dict[str, Any]:
    return {name: _json(value) for name, value in asdict(referral).items()}


def build_router(runtime: ServiceRuntime, settings: Settings) -> APIRouter:
    practices = TokenRegistry({ods.upper(): t for ods, t in settings.tokens("practice").items()})
    staff = TokenRegistry(settings.tokens("staff"))

    def practice(request: Request) -> str:
        return authenticate(request, practices)

    def staff_member(request: Request) -> str:
        return authenticate(request, staff)

    Practice = Annotated[str, Depends(practice)]
    router = APIRouter(prefix="/v1")
    staff_only = [Depends(staff_member)]

    async def listing(**filters: Any) -> dict[str, Any]:
        def query(session: Session) -> list[Referral]:
            return list(ReferralRepository(session).find(**filters))

        return {"referrals": [view(r) for r in await runtime.read(query)]}

    async def triage(referral_id: UUID, decide: Decision) -> dict[str, Any]:
        try:
            return view(await runtime.transact(lambda uow: decide(uow, referral_id)))
        except NotFound as error:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from error
        except InvalidTransition as error:
            raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error

    @router.post("/referrals", status_code=status.HTTP_201_CREATED, tags=["practices"])
    async def create(body: ReferralRequest, practice_ods: Practice) -> dict[str, Any]:
        command = RequestReferral(**body.model_dump())
        try:
            referral = await runtime.transact(
                lambda uow: handlers.request_referral(uow, practice_ods, command)
            )
        except (InvalidNhsNumber, UnknownService) as error:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
        except Conflict as error:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                {"message": str(error), "referral_id": str(error.existing_id)},
            ) from error
        return view(referral)

    @router.get("/referrals", tags=["staff"], dependencies=staff_only)
    async def referrals(
        nhs_number: str | None = None,
        status_: StatusFilter = None,
        practice_ods: str | None = None,
        limit: Limit = MAX_LISTED,
    ) -> dict[str, Any]:
        return await listing(
            nhs_number=nhs_number, status=status_, practice_ods=practice_ods, limit=limit
        )

    @router.get("/referrals/{referral_id}", tags=["staff"], dependencies=staff_only)
    async def one(referral_id: UUID) -> dict[str, Any]:
        found = await runtime.read(lambda session: ReferralRepository(session).get(referral_id))
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such referral")
        return view(found)

    @router.post("/referrals/{referral_id}/accept", tags=["staff"], dependencies=staff_only)
    async def accept(referral_id: UUID) -> dict[str, Any]:
        return await triage(referral_id, handlers.accept)

    @router.post("/referrals/{referral_id}/decline", tags=["staff"], dependencies=staff_only)
    async def decline(referral_id: UUID, body: Decline) -> dict[str, Any]:
        return await triage(referral_id, lambda uow, rid: handlers.decline(uow, rid, body.reason))

    @router.get("/practices/{ods}/referrals", tags=["practices"])
    async def practice_referrals(
        ods: str, practice_ods: Practice, status_: StatusFilter = None, limit: Limit = MAX_LISTED
    ) -> dict[str, Any]:
        if practice_ods != ods.upper():
            raise HTTPException(status.HTTP_403_FORBIDDEN, "not your practice")
        return await listing(practice_ods=practice_ods, status=status_, limit=limit)

    return router

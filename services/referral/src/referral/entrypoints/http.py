"""HTTP: GPs refer, staff triage, practices follow their own referrals."""

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from ensemble_runtime.auth import TokenRegistry, authenticate
from ensemble_runtime.service import ServiceRuntime
from referral.adapters.orm import Referral
from referral.config import Settings
from referral.domain.referral import InvalidTransition
from referral.service_layer.handlers import (
    AlreadyReferred,
    InvalidNhsNumber,
    RequestReferral,
    decide,
    request_referral,
)


class ReferralRequest(BaseModel):
    nhs_number: str = Field(pattern=r"^\d{10}$")
    service: Literal["health_coaching", "complex_care"]
    reason: str | None = Field(default=None, max_length=1000)
    preferred_language: str | None = Field(default=None, max_length=20)


class Decline(BaseModel):
    reason: str = Field(min_length=1, max_length=1000)


def view(referral: Referral) -> dict[str, Any]:
    return referral.model_dump(mode="json")


def build_router(runtime: ServiceRuntime, settings: Settings) -> APIRouter:
    practices = TokenRegistry(settings.tokens("practice"))
    staff = TokenRegistry(settings.tokens("staff"))
    router = APIRouter(prefix="/v1")

    async def listing(**filters: str | None) -> list[dict[str, Any]]:
        def query(session: Session) -> list[dict[str, Any]]:
            statement = select(Referral).order_by(col(Referral.created_at))
            for name, value in filters.items():
                if value is not None:
                    statement = statement.where(getattr(Referral, name) == value)
            return [view(r) for r in session.exec(statement.limit(1000))]

        return await runtime.read(query)

    @router.post("/referrals", status_code=status.HTTP_201_CREATED, tags=["practices"])
    async def create(body: ReferralRequest, request: Request) -> dict[str, Any]:
        practice = authenticate(request, practices)
        command = RequestReferral(**body.model_dump())
        try:
            referral = await runtime.transact(lambda uow: request_referral(uow, practice, command))
        except InvalidNhsNumber as error:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
        except AlreadyReferred as error:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                {"message": str(error), "referral_id": str(error.existing)},
            ) from error
        return view(referral)

    @router.get("/referrals", tags=["staff"])
    async def referrals(
        request: Request,
        nhs_number: str | None = None,
        status_: Annotated[str | None, Query(alias="status")] = None,
        practice_ods: str | None = None,
    ) -> dict[str, Any]:
        authenticate(request, staff)
        found = await listing(nhs_number=nhs_number, status=status_, practice_ods=practice_ods)
        return {"referrals": found}

    @router.get("/referrals/{referral_id}", tags=["staff"])
    async def one(referral_id: UUID, request: Request) -> dict[str, Any]:
        authenticate(request, staff)
        found = await runtime.read(lambda session: session.get(Referral, referral_id))
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such referral")
        return view(found)

    async def decided(referral_id: UUID, target: str, reason: str | None) -> dict[str, Any]:
        try:
            referral = await runtime.transact(lambda uow: decide(uow, referral_id, target, reason))
        except InvalidTransition as error:
            raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
        if referral is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such referral")
        return view(referral)

    @router.post("/referrals/{referral_id}/accept", tags=["staff"])
    async def accept(referral_id: UUID, request: Request) -> dict[str, Any]:
        authenticate(request, staff)
        return await decided(referral_id, "accepted", None)

    @router.post("/referrals/{referral_id}/decline", tags=["staff"])
    async def decline(referral_id: UUID, body: Decline, request: Request) -> dict[str, Any]:
        authenticate(request, staff)
        return await decided(referral_id, "declined", body.reason)

    @router.get("/practices/{ods}/referrals", tags=["practices"])
    async def practice_referrals(ods: str, request: Request) -> dict[str, Any]:
        if authenticate(request, practices) != ods.upper():
            raise HTTPException(status.HTTP_403_FORBIDDEN, "not your practice")
        return {"referrals": await listing(practice_ods=ods.upper())}

    return router

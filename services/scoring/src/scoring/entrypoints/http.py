"""HTTP API: read a patient's score, load practice profile extracts (staff only)."""

import json
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import JSONResponse

from ensemble_contracts.nhs_number import is_valid_nhs_number
from ensemble_runtime.auth import TokenRegistry, authenticate
from ensemble_runtime.service import ServiceRuntime
from scoring.adapters.orm import RiskScoreRecord, as_utc
from scoring.adapters.repository import latest_score
from scoring.service_layer.extracts import ExtractFormat
from scoring.service_layer.handlers import load_profiles, parse_extract

MAX_BODY_BYTES = 50 * 1024 * 1024


def score_view(record: RiskScoreRecord) -> dict[str, Any]:
    return {
        "nhs_number": record.nhs_number,
        "score": record.score,
        "band": record.band,
        "model_version": record.model_version,
        "reasons": json.loads(record.reasons),
        "inputs": json.loads(record.inputs),
        "computed_at": as_utc(record.computed_at).isoformat(),
    }


def build_router(runtime: ServiceRuntime, staff: TokenRegistry) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["scoring"])

    @router.get("/patients/{nhs_number}/score")
    async def get_score(nhs_number: str, request: Request) -> dict[str, Any]:
        authenticate(request, staff)
        if not is_valid_nhs_number(nhs_number):
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "not a valid NHS number")
        record = await runtime.read(lambda session: latest_score(session, nhs_number))
        if record is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no score for this patient")
        return score_view(record)

    @router.post("/profiles", response_model=None)
    async def post_profiles(request: Request) -> dict[str, Any] | JSONResponse:
        authenticate(request, staff)
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, "extract too large")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "body is not UTF-8") from None
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        extract_format: ExtractFormat = "csv" if content_type == "text/csv" else "ndjson"
        parsed = parse_extract(text, extract_format)
        if not parsed.profiles:
            errors = parsed.errors or ["no profiles in the body"]
            return JSONResponse({"loaded": 0, "errors": errors}, status.HTTP_400_BAD_REQUEST)
        loaded = await runtime.transact(lambda uow: load_profiles(uow, parsed.profiles))
        return {"loaded": loaded, "errors": parsed.errors}

    return router

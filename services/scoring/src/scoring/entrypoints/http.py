"""HTTP API: read a patient's score, load practice profile extracts (staff only)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import JSONResponse

from ensemble_contracts.nhs_number import is_valid_nhs_number
from ensemble_runtime.auth import Staff
from ensemble_runtime.http_guard import SafeJSONResponse
from ensemble_runtime.service import ServiceRuntime, runtime_of
from scoring.adapters import views
from scoring.service_layer.commands import LoadProfiles
from scoring.service_layer.extracts import ExtractFormat, NotText, decode_extract, parse_extract

Runtime = Annotated[ServiceRuntime[Any, Any], Depends(runtime_of)]
router = APIRouter(prefix="/v1", tags=["scoring"])


@router.get("/patients/{nhs_number}/score")
async def get_score(nhs_number: str, _staff: Staff, runtime: Runtime) -> dict[str, Any]:
    if not is_valid_nhs_number(nhs_number):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "not a valid NHS number")
    score = await runtime.read(views.patient_score, nhs_number)
    if score is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no score for this patient")
    return score


@router.post("/profiles", response_model=None)
async def post_profiles(request: Request, _staff: Staff, runtime: Runtime) -> JSONResponse:
    """Profiles as NDJSON, or CSV (`Content-Type: text/csv`): bad lines are reported by number,
    the good ones load. The body is capped by `SCORING_MAX_BODY_BYTES` (the runtime's guard)."""
    body = await request.body()
    if len(body) > runtime.settings.max_body_bytes:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "extract too large")
    try:
        text = decode_extract(body)
    except NotText:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "body is not UTF-8 text") from None
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    extract_format: ExtractFormat = "csv" if content_type == "text/csv" else "ndjson"
    parsed = parse_extract(text, extract_format)
    if not parsed.profiles:
        errors = parsed.errors or ["no profiles in the body"]
        return SafeJSONResponse({"loaded": 0, "errors": errors}, status.HTTP_400_BAD_REQUEST)
    loaded = await runtime.execute(LoadProfiles(profiles=tuple(parsed.profiles)))
    return SafeJSONResponse({"loaded": loaded, "errors": parsed.errors})

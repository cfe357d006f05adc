"""HTTP API: a patient's score and profile extract loads (staff); a practice's worklist (that
practice, or staff)."""

import re
from functools import partial
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse

from ensemble_contracts.nhs_number import is_valid_nhs_number
from ensemble_contracts.scoring import RiskBand
from ensemble_runtime.audit import audit_detail
from ensemble_runtime.auth import OwnPracticeOrStaff, Staff
from ensemble_runtime.http_guard import SafeJSONResponse
from ensemble_runtime.service import ServiceRuntime, runtime_of
from scoring.adapters import views
from scoring.service_layer.cohorts import saved_cohorts
from scoring.service_layer.commands import LoadProfiles
from scoring.service_layer.extracts import ExtractFormat, NotText, decode_extract, parse_extract

Runtime = Annotated[ServiceRuntime[Any, Any], Depends(runtime_of)]
router = APIRouter(prefix="/v1", tags=["scoring"])
_ODS: Final = re.compile(r"[A-Za-z0-9]{3,12}")
_CURSOR: Final = re.compile(r"([0-9]{1,9}):([0-9]{10})")


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
    parsed = parse_extract(text, extract_format, today=runtime.clock().date())
    if not parsed.profiles:
        errors = parsed.errors or ["no profiles in the body"]
        answer = {"loaded": 0, "errors": errors, "warnings": parsed.warnings}
        return SafeJSONResponse(answer, status.HTTP_400_BAD_REQUEST)
    done = await runtime.execute(LoadProfiles(profiles=tuple(parsed.profiles)))
    audit_detail(action="profiles.load", loaded=done.loaded, errors=parsed.error_count)
    return SafeJSONResponse(
        {
            "loaded": done.loaded,
            "changed": done.changed,
            "unchanged": done.unchanged,
            "older": done.older,
            "errors": parsed.errors,
            "warnings": parsed.warnings,
        }
    )


async def practice_reader(ods: str, caller: OwnPracticeOrStaff) -> str:
    """The practice in the path, for a token of that practice or a staff token: 401 for
    anyone else, 403 for another practice's token, 404 for a path that is no ODS code."""
    if not _ODS.fullmatch(ods):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not an ODS code")
    return caller.ods


PracticeReader = Annotated[str, Depends(practice_reader)]
Domain = Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]{0,59}$")]
Cursor = Annotated[str | None, Query(max_length=20, description="`next_after` of the last page")]


@router.get("/practices/{ods}/patients", tags=["practices"])
async def practice_patients(
    practice: PracticeReader,
    runtime: Runtime,
    band: Annotated[RiskBand | None, Query()] = None,
    domain: Domain = None,
    on_caseload: Annotated[bool | None, Query()] = None,
    cohort: Annotated[str | None, Query(max_length=60)] = None,
    after: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """The practice's patients ranked by score (highest first; NHS number breaks ties), with
    each score's band, reasons and model version. Filters: `band`, `domain` (the score has
    points in it: a domain of the active model), `on_caseload`. Page on with
    `after=<next_after>`; `next_after` is null on the last page. `cohort`: a saved cohort's
    members as last refreshed (`GET /v1/practices/{ods}/cohorts/{cohort}` evaluates now)."""
    position = None
    if after is not None:
        found = _CURSOR.fullmatch(after)
        if found is None:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "after is not a next_after value")
        position = (int(found.group(1)), found.group(2))
    if domain is not None:
        domains = await runtime.read(views.active_domains)
        if domain not in domains:
            known = ", ".join(sorted(domains))
            raise HTTPException(status.HTTP_400_BAD_REQUEST, f"unknown domain; known: {known}")
    cohorts = saved_cohorts(runtime.settings.cohorts_dir)
    if cohort is not None and cohort not in cohorts:
        known = ", ".join(sorted(cohorts))
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"unknown cohort; known: {known}")
    query = partial(
        views.practice_worklist,
        band=band,
        domain=domain,
        on_caseload=on_caseload,
        cohort=cohort,
        after=position,
        limit=limit,
    )
    patients = await runtime.read(query, practice)
    audit_detail(action="patients.worklist", patients=len(patients))
    last = patients[-1] if len(patients) == limit else None
    return {
        "patients": patients,
        "next_after": f"{last['score']}:{last['nhs_number']}" if last is not None else None,
    }

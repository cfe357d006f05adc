"""The outcomes report over HTTP: JSON, a CSV export and a server-rendered page with SVG
charts. Staff see every practice (or the one asked for); a practice's token sees its own only.
The page is also for a browser signed in with either token (entrypoints/outcomes_sign_in.py),
by the same rules; without a bearer header or a session it is the sign-in form (401).
"""

import csv
import io
import re
from functools import partial
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, Response

from ensemble_runtime import auth
from ensemble_runtime.audit import audit_detail
from ensemble_runtime.page_sessions import SignedIn
from ensemble_runtime.page_sign_in import has_bearer, this_page
from ensemble_runtime.service import ServiceRuntime, runtime_of
from scoring.adapters.outcome_views import Selection, outcomes
from scoring.adapters.unit_costs import unit_costs
from scoring.domain.outcome_report import MEASURES, PATIENT_CSV_COLUMNS, patient_csv_row
from scoring.entrypoints.outcomes_page import SECURITY_HEADERS, render_page
from scoring.entrypoints.outcomes_sign_in import OUTCOMES_SIGN_IN, PAGES
from scoring.service_layer.cohorts import saved_cohorts

Runtime = Annotated[ServiceRuntime[Any, Any], Depends(runtime_of)]
router = APIRouter(prefix="/v1", tags=["outcomes"])
_ODS: Final = re.compile(r"[A-Za-z0-9]{3,12}")
Programme = Literal["health_coaching", "complex_care"]


PracticeQuery = Annotated[str | None, Query(max_length=12)]


def _ods_code(practice: str | None) -> None:
    if practice is not None and not _ODS.fullmatch(practice):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "practice is not an ODS code")


async def outcomes_reader(request: Request, practice: PracticeQuery = None) -> str | None:
    """The practice the caller may read (None: every practice, staff only): 401 for an unknown
    token, 403 for another practice's, 400 for a practice that is no ODS code."""
    _ods_code(practice)
    token = auth.bearer_token(request)
    staff = await auth.caller_of(request, "staff", token)
    if staff is not None:
        auth.declare_caller(request, "staff", staff)
        return practice.upper() if practice else None
    own = await auth.caller_of(request, "practice", token)
    if own is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "unknown token", headers={"WWW-Authenticate": "Bearer"}
        )
    if practice is not None and practice.upper() != own.principal.upper():
        raise HTTPException(status.HTTP_403_FORBIDDEN, "not your practice")
    auth.declare_caller(request, "practice", own)
    return own.principal.upper()


Reader = Annotated[str | None, Depends(outcomes_reader)]
Cohort = Annotated[str | None, Query(max_length=60)]


def _selection(runtime: ServiceRuntime[Any, Any], practice: str | None, **chosen: Any) -> Selection:
    cohort = chosen.get("cohort")
    cohorts = saved_cohorts(runtime.settings.cohorts_dir)
    if cohort is not None and cohort not in cohorts:
        known = ", ".join(sorted(cohorts))
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"unknown cohort; known: {known}")
    settings = runtime.settings
    return Selection(
        practice=practice,
        programme=chosen.get("programme"),
        cohort=cohort,
        per_enrolment=settings.outcomes_comparisons_per_enrolment,
        min_follow_up_days=settings.outcomes_min_follow_up_days,
    )


async def _report(
    runtime: ServiceRuntime[Any, Any], selection: Selection
) -> tuple[list[Any], dict[str, Any]]:
    costs = unit_costs(runtime.settings.outcomes_unit_costs)
    query = partial(outcomes, selection=selection, today=runtime.clock().date(), costs=costs)
    found: tuple[list[Any], dict[str, Any]] = await runtime.read(query)
    audit_detail(action="outcomes.report", patients=len(found[0]))
    return found


@router.get("/outcomes", response_model=None)
async def get_outcomes(
    practice: Reader,
    runtime: Runtime,
    programme: Annotated[Programme | None, Query()] = None,
    cohort: Cohort = None,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
    rows: Annotated[Literal["groups", "patients"], Query()] = "groups",
) -> dict[str, Any] | Response:
    """Outcomes of the programmes: hospital use in the 12 months before enrolment against after
    (pro-rated to 12 months), for the enrolled and a matched comparison group (same practice,
    band and age band), per practice, programme and cohort, with PAM and repeat-medicine
    change and an ROI from the unit costs. `format=csv` exports the groups, or with
    `rows=patients` one line per enrolled or comparison patient."""
    selection = _selection(runtime, practice, programme=programme, cohort=cohort)
    patients, answer = await _report(runtime, selection)
    if format == "json":
        return answer
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if rows == "patients":
        writer.writerow(PATIENT_CSV_COLUMNS)
        writer.writerows(patient_csv_row(row) for row in patients)
    else:
        writer.writerow(GROUP_CSV_COLUMNS)
        for by in ("summary", "by_practice", "by_programme", "by_cohort"):
            groups = [answer["summary"]] if by == "summary" else answer[by]
            for group in groups:
                writer.writerows(_group_lines(by, group))
    filename = f"outcomes-{practice or 'all'}-{rows}.csv"
    return Response(
        out.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


GROUP_CSV_COLUMNS = (
    "grouping",
    "group",
    "role",
    "patients",
    "followed_up",
    *(f"before_{m}" for m in MEASURES),
    *(f"after_{m}" for m in MEASURES),
    "programme_cost_gbp",
    "savings_adjusted_gbp",
    "return_per_pound",
)


def _group_lines(by: str, group: dict[str, Any]) -> list[list[Any]]:
    """The group's enrolled line and its comparison group's line."""
    name = next((group[k] for k in ("practice", "programme", "cohort") if k in group), "all")
    lines = []
    for role in ("enrolled", "comparison"):
        side, costs = group[role], group["roi"] if role == "enrolled" else {}
        lines.append(
            [
                by.removeprefix("by_"),
                name,
                role,
                side["patients"],
                side["followed_up"],
                *(side["before"][m] for m in MEASURES),
                *(side["after"][m] for m in MEASURES),
                costs.get("programme_cost_gbp"),
                costs.get("savings_adjusted_gbp"),
                costs.get("return_per_pound"),
            ]
        )
    return lines


def _session_reader(who: SignedIn, practice: str | None) -> str | None:
    """The practice a signed-in session may read, by its token's rules (outcomes_reader)."""
    if who.kind == "staff":
        return practice.upper() if practice else None
    if practice is not None and practice.upper() != who.principal.upper():
        raise HTTPException(status.HTTP_403_FORBIDDEN, "not your practice")
    return who.principal.upper()


@router.get("/outcomes/page", response_class=HTMLResponse)
async def outcomes_page(
    request: Request,
    runtime: Runtime,
    practice: PracticeQuery = None,
    programme: Annotated[Programme | None, Query()] = None,
    cohort: Cohort = None,
) -> Response:
    """The report as a page: before/after A&E use of the enrolled against the comparison group
    as SVG charts, each with its table. For a bearer token, or a browser signed in with one
    (else the sign-in form)."""
    if has_bearer(request):
        practice = await outcomes_reader(request, practice)
    else:
        _ods_code(practice)
        who = await OUTCOMES_SIGN_IN.signed_in(request, runtime)
        if who is None:
            page = this_page(request)
            return OUTCOMES_SIGN_IN.sign_in_page(request, runtime, status_code=401, next_page=page)
        try:
            practice = _session_reader(who, practice)
        except HTTPException as refused:
            return PAGES.refused(refused.status_code, str(refused.detail), who)
    selection = _selection(runtime, practice, programme=programme, cohort=cohort)
    _rows, answer = await _report(runtime, selection)
    return HTMLResponse(render_page(answer), headers=SECURITY_HEADERS)

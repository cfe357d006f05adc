"""HTTP API for saved cohorts: a practice's members of one, evaluated now, as JSON or CSV (for
a one-to-many session's invitation list); that practice's token or staff, as the worklist."""

import csv
import io
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import Response

from ensemble_runtime.audit import audit_detail
from ensemble_runtime.auth import Staff
from ensemble_runtime.service import ServiceRuntime, runtime_of
from scoring.adapters.cohort_store import members_now
from scoring.domain.cohorts import Cohort
from scoring.entrypoints.http import PracticeReader
from scoring.service_layer.cohorts import saved_cohorts

Runtime = Annotated[ServiceRuntime[Any, Any], Depends(runtime_of)]
router = APIRouter(prefix="/v1", tags=["cohorts"])
CSV_COLUMNS = ("nhs_number", "score", "band", "domains")


def _cohort(runtime: ServiceRuntime[Any, Any], name: str) -> Cohort:
    found = saved_cohorts(runtime.settings.cohorts_dir).get(name)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no saved cohort of that name")
    return found


@router.get("/cohorts")
async def list_cohorts(_staff: Staff, runtime: Runtime) -> dict[str, Any]:
    """The saved cohorts and what each asks for."""
    return {
        "cohorts": [
            {
                "name": cohort.name,
                "title": cohort.title,
                "rationale": cohort.rationale,
                "when": [
                    {
                        "field": c.field,
                        c.comparison: c.value
                        if isinstance(c.value, bool | str)
                        else float(c.value),
                    }
                    for c in cohort.when
                ],
            }
            for cohort in saved_cohorts(runtime.settings.cohorts_dir).values()
        ]
    }


@router.get("/practices/{ods}/cohorts/{cohort}", tags=["practices"], response_model=None)
async def practice_cohort(
    cohort: str,
    practice: PracticeReader,
    runtime: Runtime,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
) -> dict[str, Any] | Response:
    """The practice's members of a saved cohort, evaluated now, ranked by score;
    `format=csv` for the export."""
    saved = _cohort(runtime, cohort)
    members = await runtime.read(partial(members_now, cohort=saved, now=runtime.clock()), practice)
    audit_detail(action="patients.cohort", patients=len(members))
    if format == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        for m in members:
            writer.writerow([m["nhs_number"], m["score"], m["band"], ";".join(m["domains"])])
        filename = f"{practice}-{saved.name}.csv"
        return Response(
            out.getvalue(),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    return {"cohort": saved.name, "title": saved.title, "patients": members}

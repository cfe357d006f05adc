"""Read models for the HTTP API: JSON-ready answers straight from the store."""

import json
from typing import Any

from sqlalchemy import and_, exists, false, func, not_, or_, select
from sqlmodel import Session

from scoring.adapters.cohort_store import MEMBERS
from scoring.adapters.model_store import ModelRepository
from scoring.adapters.population import CASELOADS
from scoring.adapters.repository import CURRENT, PATIENTS, ScoreRepository

# The referral statuses that put a patient on a programme's caseload.
ON_CASELOAD = ("accepted", "active")


def patient_score(session: Session, nhs_number: str) -> dict[str, Any] | None:
    """The patient's current (latest) score, or None when the patient was never scored."""
    record = ScoreRepository(session).latest(nhs_number)
    if record is None:
        return None
    return {
        "nhs_number": record.nhs_number,
        "score": record.score,
        "band": record.band,
        "model_version": record.model_version,
        "reasons": json.loads(record.reasons),
        "inputs": json.loads(record.inputs),
        "computed_at": record.computed_at.isoformat(),
    }


def active_domains(session: Session) -> dict[str, str]:
    """The active model's domains (name -> title), for the worklist's domain filter."""
    return dict(ModelRepository(session).active().domains)


def practice_worklist(
    session: Session,
    practice_ods: str,
    *,
    band: str | None = None,
    domain: str | None = None,
    on_caseload: bool | None = None,
    cohort: str | None = None,
    after: tuple[int, str] | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """The practice's scored patients, highest score first (NHS number breaks ties), after
    the (score, NHS number) `after`; filtered by band, by a domain the score has points in, and
    by whether the patient is on a caseload (the practice's own flag, or an accepted or active
    referral to a programme), and by a saved cohort (its members as last refreshed)."""
    accepted = exists().where(
        CASELOADS.c.nhs_number == CURRENT.c.nhs_number, CASELOADS.c.status.in_(ON_CASELOAD)
    )
    caseload = or_(func.coalesce(PATIENTS.c.on_caseload, false()).is_(True), accepted)
    query = (
        select(
            CURRENT.c.nhs_number,
            CURRENT.c.score,
            CURRENT.c.band,
            CURRENT.c.model_version,
            CURRENT.c.reasons,
            CURRENT.c.domains,
            CURRENT.c.computed_at,
            caseload.label("on_caseload"),
        )
        .select_from(CURRENT.outerjoin(PATIENTS, PATIENTS.c.nhs_number == CURRENT.c.nhs_number))
        .where(CURRENT.c.practice_ods == practice_ods)
    )
    if band is not None:
        query = query.where(CURRENT.c.band == band)
    if domain is not None:
        query = query.where(CURRENT.c.domains.contains(f",{domain},", autoescape=True))
    if on_caseload is not None:
        query = query.where(caseload if on_caseload else not_(caseload))
    if cohort is not None:
        query = query.where(
            exists().where(MEMBERS.c.cohort == cohort, MEMBERS.c.nhs_number == CURRENT.c.nhs_number)
        )
    if after is not None:
        score, nhs_number = after
        query = query.where(
            or_(
                CURRENT.c.score < score,
                and_(CURRENT.c.score == score, CURRENT.c.nhs_number > nhs_number),
            )
        )
    rows = session.execute(
        query.order_by(CURRENT.c.score.desc(), CURRENT.c.nhs_number).limit(limit)
    ).all()
    caseloads = _caseloads(session, [row.nhs_number for row in rows])
    return [
        {
            "nhs_number": row.nhs_number,
            "score": row.score,
            "band": row.band,
            "reasons": json.loads(row.reasons),
            "model_version": row.model_version,
            "domains": [d for d in row.domains.split(",") if d],
            "on_caseload": bool(row.on_caseload),
            "caseload": caseloads.get(row.nhs_number, []),
            "computed_at": row.computed_at.isoformat(),
        }
        for row in rows
    ]


def _caseloads(session: Session, nhs_numbers: list[str]) -> dict[str, list[dict[str, str]]]:
    """The referral status per service of these patients (one query)."""
    if not nhs_numbers:
        return {}
    found: dict[str, list[dict[str, str]]] = {}
    rows = session.execute(
        select(CASELOADS.c.nhs_number, CASELOADS.c.service, CASELOADS.c.status)
        .where(CASELOADS.c.nhs_number.in_(nhs_numbers))
        .order_by(CASELOADS.c.nhs_number, CASELOADS.c.service)
    )
    for row in rows:
        found.setdefault(row.nhs_number, []).append({"service": row.service, "status": row.status})
    return found

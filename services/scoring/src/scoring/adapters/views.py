"""Read models for the HTTP API: JSON-ready answers straight from the store."""

import json
from typing import Any

from sqlmodel import Session

from scoring.adapters.repository import ScoreRepository


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

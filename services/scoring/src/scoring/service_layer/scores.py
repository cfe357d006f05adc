"""Writing new scores: each kept in the history and made the patient's current one, and a
`ScoreChanged` staged for each real band change (or first score). One rescore and a page of a
population rescore share this, so both publish by the same rule."""

import json
from collections.abc import Mapping
from typing import Any

from ensemble_contracts.scoring import ScoreChanged, ScoreReason
from ensemble_contracts.topics import SCORE_CHANGES
from scoring.adapters.unit_of_work import ScoringUnitOfWork
from scoring.domain.model import RiskScore


def reasons_of(risk: RiskScore) -> list[ScoreReason]:
    return [ScoreReason(factor=r.factor, points=r.points, detail=r.detail) for r in risk.reasons]


def reasons_json(risk: RiskScore) -> str:
    """The reasons as stored (as `ScoreReason.model_dump` gives them, without building one)."""
    return json.dumps(
        [{"factor": r.factor, "points": r.points, "detail": r.detail} for r in risk.reasons]
    )


class ScoreWrites:
    """New scores of one unit of work: each kept in the history and made current, and a
    `ScoreChanged` published for each real band change (or first score); the rows are
    written together by `flush`."""

    def __init__(self, uow: ScoringUnitOfWork, envelope: Mapping[str, Any]) -> None:
        self._uow = uow
        self._envelope = envelope
        self._history: list[dict[str, Any]] = []
        self._current: list[dict[str, Any]] = []
        self.band_changes: list[tuple[str | None, str]] = []

    def add(
        self, nhs_number: str, risk: RiskScore, previous_band: str | None, practice: str | None
    ) -> None:
        now = self._uow.clock()
        score = {"nhs_number": nhs_number, "score": risk.score, "band": risk.band}
        version = {"model_version": risk.model_version, "reasons": reasons_json(risk)}
        self._history.append(
            {**score, **version, "inputs": json.dumps(risk.inputs), "computed_at": now}
        )
        domains = "," + ",".join(risk.domains) + "," if risk.domains else ""
        self._current.append(
            {**score, **version, "practice_ods": practice, "domains": domains, "computed_at": now}
        )
        if previous_band != risk.band:  # a change, or the patient's first score (None)
            self.band_changes.append((previous_band, risk.band))
            self._uow.publish(
                SCORE_CHANGES,
                ScoreChanged(
                    **self._envelope,
                    nhs_number=nhs_number,
                    model_version=risk.model_version,
                    score=risk.score,
                    band=risk.band,
                    previous_band=previous_band,
                    practice_ods=practice,
                    reasons=reasons_of(risk),
                ),
            )

    def flush(self) -> None:
        self._uow.scores.insert(self._history)
        self._uow.scores.set_current(self._current)
        self._history, self._current = [], []

"""Model versions: compare a candidate with the active model, switch to it, rescore everyone.

Activation stores the model's text under its version (a version names one text for ever: a
changed file under an old version is refused) and records the switch; the newest activation
is the active model, for the service and for any process on the same store. The population is
then rescored a page per transaction, each patient under the same lock a single rescore takes,
publishing only real band changes. A page only takes patients whose current score another
version made, so an interrupted activation resumes where it stopped, and a patient an event
has already rescored with the new model is not rescored again.
"""

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog

from scoring.adapters.packaged_models import DEFAULT_VERSION, packaged_model, packaged_text
from scoring.adapters.unit_of_work import ScoringUnitOfWork
from scoring.domain.model import HospitalUse, PatientProfile, RiskModel, RiskScore
from scoring.domain.model_file import digest_of
from scoring.service_layer.commands import Activated, ActivateModel, PageRescored, RescorePage
from scoring.service_layer.handlers import PRODUCER
from scoring.service_layer.scores import ScoreWrites

log = structlog.get_logger(__name__)
PACKAGED_BY = "scoring (packaged default)"


class ModelRefused(ValueError):
    """A model that cannot be activated on this store (the message says why, no values)."""


def conflict(uow: ScoringUnitOfWork, model: RiskModel) -> str | None:
    """Why activating `model` would be refused, if it would."""
    digest = uow.models.digest_of(model.version)
    if digest is not None and digest != model.digest:
        return (
            f"version {model.version} is stored with other content: a changed model needs a "
            "new version (every stored score names the version that made it)"
        )
    return None


def activate_model(uow: ScoringUnitOfWork, command: ActivateModel) -> Activated:
    model = command.model
    problem = conflict(uow, model)
    if problem is not None:
        raise ModelRefused(problem)
    previous = uow.models.active_version() or DEFAULT_VERSION
    stored = uow.models.digest_of(model.version) is None
    if stored:
        uow.models.store(model, command.source, uow.clock())
    if previous != model.version or uow.models.active_version() is None:
        uow.models.activate(model.version, uow.clock(), command.activated_by[:100])
    uow.commit()
    log.info("risk model activated", version=model.version, previous=previous)
    return Activated(model.version, previous, stored)


def record_packaged_default(uow: ScoringUnitOfWork) -> str:
    """A store that never activated a model records the packaged default as activated (at a
    service's first start), so a later release's default never switches it silently."""
    version = uow.models.active_version()
    if version is not None:
        return version
    model = packaged_model(DEFAULT_VERSION)
    text = packaged_text(DEFAULT_VERSION)
    assert digest_of(text) == model.digest
    return activate_model(uow, ActivateModel(model, text, PACKAGED_BY)).version


def rescore_page(uow: ScoringUnitOfWork, command: RescorePage) -> PageRescored:
    model = uow.models.active()
    population = uow.population
    page = population.page(command.after, command.limit, not_version=model.version)
    if not page:
        return PageRescored(None, 0)
    population.lock(page)
    now = uow.clock()
    # Read under the locks: what an event left. One rescored by an event meanwhile (with this
    # model) is not read again, and only the locked patients are taken.
    locked = set(page)
    rows = [
        row
        for row in population.page_rows(command.after, None, model.version, through=page[-1])
        if row.nhs_number in locked
    ]
    uses = population.hospital_use(
        [row.nhs_number for row in rows], now, model.hospital_window_days
    )
    writes = ScoreWrites(uow, {"producer": PRODUCER, "correlation_id": command.correlation_id})
    day, no_use = now.date(), HospitalUse()
    for nhs_number, current, profile in rows:
        risk = model.score(profile, uses.get(nhs_number, no_use), day)
        practice = (profile.practice_ods if profile else None) or current.practice_ods
        writes.add(nhs_number, risk, current.band, practice)
    writes.flush()
    uow.commit()
    return PageRescored(page[-1], len(rows), writes.band_changes)


# --- evaluation: what a candidate would change -------------------------------------------------


@dataclass
class PracticeChanges:
    patients: int = 0
    changes: Counter[tuple[str, str]] = field(default_factory=Counter)
    examples: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Evaluation:
    """Per practice, how many patients the candidate moves from one band to another (both
    models scored as of the same moment, on the same inputs), with a few examples."""

    active: RiskModel
    candidate: RiskModel
    as_of: datetime
    examples_per_practice: int = 3
    practices: dict[str, PracticeChanges] = field(default_factory=dict)
    bands: dict[str, Counter[str]] = field(
        default_factory=lambda: {"active": Counter(), "candidate": Counter()}
    )
    would_publish: int = 0  # candidate bands that differ from the stored current bands
    seen: int = 0

    def add(
        self,
        nhs_number: str,
        profile: PatientProfile | None,
        uses: Mapping[int, HospitalUse],
        stored_band: str,
        practice: str | None,
    ) -> None:
        self.seen += 1
        day = self.as_of.date()
        before = self.active.score(profile, uses[self.active.hospital_window_days], day)
        after = self.candidate.score(profile, uses[self.candidate.hospital_window_days], day)
        self.bands["active"][before.band] += 1
        self.bands["candidate"][after.band] += 1
        self.would_publish += after.band != stored_band
        counts = self.practices.setdefault(practice or "(unknown)", PracticeChanges())
        counts.patients += 1
        if before.band == after.band:
            return
        counts.changes[(before.band, after.band)] += 1
        if len(counts.examples) < self.examples_per_practice:
            counts.examples.append(_example(nhs_number, before, after))

    def report(self) -> dict[str, Any]:
        practices = []
        for ods, counts in sorted(self.practices.items()):
            changes = [
                {"from": old, "to": new, "patients": n}
                for (old, new), n in sorted(counts.changes.items())
            ]
            practices.append(
                {
                    "practice_ods": ods,
                    "patients": counts.patients,
                    "changing": sum(counts.changes.values()),
                    "changes": changes,
                    "examples": counts.examples,
                }
            )
        return {
            "active": self.active.version,
            "candidate": self.candidate.version,
            "as_of": self.as_of.isoformat(),
            "patients": sum(p.patients for p in self.practices.values()),
            "changing": sum(p["changing"] for p in practices),
            "would_publish": self.would_publish,
            "bands": {which: dict(sorted(c.items())) for which, c in self.bands.items()},
            "practices": practices,
        }


def evaluate_page(
    uow: ScoringUnitOfWork, evaluation: Evaluation, after: str, limit: int
) -> str | None:
    """Add the next page of patients (after `after`) to the evaluation; the page's last NHS
    number, or None when there was nobody left. Reads only."""
    rows = uow.population.page_rows(after, limit)
    if not rows:
        return None
    numbers = [row.nhs_number for row in rows]
    windows = {evaluation.active.hospital_window_days, evaluation.candidate.hospital_window_days}
    uses = {days: uow.population.hospital_use(numbers, evaluation.as_of, days) for days in windows}
    no_use = HospitalUse()
    for nhs_number, current, profile in rows:
        practice = (profile.practice_ods if profile else None) or current.practice_ods
        by_window = {days: found.get(nhs_number, no_use) for days, found in uses.items()}
        evaluation.add(nhs_number, profile, by_window, current.band, practice)
    return rows[-1].nhs_number


def _example(nhs_number: str, before: RiskScore, after: RiskScore) -> dict[str, Any]:
    old = {r.factor: r.points for r in before.reasons}
    new = {r.factor: r.points for r in after.reasons}
    factors = [
        {"factor": name, "from": old.get(name, 0), "to": new.get(name, 0)}
        for name in sorted(old.keys() | new.keys())
        if old.get(name, 0) != new.get(name, 0)
    ]
    return {
        "nhs_number": nhs_number,
        "from": {"band": before.band, "score": before.score},
        "to": {"band": after.band, "score": after.score},
        "factors": factors,
    }

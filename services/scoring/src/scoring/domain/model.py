"""The risk model as data, and the engine that scores a patient with it.

A model (read from a versioned model file by `model_file.py`; the packaged ones are in
`scoring/models/`, their card in `docs/scoring-model-card.md`) is:

* factors, each in a domain, adding points for one input (an age, a count of conditions in a
  set, hospital use) by the highest of its levels that the patient reaches;
* bands on the total points;
* overrides: 0-point factors that raise the band to a minimum when all their criteria hold.

Every number, with its rationale and published source, lives in the model file, not here. A
score keeps the model version, a reason per factor that scored (factor, points, detail), the
inputs it was computed from and the domains it has points in. A field the practice did not send
contributes nothing and is named in a 0-point `missing_data` reason.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from functools import cached_property
from typing import Any, Final, Literal

from ensemble_contracts import limits
from scoring.domain.inputs import INPUTS, Comparator, Known, Value
from scoring.domain.patient import HospitalUse, PatientProfile

__all__ = ["HospitalUse", "PatientProfile"]  # re-exported: callers know them from here

Band = Literal["low", "moderate", "high", "very_high"]
BANDS: Final[tuple[Band, ...]] = ("low", "moderate", "high", "very_high")
MISSING_DATA: Final = "missing_data"


def band_rank(band: Band) -> int:
    return BANDS.index(band)


def at_least(band: Band, minimum: Band) -> bool:
    return band_rank(band) >= band_rank(minimum)


@dataclass(frozen=True)
class Reason:
    factor: str
    points: int
    detail: str


@dataclass(frozen=True)
class RiskScore:
    score: int
    band: Band
    reasons: tuple[Reason, ...]
    inputs: dict[str, Any]
    model_version: str
    domains: tuple[str, ...] = ()  # domains with points, sorted


@dataclass(frozen=True)
class Level:
    """One step of a factor: reached when the input compares to `threshold` as `comparator`
    says; `detail` is a `str.format` template (placeholders checked when the file loads)."""

    comparator: Comparator
    threshold: Value
    points: int
    detail: str
    label: str | None = None
    ratios: Mapping[str, float] = field(default_factory=dict)  # e.g. {"odds_ratio": 2.5}

    def reached_by(self, value: Value) -> bool:
        comparator, threshold = self.comparator, self.threshold
        if comparator == "equals":
            return value == threshold
        if isinstance(value, bool | str) or isinstance(threshold, bool | str):
            return False
        if comparator == "at_least":
            return value >= threshold
        if comparator == "above":
            return value > threshold
        return value <= threshold  # at_most


@dataclass(frozen=True)
class Factor:
    """Points for one input (`input`) or for how many of a condition set (`conditions`) the
    patient has. Levels go from the least to the most points; the last one reached counts."""

    name: str
    domain: str
    levels: tuple[Level, ...]
    input: str | None = None
    conditions: frozenset[str] | None = None
    record_as: str | None = None  # record the level's label in the inputs under this name
    none_label: str | None = None  # ... or this when no level is reached

    @cached_property
    def scores(self) -> bool:
        """Whether any level adds points (a factor that cannot is context only)."""
        return any(level.points > 0 for level in self.levels)


@dataclass(frozen=True)
class Criterion:
    """One condition of an override: a count of a condition set, an input, or a factor's level
    (that level or a higher one of the same factor)."""

    at_least: int | Fraction | None = None
    count_of: frozenset[str] | None = None
    input: str | None = None
    factor: str | None = None
    level: int | None = None  # index into the factor's levels


@dataclass(frozen=True)
class Override:
    name: str
    minimum: Band
    when: tuple[Criterion, ...]
    detail: str  # may use {count}: the count of the first count_of criterion


@dataclass(frozen=True)
class RiskModel:
    version: str
    domains: Mapping[str, str]
    factors: tuple[Factor, ...]
    bands: tuple[tuple[Band, int], ...]  # (band, lowest total), lowest band first
    overrides: tuple[Override, ...] = ()
    hospital_window_days: int = 365
    digest: str = ""  # SHA-256 of the model file's text

    def band_for(self, points: int) -> Band:
        found: Band = self.bands[0][0]
        for band, lowest in self.bands:
            if points >= lowest:
                found = band
        return found

    def reads(self, name: str) -> bool:
        """Whether a factor or an override reads this input."""
        return any(f.input == name for f in self.factors) or any(
            c.input == name for o in self.overrides for c in o.when
        )

    def domain_of(self, factor: str) -> str | None:
        return self._domains.get(factor)

    @cached_property
    def _domains(self) -> dict[str, str]:
        return {f.name: f.domain for f in self.factors}

    def score(self, profile: PatientProfile | None, use: HospitalUse, as_of: date) -> RiskScore:
        """Score one patient as of a day; `profile` None means known only from hospital events."""
        return _Scoring(self, profile, use, as_of).run()


class _Scoring:
    """One patient's scoring: what was read, which levels were reached, what was missing."""

    def __init__(
        self, model: RiskModel, profile: PatientProfile | None, use: HospitalUse, as_of: date
    ) -> None:
        self.model = model
        self.profile = profile or PatientProfile()
        self.use = use
        self.as_of = as_of
        self.inputs: dict[str, Any] = {
            "as_of": as_of.isoformat(),
            "profile_known": profile is not None,
            "emergency_admissions_12m": use.emergency_admissions,
            "ae_attendances_12m": use.ae_attendances,
        }
        self.missing: list[str] = []
        self.reached: dict[str, int] = {}  # factor -> index of the level reached
        self._read: dict[str, Known | None] = {}

    def run(self) -> RiskScore:
        reasons: list[Reason] = []
        for factor in self.model.factors:
            reason = self._factor(factor)
            if reason is not None:
                reasons.append(reason)
        total = sum(r.points for r in reasons)
        band = self.model.band_for(total)
        for override in self.model.overrides:
            if all(self._holds(c) for c in override.when):
                reasons.append(
                    Reason(override.name, 0, override.detail.format(**self._counts(override)))
                )
                band = band if at_least(band, override.minimum) else override.minimum
        self.inputs["missing"] = self.missing
        if self.missing:
            detail = "not known, so counted as nothing: " + ", ".join(self.missing)
            reasons.append(Reason(MISSING_DATA, 0, detail))
        domains = {self.model.domain_of(r.factor) for r in reasons if r.points > 0}
        return RiskScore(
            score=total,
            band=band,
            reasons=tuple(reasons),
            inputs=self.inputs,
            model_version=self.model.version,
            domains=tuple(sorted(d for d in domains if d is not None)),
        )

    def _factor(self, factor: Factor) -> Reason | None:
        if factor.conditions is not None:
            conditions = self.profile.conditions
            if conditions is None:
                if factor.scores:  # not knowing what a context factor reads costs nothing
                    self._missing("conditions")
                return None
            if "conditions" not in self.inputs:
                self.inputs["conditions"] = sorted(conditions)
            matched = sorted(conditions & factor.conditions)
            value: Value = len(matched)
            fields: dict[str, Any] = {"count": len(matched), "matched": ", ".join(matched)}
        else:
            assert factor.input is not None  # a factor reads an input or counts conditions
            known = self._input(factor.input)
            if known is None:
                missing_as = INPUTS[factor.input].missing_as
                if factor.scores and missing_as is not None:
                    self._missing(missing_as)
                return None
            self.inputs.update(known.recorded)
            value, fields = known.value, {"value": known.shown}
        index = None
        for position, level in enumerate(factor.levels):
            if level.reached_by(value):
                index = position
            elif level.comparator != "equals":
                break  # thresholds go further level by level: none after this is reached
        if factor.record_as is not None:
            label = factor.none_label if index is None else factor.levels[index].label
            self.inputs[factor.record_as] = label
        if index is None:
            return None
        self.reached[factor.name] = index
        level = factor.levels[index]
        placeholders = {**fields, **level.ratios, "label": level.label or ""}
        detail = level.detail.format(**placeholders)[: limits.TEXT]  # what an event carries
        return Reason(factor.name, level.points, detail)

    def _input(self, name: str) -> Known | None:
        if name not in self._read:
            self._read[name] = INPUTS[name].read(self.profile, self.use, self.as_of)
        return self._read[name]

    def _missing(self, name: str) -> None:
        if name not in self.missing:
            self.missing.append(name)

    def _count(self, conditions: frozenset[str]) -> int:
        return len((self.profile.conditions or frozenset()) & conditions)

    def _holds(self, criterion: Criterion) -> bool:
        if criterion.count_of is not None:
            assert criterion.at_least is not None
            return self._count(criterion.count_of) >= criterion.at_least
        if criterion.input is not None:
            known = self._input(criterion.input)
            if known is None or isinstance(known.value, bool | str):
                return False
            return criterion.at_least is not None and known.value >= criterion.at_least
        reached = self.reached.get(criterion.factor or "")
        return reached is not None and criterion.level is not None and reached >= criterion.level

    def _counts(self, override: Override) -> dict[str, int]:
        counts = [self._count(c.count_of) for c in override.when if c.count_of is not None]
        return {"count": counts[0]} if counts else {}

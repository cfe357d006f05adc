"""The outcomes report: per group (practice, cohort, programme), the enrolled against their
comparison group, before vs after, and what the difference is worth. Pure.

Averages are per patient per 12 months over the patients with enough follow-up (before and
after over the same patients, so the change is like for like). The net change is the
enrolled's change minus the comparison group's: what is left once regression to the mean (the
comparison group's own fall) is taken out. ROI: the net change in use valued at the unit costs,
for the followed-up enrolled, against what their sessions cost.
"""

import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from scoring.domain.outcomes import PeriodOutcome, Use

Role = Literal["enrolled", "comparison"]
MEASURES = ("ae_attendances", "emergency_admissions", "bed_days")


class UnitCostsError(ValueError):
    """A unit-costs file that cannot be used, and why."""


@dataclass(frozen=True)
class UnitCosts:
    """What a unit of hospital use and a programme session cost (GBP), with their sources."""

    ae_attendance: float
    non_elective_admission: float
    bed_day: float
    session: Mapping[str, float]  # programme -> cost of one attended session
    sources: Mapping[str, str] = field(default_factory=dict)

    def of_use(self, use: Use) -> float:
        return (
            use.ae_attendances * self.ae_attendance
            + use.emergency_admissions * self.non_elective_admission
            + use.bed_days * self.bed_day
        )


def read_unit_costs(text: str) -> UnitCosts:
    """Unit costs from their TOML file (see scoring/outcomes/unit_costs.toml)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise UnitCostsError(f"not TOML: {error}") from None
    costs, sessions = data.get("hospital"), data.get("session")
    if not isinstance(costs, dict) or not isinstance(sessions, dict):
        raise UnitCostsError("needs [hospital.*] and [session.*] tables")
    values: dict[str, float] = {}
    sources: dict[str, str] = {}
    for name in ("ae_attendance", "non_elective_admission", "bed_day"):
        values[name] = _cost(costs.get(name), f"hospital.{name}")
        sources[name] = str(costs[name].get("source", ""))
    per_session = {}
    for programme, entry in sessions.items():
        per_session[programme] = _cost(entry, f"session.{programme}")
        sources[f"session.{programme}"] = str(entry.get("source", ""))
    return UnitCosts(session=per_session, sources=sources, **values)


def _cost(entry: Any, name: str) -> float:
    if not isinstance(entry, dict) or "gbp" not in entry:
        raise UnitCostsError(f"{name}: needs gbp = <cost>")
    value = entry["gbp"]
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise UnitCostsError(f"{name}: gbp must be a number >= 0")
    return float(value)


@dataclass(frozen=True)
class PatientOutcome:
    """One patient's row of the report: an enrolment, or a comparison patient matched to one."""

    nhs_number: str
    role: Role
    programme: str
    practice_ods: str | None
    period: PeriodOutcome
    band: str | None = None
    age_band: str | None = None
    sessions: int = 0
    pam_change: int | None = None
    medicines_change: int | None = None
    cohorts: frozenset[str] = frozenset()  # a comparison patient: their enrolment's
    matched_to: str | None = None  # a comparison patient: the enrolled NHS number


def mean_use(uses: Sequence[Use]) -> Use:
    if not uses:
        return Use()
    n = len(uses)
    return Use(
        sum(u.ae_attendances for u in uses) / n,
        sum(u.emergency_admissions for u in uses) / n,
        sum(u.bed_days for u in uses) / n,
    )


def _use_json(use: Use) -> dict[str, float]:
    return {name: round(getattr(use, name), 3) for name in MEASURES}


@dataclass(frozen=True)
class Side:
    """The enrolled or the comparison group of one report group."""

    patients: int
    followed_up: int
    before: Use
    after: Use

    @property
    def change(self) -> Use:
        return self.after.minus(self.before)

    def as_json(self) -> dict[str, Any]:
        return {
            "patients": self.patients,
            "followed_up": self.followed_up,
            "before": _use_json(self.before),
            "after": _use_json(self.after),
            "change": _use_json(self.change),
        }


def side_of(rows: Sequence[PatientOutcome]) -> Side:
    followed = [r.period for r in rows if r.period.after is not None]
    return Side(
        patients=len(rows),
        followed_up=len(followed),
        before=mean_use([p.before for p in followed]),
        after=mean_use([p.after for p in followed if p.after is not None]),
    )


def _measured(changes: Iterable[int | None]) -> dict[str, Any]:
    """Up and down, not better and worse: a higher PAM level is better, more repeat medicines
    is not."""
    known = [c for c in changes if c is not None]
    return {
        "measured": len(known),
        "mean_change": round(sum(known) / len(known), 3) if known else None,
        "went_up": sum(1 for c in known if c > 0),
        "went_down": sum(1 for c in known if c < 0),
    }


def roi(
    enrolled: Side, comparison: Side, sessions: int, costs: UnitCosts, programme_cost: float
) -> dict[str, Any]:
    """What a year of the change is worth for the followed-up enrolled, with and without the
    comparison group's change taken out, against the cost of their sessions."""
    n = enrolled.followed_up
    unadjusted = -costs.of_use(enrolled.change) * n
    net = enrolled.change.minus(comparison.change)
    adjusted = -costs.of_use(net) * n if comparison.followed_up else None
    answer: dict[str, Any] = {
        "sessions": sessions,
        "programme_cost_gbp": round(programme_cost, 2),
        "savings_unadjusted_gbp": round(unadjusted, 2),
        "savings_adjusted_gbp": None if adjusted is None else round(adjusted, 2),
        "net_benefit_gbp": None if adjusted is None else round(adjusted - programme_cost, 2),
        "return_per_pound": None,
    }
    if adjusted is not None and programme_cost > 0:
        answer["return_per_pound"] = round(adjusted / programme_cost, 3)
    return answer


def summarise(
    key: Mapping[str, str | None], rows: Sequence[PatientOutcome], costs: UnitCosts
) -> dict[str, Any]:
    """One group of the report: its enrolled, its comparison group, the net change, ROI."""
    enrolled = [r for r in rows if r.role == "enrolled"]
    comparison = [r for r in rows if r.role == "comparison"]
    ours, theirs = side_of(enrolled), side_of(comparison)
    followed = [r for r in enrolled if r.period.after is not None]
    sessions = sum(r.sessions for r in followed)
    cost = sum(r.sessions * costs.session.get(r.programme, 0.0) for r in followed)
    matched = {(r.matched_to, r.programme) for r in comparison}
    return {
        **key,
        "enrolled": {
            **ours.as_json(),
            "unmatched": sum(1 for r in enrolled if (r.nhs_number, r.programme) not in matched),
            "pam_level": _measured(r.pam_change for r in enrolled),
            "repeat_medicines": _measured(r.medicines_change for r in enrolled),
        },
        "comparison": theirs.as_json(),
        "net_change": _use_json(ours.change.minus(theirs.change)) if theirs.followed_up else None,
        "roi": roi(ours, theirs, sessions, costs, cost),
    }


def grouped(
    rows: Sequence[PatientOutcome], costs: UnitCosts, by: Literal["practice", "programme", "cohort"]
) -> list[dict[str, Any]]:
    """The report per practice, per programme or per cohort (a patient in two cohorts counts
    in both); a comparison patient goes with the enrolment they were matched to."""
    groups: dict[str, list[PatientOutcome]] = {}
    for row in rows:
        for name in _group_names(row, by):
            groups.setdefault(name, []).append(row)
    return [summarise({by: name}, groups[name], costs) for name in sorted(groups)]


def _group_names(row: PatientOutcome, by: str) -> Iterable[str]:
    if by == "practice":
        return [row.practice_ods or "unknown"]
    if by == "programme":
        return [row.programme]
    return sorted(row.cohorts)


def report(
    rows: Sequence[PatientOutcome], costs: UnitCosts, filters: Mapping[str, Any]
) -> dict[str, Any]:
    """The whole report: the selection overall, then per practice, programme and cohort."""
    return {
        "filters": dict(filters),
        "unit_costs_gbp": {
            "ae_attendance": costs.ae_attendance,
            "non_elective_admission": costs.non_elective_admission,
            "bed_day": costs.bed_day,
            "session": dict(costs.session),
            "sources": dict(costs.sources),
        },
        "summary": summarise({}, rows, costs),
        "by_practice": grouped(rows, costs, "practice"),
        "by_programme": grouped(rows, costs, "programme"),
        "by_cohort": grouped(rows, costs, "cohort"),
    }


PATIENT_CSV_COLUMNS = (
    "role",
    "nhs_number",
    "matched_to",
    "programme",
    "practice_ods",
    "band",
    "age_band",
    "index_date",
    "follow_up_days",
    *(f"before_{m}" for m in MEASURES),
    *(f"after_{m}_per_year" for m in MEASURES),
    "sessions",
    "pam_change",
    "repeat_medicines_change",
)


def patient_csv_row(row: PatientOutcome) -> list[str | int | float | None]:
    """One patient's line of the CSV export (`PATIENT_CSV_COLUMNS`)."""
    period = row.period
    after = period.after
    return [
        row.role,
        row.nhs_number,
        row.matched_to,
        row.programme,
        row.practice_ods,
        row.band,
        row.age_band,
        period.index_date.isoformat(),
        period.follow_up_days,
        *(int(getattr(period.before, m)) for m in MEASURES),
        *(None if after is None else round(getattr(after, m), 2) for m in MEASURES),
        row.sessions if row.role == "enrolled" else None,
        row.pam_change,
        row.medicines_change,
    ]

"""Cohorts as data: a saved definition (one TOML file per cohort) of who belongs, read from
what scoring knows of each patient: the profile, hospital use and the current score.

    format = 1
    name = "obesity_anxiety_frailty"
    title = "Obesity, anxiety and frailty"
    rationale = "NAPC: the groups that respond best to health coaching"
    when = [
        { field = "obese", equals = true },
        { field = "anxiety", equals = true },
        { field = "efi", above = 0.12 },
    ]

A patient is a member when every criterion of `when` holds; a field that is not known does not
hold. A definition with a TOML error, an unknown key or field, or a comparison its field cannot
take is refused whole, each problem with its line.
"""

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import Any, Final, Literal

from scoring.domain.inputs import exact
from scoring.domain.model import BANDS, band_rank
from scoring.domain.model_checks import suggestion
from scoring.domain.patient import HospitalUse, PatientProfile, age_on
from scoring.domain.toml_lines import key_lines, line_of

Kind = Literal["number", "flag", "band"]
Value = int | Fraction | bool | str
COMPARISONS: Final[dict[Kind, tuple[str, ...]]] = {
    "number": ("at_least", "above", "at_most", "below", "equals"),
    "flag": ("equals",),
    "band": ("at_least", "at_most", "equals"),
}
_TOP_KEYS: Final = ("format", "name", "title", "rationale", "source", "when")
_NAME_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")
FRAIL_EFI: Final = Fraction(3, 25)  # eFI > 0.12: mild frailty or worse (Clegg et al. 2016)
OBESE_BMI: Final = 30


@dataclass(frozen=True)
class Facts:
    """What a cohort reads of one patient."""

    profile: PatientProfile | None
    use: HospitalUse
    band: str | None
    score: int | None
    domains: tuple[str, ...]
    today: date


def _profile(read: Callable[[PatientProfile], Any]) -> Callable[[Facts], Any]:
    return lambda facts: None if facts.profile is None else read(facts.profile)


def _has(code: str) -> Callable[[Facts], bool | None]:
    def read(facts: Facts) -> bool | None:
        conditions = facts.profile.conditions if facts.profile else None
        return None if conditions is None else code in conditions

    return read


def _obese(facts: Facts) -> bool | None:
    profile = facts.profile
    if profile is None or (profile.bmi is None and profile.conditions is None):
        return None
    return (profile.bmi is not None and profile.bmi >= OBESE_BMI) or (
        "obesity" in (profile.conditions or frozenset())
    )


def _efi(facts: Facts) -> Fraction | int | None:
    profile = facts.profile
    if profile is None:
        return None
    if profile.efi_deficits is not None:
        return Fraction(profile.efi_deficits, 36)
    return None if profile.efi is None else exact(profile.efi)


def _frail(facts: Facts) -> bool | None:
    efi = _efi(facts)
    return None if efi is None else efi > FRAIL_EFI


def _age(facts: Facts) -> int | None:
    born = facts.profile.birth_date if facts.profile else None
    return None if born is None else age_on(born, facts.today)


FIELDS: Final[dict[str, tuple[Kind, Callable[[Facts], Any], str]]] = {
    "band": ("band", lambda f: f.band, "the current risk band"),
    "score": ("number", lambda f: f.score, "the current score"),
    "risk_domains": ("number", lambda f: len(f.domains), "domains the score has points in"),
    "emergency_admissions_12m": ("number", lambda f: f.use.emergency_admissions, "admissions"),
    "ae_attendances_12m": ("number", lambda f: f.use.ae_attendances, "A&E attendances"),
    "bed_days_12m": ("number", lambda f: f.use.bed_days, "bed days in 12 months"),
    "currently_inpatient": ("flag", lambda f: f.use.inpatient, "in hospital now"),
    "age": ("number", _age, "age in years"),
    "repeat_medicines": ("number", _profile(lambda p: p.repeat_medicines), "repeat medicines"),
    "efi": ("number", _efi, "electronic frailty index"),
    "frail": ("flag", _frail, "eFI above 0.12"),
    "bmi": ("number", _profile(lambda p: None if p.bmi is None else exact(p.bmi)), "BMI"),
    "obese": ("flag", _obese, "BMI 30 or more, or obesity coded"),
    "anxiety": ("flag", _has("anxiety"), "anxiety coded"),
    "depression": ("flag", _has("depression"), "depression coded"),
    "pam_level": ("number", _profile(lambda p: p.pam_level), "PAM level 1-4"),
    "deprivation_quintile": ("number", _profile(lambda p: p.deprivation_quintile), "IMD"),
    "lives_alone": ("flag", _profile(lambda p: p.lives_alone), "lives alone"),
    "socially_isolated": ("flag", _profile(lambda p: p.socially_isolated), "isolated"),
    "is_carer": ("flag", _profile(lambda p: p.is_carer), "unpaid carer"),
    "current_smoker": (
        "flag",
        _profile(lambda p: None if p.smoking is None else p.smoking == "current"),
        "smokes now",
    ),
    "on_caseload": ("flag", _profile(lambda p: p.on_caseload), "on a caseload"),
}


@dataclass(frozen=True)
class Criterion:
    field: str
    comparison: str
    value: Value

    def holds(self, facts: Facts) -> bool:
        kind, read, _ = FIELDS[self.field]
        known = read(facts)
        if known is None:
            return False
        wanted: Value = self.value
        if kind == "band":
            known, wanted = band_rank(known), band_rank(self.value)  # type: ignore[arg-type]
        if self.comparison == "equals":
            return bool(known == wanted)
        if isinstance(known, bool) or isinstance(wanted, bool | str):
            return False
        return bool(
            {
                "at_least": known >= wanted,
                "above": known > wanted,
                "at_most": known <= wanted,
                "below": known < wanted,
            }[self.comparison]
        )


@dataclass(frozen=True)
class Cohort:
    name: str
    title: str
    when: tuple[Criterion, ...]
    rationale: str = ""

    def includes(self, facts: Facts) -> bool:
        return all(criterion.holds(facts) for criterion in self.when)


class CohortFileError(ValueError):
    """A refused definition: every problem, each with its line (`line N: ...`)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def read_cohort(text: str) -> Cohort:
    """A checked cohort from a definition's text; CohortFileError says what is wrong where."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise CohortFileError([f"not valid TOML: {error}"]) from None
    lines = key_lines(text)
    problems: list[str] = []

    def problem(path: tuple[str | int, ...], message: str) -> None:
        line = line_of(lines, path)
        problems.append(f"line {line}: {message}" if line else message)

    for key in data:
        if key not in _TOP_KEYS:
            problem((key,), f"unknown key {key!r}{suggestion(key, _TOP_KEYS)}")
    if data.get("format") != 1:
        problem(("format",), "format must be 1")
    name, title = data.get("name"), data.get("title")
    if not isinstance(name, str) or not name or not set(name) <= _NAME_CHARS or len(name) > 60:
        problem(("name",), "name must be 1-60 lower-case letters, digits and _")
    if not isinstance(title, str) or not title.strip() or len(title) > 200:
        problem(("title",), "title must be a non-empty string of at most 200 characters")
    when = data.get("when")
    criteria: list[Criterion] = []
    if not isinstance(when, list) or not when:
        problem(("when",), "when must be a non-empty list of criteria")
    else:
        for index, raw in enumerate(when):
            found = _criterion(raw, (("when", index)), problem)
            if found is not None:
                criteria.append(found)
    if problems:
        raise CohortFileError(problems)
    rationale = data.get("rationale")
    return Cohort(str(name), str(title), tuple(criteria), str(rationale or ""))


def _criterion(
    raw: Any, path: tuple[str | int, ...], problem: Callable[[tuple[str | int, ...], str], None]
) -> Criterion | None:
    if not isinstance(raw, Mapping):
        problem(path, "a criterion is a table: { field = ..., at_least = ... }")
        return None
    field = raw.get("field")
    if not isinstance(field, str) or field not in FIELDS:
        hint = suggestion(str(field), FIELDS)
        problem((*path, "field"), f"unknown field {field!r}{hint}")
        return None
    kind = FIELDS[field][0]
    allowed = COMPARISONS[kind]
    given = [key for key in raw if key != "field"]
    comparisons = [key for key in given if key in allowed]
    for key in given:
        if key not in allowed:
            problem((*path, key), f"field {field!r} takes {', '.join(allowed)}, not {key!r}")
    if len(comparisons) != 1:
        if not [k for k in given if k not in allowed]:
            problem(path, f"a criterion takes one comparison: {', '.join(allowed)}")
        return None
    comparison = comparisons[0]
    value = raw[comparison]
    if kind == "flag" and not isinstance(value, bool):
        problem((*path, comparison), "must be true or false")
        return None
    if kind == "band" and value not in BANDS:
        problem((*path, comparison), f"must be one of {', '.join(BANDS)}")
        return None
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            problem((*path, comparison), "must be a number")
            return None
        value = exact(value)
    return Criterion(field, comparison, value)

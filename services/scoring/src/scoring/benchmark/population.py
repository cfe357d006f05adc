"""A synthetic practice population that looks like England's: seeded, so the same seed gives the
same people.

Ages follow a GP list (about a fifth children, one in six 65 or over); each long-term
condition is drawn at roughly its QOF register prevalence for the age band, so multimorbidity
gathers in the old; repeat medicines and frailty deficits follow the conditions; BMI,
smoking, PAM and social facts are recorded for the share of patients a practice usually has
them for. Hospital use is concentrated as it is in life: A&E attendances and emergency
admissions rise with conditions and age, admissions have stays (a few still open) and some
events fall outside the 12-month window. NHS numbers are from the 999 test range (then 998
beyond 909,000 patients); none is a real person's.
"""

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from ensemble_contracts.nhs_number import check_digit

# Age bands: (lowest age, highest age, share of the list).
AGE_BANDS = ((0, 17, 0.21), (18, 39, 0.28), (40, 64, 0.34), (65, 79, 0.12), (80, 100, 0.05))
# Per-cent prevalence by age band (0-17, 18-39, 40-64, 65-79, 80+), after QOF registers.
PREVALENCE: dict[str, tuple[float, ...]] = {
    "hypertension": (0.0, 2.5, 15.0, 40.0, 55.0),
    "diabetes": (0.2, 1.5, 8.0, 17.0, 18.0),
    "chd": (0.0, 0.1, 2.5, 9.0, 15.0),
    "copd": (0.0, 0.2, 1.8, 5.5, 7.0),
    "ckd": (0.0, 0.2, 2.0, 10.0, 25.0),
    "cancer": (0.1, 0.6, 3.0, 8.0, 12.0),
    "stroke": (0.0, 0.1, 1.0, 4.0, 8.0),
    "heart_failure": (0.0, 0.0, 0.4, 2.5, 7.0),
    "dementia": (0.0, 0.0, 0.1, 1.5, 10.0),
    "depression": (1.0, 12.0, 15.0, 12.0, 11.0),
    "anxiety": (2.0, 9.0, 9.0, 6.0, 5.0),
    "severe_mental_illness": (0.0, 1.0, 1.2, 1.0, 0.8),
    "asthma": (9.0, 7.0, 6.5, 6.5, 6.0),
    "obesity": (2.0, 6.0, 10.0, 10.0, 5.0),
}
CONDITION_NAMES = tuple(PREVALENCE)
FACILITIES = ("RCB", "RR8", "RWA")  # hospitals a list's patients go to
WINDOW_DAYS = 365


@dataclass(frozen=True)
class Visit:
    """One hospital visit: an A&E attendance, or an emergency admission with its stay."""

    facility: str
    visit_number: str
    kind: str  # "ae" or "admission"
    at: datetime
    discharged_at: datetime | None = None  # an admission still open: None


@dataclass
class Person:
    nhs_number: str
    profile: dict[str, Any]  # the `patients` columns a practice extract gives
    visits: list[Visit] = field(default_factory=list)


def nhs_numbers(count: int) -> Iterator[str]:
    """Valid (modulus 11) numbers, in order, from the test range (999, then 998...)."""
    made = 0
    for block in range(999, 900, -1):
        for serial in range(1_000_000):
            stem = f"{block}{serial:06d}"
            check = check_digit(stem)
            if check is None or len(set(f"{stem}{check}")) == 1:
                continue
            yield f"{stem}{check}"
            made += 1
            if made == count:
                return


def _band(age: int) -> int:
    return next(i for i, (low, high, _) in enumerate(AGE_BANDS) if low <= age <= high)


def _poisson(rng: random.Random, mean: float) -> int:
    threshold, count, product = math.exp(-mean), 0, rng.random()
    while product > threshold:
        count += 1
        product *= rng.random()
    return count


class Population:
    """People drawn one after another from `seed`, as of `today` (event times from `now`)."""

    def __init__(self, seed: int, now: datetime, practices: int) -> None:
        self.rng = random.Random(seed)
        self.now = now
        self.today = now.date()
        self.practices = [f"P{81000 + n}" for n in range(practices)]
        self._shares = [share for *_, share in AGE_BANDS]
        self._visits = 0

    def people(self, count: int) -> Iterator[Person]:
        for nhs_number in nhs_numbers(count):
            yield self.person(nhs_number)

    def person(self, nhs_number: str) -> Person:
        rng = self.rng
        low, high, _ = rng.choices(AGE_BANDS, self._shares)[0]
        age = rng.randint(low, high)
        band = _band(age)
        conditions = sorted(c for c in CONDITION_NAMES if rng.random() * 100 < PREVALENCE[c][band])
        serious = sum(c not in ("asthma", "hypertension", "obesity") for c in conditions)
        adult, old = age >= 18, age >= 65
        birth = self.today - timedelta(days=age * 365 + rng.randint(0, 364))
        profile: dict[str, Any] = {
            "practice_ods": rng.choice(self.practices),
            "birth_date": birth,
            "conditions": conditions,
            "repeat_medicines": min(40, _poisson(rng, 0.3 + 1.7 * len(conditions) + age / 40)),
            "efi_deficits": min(36, _poisson(rng, 1 + 2.2 * len(conditions))) if old else None,
            "deprivation_quintile": rng.randint(1, 5),
            "bmi": round(rng.gauss(27.5, 5.5), 1) if adult and rng.random() < 0.7 else None,
            "smoking": self._smoking() if adult and rng.random() < 0.85 else None,
            "pam_level": rng.randint(1, 4) if serious and rng.random() < 0.15 else None,
            "lives_alone": (rng.random() < (0.3 if old else 0.1)) if rng.random() < 0.5 else None,
            "socially_isolated": True if old and rng.random() < 0.06 else None,
            "is_carer": True if adult and rng.random() < 0.07 else None,
            "as_of": self.today,
        }
        if profile["bmi"] is not None:
            profile["bmi"] = min(80.0, max(14.0, profile["bmi"]))
        person = Person(nhs_number, profile)
        ae_rate = 0.2 + 0.12 * len(conditions) + (0.35 if age >= 80 else 0.0)
        admission_rate = 0.02 + 0.07 * serious + (0.25 if age >= 80 else 0.05 if old else 0.0)
        for _ in range(_poisson(rng, ae_rate * 1.15)):  # over ~14 months: some age out
            person.visits.append(self._visit("ae", rng.randint(1, 420)))
        for _ in range(_poisson(rng, admission_rate * 1.15)):
            person.visits.append(self._visit("admission", rng.randint(1, 420), old))
        return person

    def _smoking(self) -> str:
        draw = self.rng.random()
        return "current" if draw < 0.13 else "ex" if draw < 0.38 else "never"

    def _visit(self, kind: str, days_ago: int, old: bool = False) -> Visit:
        rng = self.rng
        self._visits += 1
        at = self.now - timedelta(days=days_ago, minutes=rng.randint(0, 1439))
        number = f"V{self._visits:09d}"
        facility = rng.choice(FACILITIES)
        if kind == "ae":
            return Visit(facility, number, kind, at)
        stay = timedelta(
            days=min(120, _poisson(rng, 7.0 if old else 3.0)), hours=rng.randint(1, 20)
        )
        out = at + stay
        return Visit(facility, number, kind, at, None if out >= self.now else out)

    def changed(self, person: Person, as_of: date) -> dict[str, Any]:
        """A later extract's line for the person: one in twenty has moved on (a new
        condition, more medicines, a new BMI), the rest are as before."""
        line = {**person.profile, "as_of": as_of}
        rng = self.rng
        if rng.random() < 0.05:
            what = rng.random()
            if what < 0.4:
                extra = rng.choice(CONDITION_NAMES)
                line["conditions"] = sorted({*line["conditions"], extra})
            elif what < 0.8:
                line["repeat_medicines"] = (line["repeat_medicines"] or 0) + rng.randint(1, 4)
            else:
                line["bmi"] = round(min(80.0, max(14.0, rng.gauss(29.0, 6.0))), 1)
        person.profile = line
        return line

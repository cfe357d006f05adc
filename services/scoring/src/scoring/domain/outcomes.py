"""One patient's outcomes around an index date (enrolment, or the matched enrolment's date for
a comparison patient): A&E attendances, emergency admissions and bed days in the 12 months
before vs after, the after pro-rated to 12 months while follow-up is shorter; PAM level and
repeat-medicine change. Pure: the store hands over events and stays, this does the arithmetic.

Windows are half-open days of UTC midnights: before is [index - 365 days, index), after is
[index, index + follow-up). An event on the index day counts after. Bed days are midnights in
a bed (domain/stays.py), so a midnight is in exactly one window.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final, Literal

from scoring.domain.patient import age_on
from scoring.domain.stays import Stay, midnights

YEAR_DAYS: Final = 365
# Below this much follow-up a pro-rated year is mostly noise: counted, but not in the averages.
MIN_FOLLOW_UP_DAYS: Final = 30
# Age bands for matching (inclusive bounds; None: no upper bound).
AGE_BANDS: Final = ((0, 17), (18, 44), (45, 64), (65, 74), (75, 84), (85, None))

HospitalKind = Literal["ae", "admission"]


@dataclass(frozen=True)
class HospitalEvent:
    """A non-cancelled A&E attendance or emergency admission, and when it happened."""

    kind: HospitalKind
    at: datetime


@dataclass(frozen=True)
class Use:
    """Hospital use in a period: counts, or rates per 12 months once pro-rated."""

    ae_attendances: float = 0.0
    emergency_admissions: float = 0.0
    bed_days: float = 0.0

    def scaled(self, factor: float) -> "Use":
        return Use(
            self.ae_attendances * factor,
            self.emergency_admissions * factor,
            self.bed_days * factor,
        )

    def minus(self, other: "Use") -> "Use":
        return Use(
            self.ae_attendances - other.ae_attendances,
            self.emergency_admissions - other.emergency_admissions,
            self.bed_days - other.bed_days,
        )


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def use_between(
    events: Iterable[HospitalEvent], stays: Iterable[Stay], start: datetime, end: datetime
) -> Use:
    """Events in [start, end) and bed days (midnights) in (start, end]; an open stay counts
    up to `end`."""
    ae = admissions = 0
    for event in events:
        if start <= event.at < end:
            if event.kind == "ae":
                ae += 1
            else:
                admissions += 1
    days = 0
    for stay in stays:
        for begun, ended in stay.intervals:
            days += midnights(max(begun, start), end if ended is None or ended > end else ended)
    return Use(ae, admissions, days)


def follow_up_days(index: date, today: date) -> int:
    """Days of follow-up so far, at most a year (0 for an index date in the future)."""
    return max(0, min(YEAR_DAYS, (today - index).days))


def pro_rated(observed: Use, days: int) -> Use:
    """Counts over `days` as a rate per 12 months."""
    if days <= 0:
        raise ValueError("no follow-up to pro-rate")
    return observed.scaled(YEAR_DAYS / days)


@dataclass(frozen=True)
class PeriodOutcome:
    """Hospital use in the year before the index date and, pro-rated, after it."""

    index_date: date
    before: Use
    after_observed: Use
    follow_up_days: int
    after: Use | None  # per 12 months; None while follow-up is under the minimum

    @property
    def followed_up(self) -> bool:
        return self.after is not None


def period_outcome(
    index: date,
    today: date,
    events: Iterable[HospitalEvent],
    stays: Iterable[Stay],
    min_follow_up_days: int = MIN_FOLLOW_UP_DAYS,
) -> PeriodOutcome:
    events, stays = list(events), list(stays)
    start = midnight(index)
    before = use_between(events, stays, start - timedelta(days=YEAR_DAYS), start)
    days = follow_up_days(index, today)
    observed = use_between(events, stays, start, start + timedelta(days=days))
    enough = days >= max(1, min_follow_up_days)
    return PeriodOutcome(
        index, before, observed, days, pro_rated(observed, days) if enough else None
    )


@dataclass(frozen=True)
class Measured:
    """A value from the GP extract: at enrolment (the baseline) and as the latest extract says."""

    baseline: int | None
    baseline_as_of: date | None
    latest: int | None
    latest_as_of: date | None

    @property
    def change(self) -> int | None:
        """Latest minus baseline, once a newer extract than the baseline's gives the value."""
        if self.baseline is None or self.latest is None:
            return None
        if self.baseline_as_of is not None and (
            self.latest_as_of is None or self.latest_as_of <= self.baseline_as_of
        ):
            return None  # no extract since enrolment: nothing measured after it yet
        return self.latest - self.baseline


def age_band(birth_date: date, on: date) -> str:
    """The matching age band of someone born on `birth_date`, on the day `on`."""
    age = age_on(birth_date, on)
    for low, high in AGE_BANDS:
        if age >= low and (high is None or age <= high):
            return f"{low}+" if high is None else f"{low}-{high}"
    return "unborn"  # a birth date after the index date: matches no one but its like

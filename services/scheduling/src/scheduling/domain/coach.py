"""A coach: the languages they speak, their team, their home time zone, their weekly working
hours, leave and contracted whole-time equivalent (WTE) with its monthly target.

Working hours are wall-clock times in the coach's own zone ("09:00" in Mumbai is 09:00 IST all
year), so the UTC times they map to move when either side changes its clocks.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ensemble_contracts import limits
from scheduling.domain.languages import is_known

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60
_CLOCK = re.compile(r"^(\d{2}):(\d{2})$")
_COACH_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,49}$")
# BCP 47, simplified: a 2-3 letter primary language subtag, then optional subtags.
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{1,8})*$")
# What an appointment event carries (the contract's limit) and the store's zone column holds.
MAX_LANGUAGE = limits.LANGUAGE
MAX_ZONE = 64
# Health coaching and complex care are different teams: a referral goes to its own team.
TEAMS = ("health_coaching", "complex_care")
APPOINTMENTS_PER_WTE_MONTH = 400  # Modality's figure for a whole-time coach
MAX_LEAVE_PERIODS = 100


class InvalidCoach(ValueError):
    """Coach data that could not be scheduled against."""


def parse_clock(value: str, *, allow_midnight_end: bool = False) -> int:
    """ "HH:MM" → minutes after local midnight; "24:00" only as the end of a period."""
    match = _CLOCK.fullmatch(value)
    if match is None:
        raise InvalidCoach(f"time {value!r} is not HH:MM")
    minutes = int(match[1]) * 60 + int(match[2])
    limit = MINUTES_PER_DAY if allow_midnight_end else MINUTES_PER_DAY - 1
    if int(match[2]) > 59 or minutes > limit:
        raise InvalidCoach(f"time {value!r} is not a time of day")
    return minutes


def format_clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def normalise_language(tag: str) -> str:
    language = tag.strip().lower().replace("_", "-")
    if len(language) > MAX_LANGUAGE:
        raise InvalidCoach(f"a language tag is longer than {MAX_LANGUAGE} characters")
    if not _LANGUAGE.fullmatch(language):
        raise InvalidCoach(f"language {tag!r} is not a BCP 47 tag")
    if not is_known(language):
        raise InvalidCoach(f"language {tag!r} is not a known ISO 639 language")
    return language


def zone_named(name: str) -> ZoneInfo:
    if not 0 < len(name) <= MAX_ZONE:
        raise InvalidCoach(f"a time zone name is 1-{MAX_ZONE} characters")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as error:
        raise InvalidCoach(f"unknown IANA time zone {name!r}") from error


@dataclass(frozen=True, order=True)
class Period:
    """Working time on one local day: [start, end) in minutes after local midnight."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end <= MINUTES_PER_DAY:
            raise InvalidCoach("a working period must start before it ends, within one day")


@dataclass(frozen=True, order=True)
class Leave:
    """Days off, inclusive, as dates on the coach's own calendar."""

    first_day: date
    last_day: date

    def __post_init__(self) -> None:
        if self.last_day < self.first_day:
            raise InvalidCoach("leave must end on or after its first day")

    def covers(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day


@dataclass(frozen=True)
class Coach:
    coach_id: str
    display_name: str
    languages: tuple[str, ...]
    timezone: str
    # weekday ("mon".."sun") -> sorted, non-overlapping periods; a missing day is a day off
    weekly_hours: Mapping[str, tuple[Period, ...]] = field(default_factory=dict)
    active: bool = True
    team: str = "health_coaching"
    wte: float = 1.0
    monthly_target: int | None = None  # None: APPOINTMENTS_PER_WTE_MONTH x wte
    leave: tuple[Leave, ...] = ()

    def __post_init__(self) -> None:
        if not _COACH_ID.fullmatch(self.coach_id):
            raise InvalidCoach("coach_id must be 1-50 letters, digits, '_', '.' or '-'")
        if not self.display_name.strip() or len(self.display_name) > 100:
            raise InvalidCoach("display_name must be 1-100 characters")
        if not self.languages:
            raise InvalidCoach("a coach speaks at least one language")
        zone_named(self.timezone)
        for day, periods in self.weekly_hours.items():
            if day not in WEEKDAYS:
                raise InvalidCoach(f"weekday {day!r} is not one of {', '.join(WEEKDAYS)}")
            for before, after in pairwise(periods):
                if after.start < before.end:
                    raise InvalidCoach(f"working periods on {day} overlap")
        if self.team not in TEAMS:
            raise InvalidCoach(f"team must be one of {', '.join(TEAMS)}")
        if not 0 < self.wte <= 1.0:
            raise InvalidCoach("wte (whole-time equivalent) must be above 0 and at most 1.0")
        if self.monthly_target is not None and not 0 <= self.monthly_target <= 10_000:
            raise InvalidCoach("monthly_target must be 0-10000")
        if len(self.leave) > MAX_LEAVE_PERIODS:
            raise InvalidCoach(f"at most {MAX_LEAVE_PERIODS} leave periods")

    @property
    def target(self) -> int:
        """Appointments a month this coach is contracted for."""
        if self.monthly_target is not None:
            return self.monthly_target
        return round(APPOINTMENTS_PER_WTE_MONTH * self.wte)

    def on_leave(self, day: date) -> bool:
        return any(period.covers(day) for period in self.leave)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def speaks(self, language: str) -> bool:
        return language in self.languages

    def periods_on(self, weekday: int) -> tuple[Period, ...]:
        """Periods for a local weekday (Monday = 0)."""
        return self.weekly_hours.get(WEEKDAYS[weekday], ())

    def days_in_month(self, year: int, month: int) -> list[date]:
        first = date(year, month, 1)
        following = date(year + month // 12, month % 12 + 1, 1)
        return [date.fromordinal(n) for n in range(first.toordinal(), following.toordinal())]

    def working_minutes(self, year: int, month: int) -> int:
        """Contracted minutes in a local month, leave taken out (wall-clock minutes)."""
        return sum(
            p.end - p.start
            for day in self.days_in_month(year, month)
            if not self.on_leave(day)
            for p in self.periods_on(day.weekday())
        )

    def works(self, day: date, start: int, end: int) -> bool:
        """[start, end) minutes of local `day` lie inside one working period, not on leave."""
        if self.on_leave(day):
            return False
        return any(p.start <= start and end <= p.end for p in self.periods_on(day.weekday()))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Coach":
        """The published coach format; raises InvalidCoach with a reason."""
        try:
            hours: Mapping[str, Sequence[Sequence[str]]] = data.get("weekly_hours") or {}
            weekly = {
                str(day): tuple(sorted(_period(p) for p in periods))
                for day, periods in hours.items()
            }
            languages = tuple(dict.fromkeys(normalise_language(t) for t in data["languages"]))
            return cls(
                coach_id=str(data["coach_id"]),
                display_name=str(data["display_name"]),
                languages=languages,
                timezone=str(data["timezone"]),
                weekly_hours=weekly,
                active=bool(data.get("active", True)),
                team=str(data.get("team") or "health_coaching"),
                wte=float(data.get("wte", 1.0)),
                monthly_target=_optional_int(data.get("monthly_target")),
                leave=tuple(sorted(_leave(p) for p in data.get("leave") or ())),
            )
        except InvalidCoach:
            raise
        except KeyError as error:
            raise InvalidCoach(f"missing field {error.args[0]!r}") from error
        except (TypeError, AttributeError, ValueError) as error:
            raise InvalidCoach("coach does not have the expected shape") from error

    def to_json(self) -> dict[str, Any]:
        return {
            "coach_id": self.coach_id,
            "display_name": self.display_name,
            "languages": list(self.languages),
            "timezone": self.timezone,
            "weekly_hours": {
                day: [[format_clock(p.start), format_clock(p.end)] for p in periods]
                for day, periods in self.weekly_hours.items()
            },
            "active": self.active,
            "team": self.team,
            "wte": self.wte,
            "monthly_target": self.monthly_target,
            "leave": [[p.first_day.isoformat(), p.last_day.isoformat()] for p in self.leave],
        }


def _period(pair: Sequence[str]) -> Period:
    if isinstance(pair, str) or len(pair) != 2:
        raise InvalidCoach('a working period is ["HH:MM", "HH:MM"]')
    start, end = pair
    return Period(parse_clock(start), parse_clock(end, allow_midnight_end=True))


def _leave(pair: Sequence[str]) -> Leave:
    if isinstance(pair, str) or len(pair) != 2:
        raise InvalidCoach('leave is ["YYYY-MM-DD", "YYYY-MM-DD"] (first and last day)')
    try:
        first, last = date.fromisoformat(pair[0]), date.fromisoformat(pair[1])
    except (TypeError, ValueError) as error:
        raise InvalidCoach("leave days are YYYY-MM-DD dates") from error
    return Leave(first, last)


def _optional_int(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidCoach("monthly_target must be a whole number")
    return value

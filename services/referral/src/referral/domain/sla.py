"""SLA clocks: deadlines counted in working days (Monday to Friday, England bank holidays
excluded), per service, source and priority.

Days are counted on the London calendar (a referral made at 00:30 BST on a Monday is a
Monday referral) and the deadline keeps the local time of day, so a clock never shifts by
an hour across a change of summer time.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from typing import Final, Literal, get_args
from zoneinfo import ZoneInfo

import holidays

LONDON: Final = ZoneInfo("Europe/London")
Priority = Literal["urgent", "high", "routine"]
PRIORITIES: Final[tuple[Priority, ...]] = get_args(Priority)
# Which clock is running: triage of a new referral, consent and acceptance of a triaged one,
# the first contact (activation) of an accepted one.
Stage = Literal["triage", "acceptance", "activation"]
STAGES: Final[tuple[Stage, ...]] = get_args(Stage)


@cache
def _bank_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year))


def load_calendar(today: date) -> None:
    """Load this year's and next year's bank holidays now: the first lookup imports the
    holidays tables (about 0.4 s, seconds on a busy machine), which would otherwise stall
    the first referral a started service handles."""
    for year in (today.year, today.year + 1):
        _bank_holidays(year)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _bank_holidays(day.year)


def add_working_days(start: datetime, days: int) -> datetime:
    """`days` working days after `start` at the same London time of day (aware, UTC).

    Only working days are counted: Friday + 1 is Monday, and Saturday + 1 is Monday too.
    """
    if start.tzinfo is None:
        raise ValueError("an SLA clock needs an aware time")
    local = start.astimezone(LONDON)
    day = local.date()
    while days > 0:
        day += timedelta(days=1)
        if is_working_day(day):
            days -= 1
    deadline = datetime.combine(day, local.time().replace(tzinfo=None), tzinfo=LONDON)
    return deadline.astimezone(start.tzinfo)


def _triage_defaults() -> dict[str, int]:
    # Hot-onboarding proposals are triaged while the patient is still in hospital.
    return {"hot_onboarding": 2, "gp": 5}


def _stage_defaults() -> dict[str, dict[str, int]]:
    return {
        "urgent": {"acceptance": 2, "activation": 3},
        "high": {"acceptance": 5, "activation": 10},
        "routine": {"acceptance": 10, "activation": 20},
    }


@dataclass(frozen=True)
class SlaPolicy:
    """Working days per clock. `triage[source]`; `stages[priority][stage]`. A service named in
    `services` overrides either table for that service (missing entries fall back)."""

    triage: Mapping[str, int] = field(default_factory=_triage_defaults)
    stages: Mapping[str, Mapping[str, int]] = field(default_factory=_stage_defaults)
    services: Mapping[str, "SlaPolicy"] = field(default_factory=dict)

    def triage_days(self, service: str, source: str) -> int:
        own = self.services.get(service)
        if own is not None and source in own.triage:
            return own.triage[source]
        return self.triage[source]

    def stage_days(self, service: str, priority: str, stage: str) -> int:
        own = self.services.get(service)
        if own is not None and stage in own.stages.get(priority, {}):
            return own.stages[priority][stage]
        return self.stages[priority][stage]

    @classmethod
    def from_mapping(cls, raw: Mapping[str, object]) -> "SlaPolicy":
        """{"triage": {...}, "stages": {...}, "services": {"complex_care": {...}}}: every
        value a whole number of days, >= 0 (ValueError otherwise, so a bad setting refuses to
        start rather than running a wrong clock)."""
        base = cls()
        triage = {**base.triage, **_days(raw.get("triage", {}), "triage")}
        stages: dict[str, dict[str, int]] = {p: dict(s) for p, s in base.stages.items()}
        for priority, table in _table(raw.get("stages", {}), "stages").items():
            if priority not in PRIORITIES:
                raise ValueError(f"unknown priority {priority!r} in the SLA policy")
            stages[priority].update(_days(table, f"stages.{priority}"))
        services = {
            name: cls._override(_table(table, f"services.{name}"))
            for name, table in _table(raw.get("services", {}), "services").items()
        }
        return cls(triage=triage, stages=stages, services=services)

    @classmethod
    def _override(cls, raw: Mapping[str, object]) -> "SlaPolicy":
        stages = {
            priority: _days(table, f"stages.{priority}")
            for priority, table in _table(raw.get("stages", {}), "stages").items()
        }
        return cls(triage=_days(raw.get("triage", {}), "triage"), stages=stages)


def _table(value: object, where: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise ValueError(f"SLA policy {where} must be an object")
    return value


def _days(value: object, where: str) -> dict[str, int]:
    days: dict[str, int] = {}
    for key, number in _table(value, where).items():
        if key not in ("gp", "hot_onboarding", *STAGES):
            raise ValueError(f"unknown clock {key!r} in SLA policy {where}")
        if not isinstance(number, int) or isinstance(number, bool) or number < 0:
            raise ValueError(f"SLA policy {where}.{key} must be a whole number of days >= 0")
        days[key] = number
    return days

"""Huddles: a care team meets on a date and works through what happened since it last met.

A team is a service (health coaching, complex care), for every practice or for one
(`complex_care` or `complex_care.L85001`). Its caseload is its accepted and active
referrals. What the team should hear about is kept as a *signal* when it happens, tied to
the referral it is about: an admission, A&E attendance or discharge of a caseload patient, a
rise of their risk band, a missed session (DNA), an SLA breach of one of its referrals, a
new hot-onboarding proposal. An event about a patient who is not on a caseload at that
moment is no signal at all.

A huddle's agenda is the team's signals recorded since its previous huddle (windows follow
one another, so nothing falls between two huddles). Actions have an owner from the team and
a due date; an action still open when a later huddle opens is carried over to it.
"""

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Final, Literal, get_args
from uuid import UUID, uuid4

from referral.domain.referral import SERVICES, Referral, Service, Status
from referral.domain.sla import LONDON

SignalKind = Literal[
    "admitted", "ae_attendance", "discharged", "band_rise", "dna", "sla_breach", "proposal"
]
SIGNAL_KINDS: Final[tuple[SignalKind, ...]] = get_args(SignalKind)  # also the agenda's order
_RANK: Final[dict[str, int]] = {kind: rank for rank, kind in enumerate(SIGNAL_KINDS)}
TITLES: Final[dict[SignalKind, str]] = {
    "admitted": "Admitted",
    "ae_attendance": "A&E attendance",
    "discharged": "Discharged",
    "band_rise": "Risk band rose",
    "dna": "Did not attend",
    "sla_breach": "SLA breached",
    "proposal": "Hot-onboarding proposal",
}
CASELOAD_STATUSES: Final[tuple[Status, ...]] = ("accepted", "active")
BAND_RANK: Final = {"low": 0, "moderate": 1, "high": 2, "very_high": 3}
# A team's first huddle looks this far back (it has no previous huddle to start from).
FIRST_LOOKBACK: Final = timedelta(days=7)
# A signal's time is taken before its transaction commits: one committing just after a huddle
# chose its items may carry a time before that huddle's cutoff. The next huddle looks back
# this much further, skipping what an earlier huddle of the team already has.
LATE_COMMIT: Final = timedelta(minutes=10)
# How far ahead a huddle may be opened (to prepare it): a mistyped year would otherwise be the
# team's latest huddle and refuse every real one before it.
OPEN_AHEAD: Final = timedelta(days=7)
ACTION_TEXT: Final = 500
PERSON_ID: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")  # as assignments take them
_TEAM = re.compile(r"^(?P<service>[a-z_]+)(?:\.(?P<practice>[A-Za-z0-9]{3,12}))?$")


class HuddleError(Exception):
    """A huddle rule said no; nothing was changed."""


class InvalidTeam(HuddleError, ValueError):
    def __init__(self) -> None:
        super().__init__(
            f"team must be a service ({', '.join(SERVICES)}), optionally followed by "
            "'.' and a practice's ODS code, e.g. complex_care.L85001"
        )


class UnknownOwner(HuddleError, ValueError):
    def __init__(self, owner_id: str) -> None:
        super().__init__(f"{owner_id!r} is not a known member of this team")
        self.owner_id = owner_id


class PastDueDate(HuddleError, ValueError):
    def __init__(self, today: date) -> None:
        super().__init__(f"an action cannot be due before today ({today.isoformat()})")


class TooFarAhead(HuddleError, ValueError):
    def __init__(self, latest_allowed: date) -> None:
        super().__init__(
            "a huddle can be opened at most 7 days ahead "
            f"(on or before {latest_allowed.isoformat()}, London)"
        )


class LaterHuddleExists(HuddleError):
    def __init__(self, latest: date) -> None:
        super().__init__(
            f"the team already met on {latest.isoformat()}: a huddle cannot be opened before it"
        )


@dataclass(frozen=True)
class Team:
    service: Service
    practice_ods: str | None = None

    @property
    def key(self) -> str:
        return self.service if self.practice_ods is None else f"{self.service}.{self.practice_ods}"

    def covers(self, service: str, practice_ods: str) -> bool:
        return service == self.service and self.practice_ods in (None, practice_ods)


def parse_team(raw: str) -> Team:
    found = _TEAM.match(raw.strip())
    if found is None:
        raise InvalidTeam
    for service in SERVICES:
        if found["service"] == service:
            practice = found["practice"]
            return Team(service, practice.upper() if practice else None)
    raise InvalidTeam


def encounter_kind(event_type: str) -> SignalKind | None:
    """The encounter types a huddle hears about (transfers and leave are not news to it)."""
    return {
        "encounter.admitted": "admitted",
        "encounter.ae_attendance": "ae_attendance",
        "encounter.discharged": "discharged",
    }.get(event_type)  # type: ignore[return-value]


def band_rose(previous: str | None, band: str) -> bool:
    """A rise to a higher band; a first score (no previous band) is not a rise."""
    if previous is None or previous not in BAND_RANK or band not in BAND_RANK:
        return False
    return BAND_RANK[band] > BAND_RANK[previous]


def on_caseload(referral: Referral, published_at: datetime) -> bool:
    """The referral is on its team's caseload now, and already existed when the event was
    published (an old event replayed does not become news about a newer referral)."""
    return referral.status in CASELOAD_STATUSES and referral.created_at <= published_at


@dataclass(frozen=True)
class Signal:
    """Something a team should hear about, as referral recorded it (no free text, no names)."""

    event_id: UUID
    referral_id: UUID
    nhs_number: str
    service: str
    practice_ods: str
    kind: SignalKind
    occurred_at: datetime
    recorded_at: datetime
    detail: str
    signal_id: UUID = field(default_factory=uuid4)

    @classmethod
    def about(
        cls,
        referral: Referral,
        *,
        kind: SignalKind,
        event_id: UUID,
        occurred_at: datetime,
        now: datetime,
        detail: str = "",
    ) -> "Signal":
        return cls(
            event_id=event_id,
            referral_id=referral.referral_id,
            nhs_number=referral.nhs_number,
            service=referral.service,
            practice_ods=referral.practice_ods,
            kind=kind,
            occurred_at=min(occurred_at, now),
            recorded_at=now,
            detail=detail[:200],
        )


@dataclass
class Huddle:
    team: str
    huddle_date: date
    opened_at: datetime
    opened_by: str
    window_start: datetime  # signals recorded after this ...
    cutoff: datetime  # ... and up to this are on the agenda
    huddle_id: UUID = field(default_factory=uuid4)

    @classmethod
    def open(
        cls, team: Team, on: date, *, now: datetime, by: str, previous: "Huddle | None"
    ) -> "Huddle":
        """The next huddle of the team: it starts where the previous one's agenda ended."""
        latest_allowed = now.astimezone(LONDON).date() + OPEN_AHEAD
        if on > latest_allowed:
            raise TooFarAhead(latest_allowed)
        if previous is not None and on < previous.huddle_date:
            raise LaterHuddleExists(previous.huddle_date)
        start = previous.cutoff if previous is not None else now - FIRST_LOOKBACK
        return cls(team.key, on, now, by[:100], start, now)


def in_window(signal: Signal, huddle: Huddle, team: Team) -> bool:
    """Whether a signal belongs on this huddle's agenda (the store asks the same)."""
    return huddle.window_start < signal.recorded_at <= huddle.cutoff and team.covers(
        signal.service, signal.practice_ods
    )


def agenda_order(kind: str, occurred_at: datetime) -> tuple[int, datetime]:
    """Hospital news first, then band rises, DNAs, breaches and proposals; oldest first."""
    return (_RANK.get(kind, len(_RANK)), occurred_at)


@dataclass
class Action:
    huddle_id: UUID
    item_id: UUID
    team: str
    text: str
    owner_id: str
    owner_name: str
    due_on: date
    created_at: datetime
    created_by: str
    done_at: datetime | None = None
    done_by: str | None = None
    action_id: UUID = field(default_factory=uuid4)

    @classmethod
    def assign(
        cls,
        *,
        huddle: Huddle,
        item_id: UUID,
        text: str,
        owner_id: str,
        members: dict[str, str],
        due_on: date,
        today: date,
        now: datetime,
        by: str,
    ) -> "Action":
        """An action for a known member of the team, due today or later."""
        if owner_id not in members:
            raise UnknownOwner(owner_id)
        if due_on < today:
            raise PastDueDate(today)
        return cls(
            huddle.huddle_id,
            item_id,
            huddle.team,
            text[:ACTION_TEXT],
            owner_id,
            members[owner_id],
            due_on,
            now,
            by[:100],
        )

    @property
    def is_open(self) -> bool:
        return self.done_at is None

    def mark_done(self, *, by: str, now: datetime) -> None:
        """Done once: marking a done action again keeps who did it and when."""
        if self.done_at is None:
            self.done_at, self.done_by = now, by[:100]

    def carries_over_to(self, huddle: Huddle, raised_on: date) -> bool:
        """Raised at an earlier huddle of the team and still open when this one opened."""
        return (
            self.team == huddle.team
            and raised_on < huddle.huddle_date
            and (self.done_at is None or self.done_at > huddle.opened_at)
        )

"""Choosing who sees a patient, and when.

Rules, in order: the referral's team only (health coaching and complex care are different
teams); a coach who speaks the patient's preferred language (the exact tag, then its primary
language, then English when the language is unknown or nobody in the team speaks it);
continuity (the coach of the patient's earlier sessions, when they have a free slot and the
patient has not asked for someone else); otherwise the earliest free slot inside the patient's
hours; a tie goes to the coach with the fewest bookings that week. A coach is never given two
overlapping appointments, nor more than their monthly target in one (coach-local) month.
"""

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from scheduling.domain.coach import Coach
from scheduling.domain.slots import PatientDay, Slot, SlotPolicy, candidate_slots

FALLBACK_LANGUAGE = "en"


@dataclass(frozen=True)
class Booking:
    """Time a coach already has taken (any appointment that is not cancelled)."""

    coach_id: str
    starts_at: datetime
    ends_at: datetime

    def overlaps(self, slot: Slot) -> bool:
        return self.starts_at < slot.ends_at and slot.starts_at < self.ends_at


@dataclass(frozen=True)
class Choice:
    coach_id: str
    slot: Slot
    language: str  # the language the appointment is held in


class WaitingReason(StrEnum):
    NO_COACH_FOR_LANGUAGE = "no_coach_for_language"
    NO_FREE_SLOT = "no_free_slot_in_horizon"


@dataclass(frozen=True)
class Need:
    """What one booking asks for beyond the language: the team, continuity, where and when."""

    team: str | None = None  # None: any team (rosters without teams)
    previous_coach: str | None = None  # continuity: the coach of earlier sessions
    avoid_coaches: frozenset[str] = field(default_factory=frozenset)  # the patient asked
    window: tuple[datetime, datetime] | None = None  # None: the policy's window from now
    patient_day: PatientDay | None = None  # None: the policy's default patient day


def language_preferences(preferred: str | None) -> list[str]:
    """`pa-IN` → [`pa-in`, `pa`, `en`]; nothing known → [`en`]."""
    wanted: list[str] = []
    if preferred and preferred.strip():
        tag = preferred.strip().lower().replace("_", "-")
        wanted += [tag, tag.split("-", 1)[0]]
    wanted.append(FALLBACK_LANGUAGE)
    return list(dict.fromkeys(wanted))


def coaches_for(
    coaches: Iterable[Coach], preferred: str | None, team: str | None = None
) -> tuple[str, list[Coach]]:
    """The language to use and the team's active coaches who speak it (empty when nobody)."""
    active = [c for c in coaches if c.active and (team is None or c.team == team)]
    for language in language_preferences(preferred):
        speakers = [c for c in active if c.speaks(language)]
        if speakers:
            return language, speakers
    return FALLBACK_LANGUAGE, []


def month_of(coach: Coach, moment: datetime) -> tuple[int, int]:
    local = moment.astimezone(coach.zone)
    return local.year, local.month


def earliest_free_slot(
    coach: Coach,
    taken: Sequence[Booking],
    policy: SlotPolicy,
    now: datetime,
    need: Need | None = None,
) -> Slot | None:
    """`taken` holds this coach's bookings sorted by start (covering whole months, so the
    monthly target can be checked)."""
    need = need or Need()
    per_month = Counter(month_of(coach, b.starts_at) for b in taken)
    starts = [b.starts_at for b in taken]

    def no_room(opening: datetime, closing: datetime) -> bool:
        """A working period of a full month, or one booked from end to end, holds no free
        slot: it is passed over without trying each of its slots (the cost of a full diary)."""
        if per_month[month_of(coach, opening)] >= coach.target:
            return True
        return period_is_full(taken, starts, opening, closing, policy.length)

    index = 0
    for slot in candidate_slots(coach, policy, now, need.window, need.patient_day, no_room):
        if per_month[month_of(coach, slot.starts_at)] >= coach.target:
            continue  # the coach's month is full
        # Bookings that end by this slot's start end before every later slot too.
        while index < len(taken) and taken[index].ends_at <= slot.starts_at:
            index += 1
        if not _overlapped(taken, index, slot):
            return slot
    return None


def period_is_full(
    taken: Sequence[Booking],
    starts: Sequence[datetime],
    opening: datetime,
    closing: datetime,
    length: timedelta,
) -> bool:
    """Whether bookings inside [opening, closing) leave no slot of `length` free on its grid.

    The period has n = (closing - opening) // length slots. A free one at opening + k * length
    leaves room for at most k + (n - k - 1) = n - 1 disjoint bookings of at least `length`
    beside it, so n such bookings inside the period mean none is free. Only bookings that
    prove it are counted: inside the period, long enough, not overlapping one counted before
    (`taken` sorted by start, `starts` their starts)."""
    slots = (closing - opening) // length
    if slots == 0:
        return True
    counted, free_from = 0, opening
    for i in range(bisect_left(starts, opening), bisect_left(starts, closing)):
        booking = taken[i]
        inside = booking.starts_at >= free_from and booking.ends_at <= closing
        if inside and booking.ends_at - booking.starts_at >= length:
            counted += 1
            free_from = booking.ends_at
    return counted >= slots


def _overlapped(taken: Sequence[Booking], index: int, slot: Slot) -> bool:
    """Any booking from `index` on (sorted by start) overlaps the slot; stops at the first
    that starts after it, so a long diary costs no more than the bookings near the slot."""
    for booking in _from(taken, index):
        if booking.starts_at >= slot.ends_at:
            return False
        if booking.overlaps(slot):
            return True
    return False


def _from(taken: Sequence[Booking], index: int) -> Iterable[Booking]:
    return (taken[i] for i in range(index, len(taken)))


def bookings_in_week(coach: Coach, taken: Iterable[Booking], moment: datetime) -> int:
    """Bookings in the coach's own (ISO, local) week containing `moment`."""
    week = moment.astimezone(coach.zone).isocalendar()[:2]
    return sum(1 for b in taken if b.starts_at.astimezone(coach.zone).isocalendar()[:2] == week)


def choose(
    coaches: Iterable[Coach],
    preferred_language: str | None,
    booked: Iterable[Booking],
    policy: SlotPolicy,
    now: datetime,
    need: Need | None = None,
) -> Choice | WaitingReason:
    need = need or Need()
    language, speakers = coaches_for(coaches, preferred_language, need.team)
    wanted = [c for c in speakers if c.coach_id not in need.avoid_coaches] or speakers
    if not wanted:
        return WaitingReason.NO_COACH_FOR_LANGUAGE
    by_coach: dict[str, list[Booking]] = {c.coach_id: [] for c in wanted}
    for booking in booked:
        if booking.coach_id in by_coach:
            by_coach[booking.coach_id].append(booking)
    found: list[tuple[tuple[bool, datetime], Coach, Slot, list[Booking]]] = []
    for coach in wanted:
        taken = sorted(by_coach[coach.coach_id], key=lambda b: b.starts_at)
        slot = earliest_free_slot(coach, taken, policy, now, need)
        if slot is not None:  # continuity beats an earlier slot
            found.append(
                ((coach.coach_id != need.previous_coach, slot.starts_at), coach, slot, taken)
            )
    if not found:
        return WaitingReason.NO_FREE_SLOT
    first = min(rank for rank, _, _, _ in found)
    # The week's load is counted only for the coaches that tie (it reads all their bookings).
    _, coach, slot = min(
        ((bookings_in_week(c, taken, s.starts_at), c.coach_id), c, s)
        for rank, c, s, taken in found
        if rank == first
    )
    return Choice(coach_id=coach.coach_id, slot=slot, language=language)

"""Choosing who sees a patient, and when.

Rules: a coach who speaks the patient's preferred language (the exact tag, then its primary
language, then English when the language is unknown or nobody speaks it); among them the
earliest free slot; a tie goes to the coach with the fewest bookings that week. A coach is
never given two overlapping appointments.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from scheduling.domain.coach import Coach
from scheduling.domain.slots import Slot, SlotPolicy, candidate_slots

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


def language_preferences(preferred: str | None) -> list[str]:
    """`pa-IN` → [`pa-in`, `pa`, `en`]; nothing known → [`en`]."""
    wanted: list[str] = []
    if preferred and preferred.strip():
        tag = preferred.strip().lower().replace("_", "-")
        wanted += [tag, tag.split("-", 1)[0]]
    wanted.append(FALLBACK_LANGUAGE)
    return list(dict.fromkeys(wanted))


def coaches_for(coaches: Iterable[Coach], preferred: str | None) -> tuple[str, list[Coach]]:
    """The language to use and the active coaches who speak it (empty when nobody does)."""
    active = [c for c in coaches if c.active]
    for language in language_preferences(preferred):
        speakers = [c for c in active if c.speaks(language)]
        if speakers:
            return language, speakers
    return FALLBACK_LANGUAGE, []


def earliest_free_slot(
    coach: Coach, taken: Sequence[Booking], policy: SlotPolicy, now: datetime
) -> Slot | None:
    """`taken` holds this coach's bookings sorted by start."""
    index = 0
    for slot in candidate_slots(coach, policy, now):
        # Bookings that end by this slot's start end before every later slot too.
        while index < len(taken) and taken[index].ends_at <= slot.starts_at:
            index += 1
        if not any(b.overlaps(slot) for b in taken[index:] if b.starts_at < slot.ends_at):
            return slot
    return None


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
) -> Choice | WaitingReason:
    language, speakers = coaches_for(coaches, preferred_language)
    if not speakers:
        return WaitingReason.NO_COACH_FOR_LANGUAGE
    by_coach: dict[str, list[Booking]] = {c.coach_id: [] for c in speakers}
    for booking in booked:
        if booking.coach_id in by_coach:
            by_coach[booking.coach_id].append(booking)
    best: tuple[datetime, int, str] | None = None
    best_slot: Slot | None = None
    for coach in speakers:
        taken = sorted(by_coach[coach.coach_id], key=lambda b: b.starts_at)
        slot = earliest_free_slot(coach, taken, policy, now)
        if slot is None:
            continue
        rank = (slot.starts_at, bookings_in_week(coach, taken, slot.starts_at), coach.coach_id)
        if best is None or rank < best:
            best, best_slot = rank, slot
    if best is None or best_slot is None:
        return WaitingReason.NO_FREE_SLOT
    return Choice(coach_id=best[2], slot=best_slot, language=language)

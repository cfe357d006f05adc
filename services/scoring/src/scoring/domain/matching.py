"""A comparison group for the enrolled: similar patients who were never enrolled, so that
regression to the mean (high users fall back on their own) shows beside the programme's effect.

Each enrolment is matched to up to `per_enrolment` never-enrolled patients of the same
practice, the same band and the same age band on the enrolment date, nearest in birth date
first (ties go the same way every time), without replacement: a comparison patient stands for one
enrolment only, and takes its enrolment date as their index date. Deterministic: the same
store gives the same groups.
"""

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from scoring.domain.outcomes import age_band


@dataclass(frozen=True)
class ToMatch:
    """An enrolment as matching sees it; band and birth date None: it cannot be matched."""

    key: tuple[str, str]  # (NHS number, programme)
    practice_ods: str | None
    band: str | None  # at enrolment
    birth_date: date | None
    index_date: date


class Candidate(NamedTuple):
    """A never-enrolled patient who could stand in the comparison group (a tuple: the pool is
    the whole population)."""

    nhs_number: str
    practice_ods: str
    band: str  # the current band (scoring keeps no band-at-date for the whole population)
    birth_date: date


# The never-enrolled of each (practice, band): (birth date as a day number, NHS number).
Pools = dict[tuple[str, str], list[tuple[int, str]]]


def pools_of(candidates: Iterable[Candidate]) -> Pools:
    pools: Pools = defaultdict(list)
    for c in candidates:
        pools[(c.practice_ods, c.band)].append((c.birth_date.toordinal(), c.nhs_number))
    return dict(pools)


def match_comparisons(
    enrolments: Sequence[ToMatch], strata: Pools, per_enrolment: int
) -> dict[tuple[str, str], list[Candidate]]:
    """Each enrolment's comparison patients (nearest first; maybe fewer than asked, or none).
    The pools are used up (sorted, and emptied of those picked)."""
    for pool in strata.values():
        pool.sort()  # ints sort fast: the whole population may be in the pools
    matched: dict[tuple[str, str], list[Candidate]] = {}
    # Earliest enrolments choose first: the order is the store's, not the caller's.
    for wanted in sorted(enrolments, key=lambda e: (e.index_date, e.key)):
        stratum = (wanted.practice_ods or "", wanted.band or "")
        pool = strata.get(stratum, [])
        if not pool or wanted.birth_date is None or per_enrolment <= 0:
            matched[wanted.key] = []
            continue
        picked = _nearest_in_band(pool, wanted.birth_date, wanted.index_date, per_enrolment)
        matched[wanted.key] = [
            Candidate(pool[i][1], stratum[0], stratum[1], date.fromordinal(pool[i][0]))
            for i in picked
        ]
        for i in sorted(picked, reverse=True):
            del pool[i]  # without replacement
    return matched


def _nearest_in_band(
    pool: Sequence[tuple[int, str]], born: date, index: date, wanted: int
) -> list[int]:
    """Indexes into `pool` (sorted by birth date) of up to `wanted` patients in `born`'s age
    band on `index`, nearest in birth date first. Age falls as birth date rises, so the band is
    one run of the pool: walk out from `born` both ways until each side leaves it."""
    band = age_band(born, index)
    day = born.toordinal()
    right = bisect_left(pool, (day, ""))
    left = right - 1
    picked: list[int] = []

    def in_band(i: int) -> bool:
        return age_band(date.fromordinal(pool[i][0]), index) == band

    while len(picked) < wanted:
        left_ok = left >= 0 and in_band(left)
        right_ok = right < len(pool) and in_band(right)
        if not (left_ok or right_ok):
            break
        if left_ok and (not right_ok or day - pool[left][0] <= pool[right][0] - day):
            picked.append(left)
            left -= 1
        else:
            picked.append(right)
            right += 1
    return picked

"""Patient data planted in the PII scan's inputs, and the search for it in logs and letters.

Every value is synthetic and distinctive: NHS numbers from the 999 test range (never issued),
ZZ99 pseudo-postcodes, names no real feed carries. A value is found in any common spelling:
an NHS number with any separators between its digits (3-3-4, 4-3-3, dots, NBSPs), a birth
date as YYYYMMDD, YYYY-MM-DD or DD/MM/YYYY, a postcode with or without its space, names and
streets in any case.
"""

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ensemble_devkit.synthetic import test_nhs_numbers

from .strategies import Person

_NUMBERS = test_nhs_numbers(start=731_000)
PLANTED = (
    Person(
        next(_NUMBERS), "QUIXOTEFERN", "ZEPHYRINA", "19370419", "ZZ99 7QX", "17 WHISTLEWOOD CLOSE"
    ),
    Person(next(_NUMBERS), "MARBLETHWAITE", "ODALYS", "19521130", "ZZ99 8RY", "4 CORNCRAKE WYND"),
    Person(next(_NUMBERS), "VANTWERPENKAMP", "PERPETUA", "19440229", "ZZ99 9SZ", "88 LAPWING RISE"),
)
# Dead-letter fields that carry the failed message by contract: the payload (verbatim, for
# replay) and its Kafka key (the NHS number, so a replay keeps the patient's partition).
VERBATIM_FIELDS = frozenset({"payload"})
KEY_FIELDS = frozenset({"source_key"})


@dataclass(frozen=True)
class Needle:
    what: str  # e.g. "NHS number of QUIXOTEFERN" (the planted value itself is never shown)
    pattern: re.Pattern[str]
    kind: str  # "nhs_number" or "other"


def needles(people: Iterable[Person] = PLANTED) -> list[Needle]:
    found = []
    for p in people:
        digits = r"\D{0,3}".join(p.nhs_number)  # any spelling: spaces, dots, dashes, NBSPs
        found.append(
            Needle(f"NHS number of {p.family}", re.compile(rf"(?<!\d){digits}(?!\d)"), "nhs_number")
        )
        for label, value in (
            ("family name", p.family),
            ("given name", p.given),
            ("street", p.street),
        ):
            found.append(
                Needle(f"{label} of {p.family}", re.compile(re.escape(value), re.I), "other")
            )
        outward, inward = p.postcode.split()
        found.append(
            Needle(f"postcode of {p.family}", re.compile(rf"{outward}\s*{inward}", re.I), "other")
        )
        y, m, d = p.birth_date[:4], p.birth_date[4:6], p.birth_date[6:]
        dates = [
            f"{y}{m}{d}",
            f"{y}-{m}-{d}",
            f"{d}/{m}/{y}",
            f"{y}/{m}/{d}",
            f"{d}.{m}.{y}",
            f"{d}-{m}-{y}",
        ]
        spelled = "|".join(re.escape(date) for date in dates)
        found.append(
            Needle(f"birth date of {p.family}", re.compile(rf"(?<!\d)(?:{spelled})(?!\d)"), "other")
        )
    return found


@dataclass(frozen=True)
class Leak:
    where: str  # "log line 12" or "dead letter 3, field error"
    what: str
    excerpt: str  # the line around the finding, the planted value masked


def _excerpt(text: str, match: re.Match[str]) -> str:
    start, end = max(0, match.start() - 80), min(len(text), match.end() + 80)
    return f"{text[start : match.start()]}<<{match.group()[:2]}...>>{text[match.end() : end]}"


def scan_lines(lines: Iterable[str], people: Iterable[Person] = PLANTED) -> list[Leak]:
    leaks = []
    patterns = needles(people)
    for number, line in enumerate(lines, start=1):
        for needle in patterns:
            if match := needle.pattern.search(line):
                leaks.append(Leak(f"log line {number}", needle.what, _excerpt(line, match)))
    return leaks


def scan_letters(
    letters: Iterable[dict[str, Any]], people: Iterable[Person] = PLANTED
) -> list[Leak]:
    """Every field of every letter but the verbatim payload; the key only for names, dates
    and postcodes (it is the NHS number by contract)."""
    leaks = []
    patterns = needles(people)
    for number, letter in enumerate(letters, start=1):
        for name, value in letter.items():
            if name in VERBATIM_FIELDS:
                continue
            text = value if isinstance(value, str) else json.dumps(value)
            for needle in patterns:
                if name in KEY_FIELDS and needle.kind == "nhs_number":
                    continue
                if match := needle.pattern.search(text):
                    where = f"dead letter {number}, field {name}"
                    leaks.append(Leak(where, needle.what, _excerpt(text, match)))
    return leaks

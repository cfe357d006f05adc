"""The booking bench's people: 22 multilingual coaches across time zones and their patients.

The coaches work the way a remote coaching hub's do: English-speaking staff in London (one
on late clinics, one on a compressed four-day week), and coaches abroad who work UK hours on
their own clocks: Mumbai and Delhi (Asia/Kolkata, 13:30-22:00), Lahore (Asia/Karachi),
Dhaka, Warsaw and Bucharest. Everyone speaks English; each also speaks one to three of the
languages of the practices' lists. All whole-time, so a month holds 22 x 400 appointments.
"""

import random
from typing import Any
from uuid import uuid4

from ensemble_devkit.synthetic import test_nhs_numbers
from ensemble_devkit.system import PRACTICES

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
# Local working patterns (the coach's own clock), each about 37.5 hours a week.
PATTERNS: dict[str, dict[str, list[list[str]]]] = {
    "london_day": {d: [["09:00", "12:30"], ["13:00", "17:00"]] for d in WEEKDAYS},
    "london_late": {d: [["12:00", "15:30"], ["16:00", "20:00"]] for d in WEEKDAYS},
    "london_compressed": {
        d: [["08:00", "12:30"], ["13:00", "18:00"]] for d in ("mon", "tue", "wed", "thu")
    },
    "india_uk_hours": {d: [["13:30", "17:30"], ["18:00", "21:30"]] for d in WEEKDAYS},
    "pakistan_uk_hours": {d: [["13:00", "16:30"], ["17:00", "21:00"]] for d in WEEKDAYS},
    "bangladesh_uk_hours": {d: [["14:00", "18:00"], ["18:30", "22:00"]] for d in WEEKDAYS},
    "cet_day": {d: [["09:00", "13:00"], ["13:30", "17:00"]] for d in WEEKDAYS},
    "eet_day": {d: [["10:00", "14:00"], ["14:30", "18:00"]] for d in WEEKDAYS},
    # Tuesday to Saturday, for patients who work in the week.
    "london_saturdays": {
        d: [["09:00", "12:30"], ["13:00", "17:00"]] for d in ("tue", "wed", "thu", "fri", "sat")
    },
}
# (id, display name, zone, languages besides English, pattern)
COACHES: tuple[tuple[str, str, str, tuple[str, ...], str], ...] = (
    ("BC01", "Amelia", "Europe/London", (), "london_day"),
    ("BC02", "Tom", "Europe/London", ("cy",), "london_late"),
    ("BC03", "Grace", "Europe/London", ("fr",), "london_compressed"),
    ("BC04", "Kwame", "Europe/London", ("tw",), "london_saturdays"),
    ("BC05", "Hodan", "Europe/London", ("so", "ar"), "london_day"),
    ("BC06", "Gurpreet", "Asia/Kolkata", ("pa", "hi"), "india_uk_hours"),
    ("BC07", "Harjit", "Asia/Kolkata", ("pa",), "india_uk_hours"),
    ("BC08", "Priya", "Asia/Kolkata", ("hi", "gu"), "india_uk_hours"),
    ("BC09", "Anjali", "Asia/Kolkata", ("gu", "hi"), "india_uk_hours"),
    ("BC10", "Lakshmi", "Asia/Kolkata", ("ta", "ml"), "india_uk_hours"),
    ("BC11", "Ravi", "Asia/Kolkata", ("te", "hi"), "india_uk_hours"),
    ("BC12", "Simran", "Asia/Kolkata", ("pa", "ur", "hi"), "india_uk_hours"),
    ("BC13", "Imran", "Asia/Karachi", ("ur", "pa"), "pakistan_uk_hours"),
    ("BC14", "Ayesha", "Asia/Karachi", ("ur", "ps"), "pakistan_uk_hours"),
    ("BC15", "Bilal", "Asia/Karachi", ("ur",), "pakistan_uk_hours"),
    ("BC16", "Rahima", "Asia/Dhaka", ("bn", "syl"), "bangladesh_uk_hours"),
    ("BC17", "Sultana", "Asia/Dhaka", ("bn",), "bangladesh_uk_hours"),
    ("BC18", "Kasia", "Europe/Warsaw", ("pl",), "cet_day"),
    ("BC19", "Tomasz", "Europe/Warsaw", ("pl", "ru"), "cet_day"),
    ("BC20", "Ioana", "Europe/Bucharest", ("ro",), "eet_day"),
    ("BC21", "Mehmet", "Europe/London", ("tr", "ku"), "london_day"),
    ("BC22", "Ana", "Europe/London", ("pt", "es"), "london_late"),
)
# A patient asks for a language other than English this share of its speakers' capacity at
# most, so every language can be booked inside the month; the rest ask for English.
NON_ENGLISH_LOAD = 0.6


def roster(count: int = len(COACHES)) -> list[dict[str, Any]]:
    """`count` coaches in the published coach format (the first of COACHES, cycled beyond)."""
    coaches = []
    for index in range(count):
        coach_id, name, zone, languages, pattern = COACHES[index % len(COACHES)]
        if index >= len(COACHES):
            coach_id = f"{coach_id}-{index // len(COACHES)}"
        coaches.append(
            {
                "coach_id": coach_id,
                "display_name": name,
                "languages": ["en", *languages],
                "timezone": zone,
                "weekly_hours": PATTERNS[pattern],
                "team": "health_coaching",
                "wte": 1.0,
            }
        )
    return coaches


def language_weights(coaches: list[dict[str, Any]]) -> dict[str, float]:
    """Each language's share of the patients: NON_ENGLISH_LOAD of its speakers' share of the
    coaches (split between a coach's languages), the rest English."""
    spoken: dict[str, float] = {}
    for coach in coaches:
        others = [tag for tag in coach["languages"] if tag != "en"]
        for tag in others:
            spoken[tag] = spoken.get(tag, 0.0) + 1 / len(others)
    weights = {tag: NON_ENGLISH_LOAD * n / len(coaches) for tag, n in spoken.items()}
    return {"en": 1 - sum(weights.values()), **weights}


def referrals(count: int, coaches: list[dict[str, Any]], seed: int = 12) -> list[dict[str, Any]]:
    """`count` accepted coaching referrals of distinct test patients (valid NHS numbers)."""
    draw = random.Random(seed)
    weights = language_weights(coaches)
    tags, shares = list(weights), list(weights.values())
    patients = test_nhs_numbers(start=draw.randint(600_000, 900_000))
    return [
        {
            "referral_id": str(uuid4()),
            "nhs_number": next(patients),
            "practice_ods": draw.choice(PRACTICES),
            "service": "health_coaching",
            "preferred_language": draw.choices(tags, shares)[0],
        }
        for _ in range(count)
    ]

"""The bench's arithmetic: percentiles, lag trends, and what others did on the broker."""

import math
from typing import Any

GROWING_SHARE = 0.01  # lag rising faster than 1% of the input rate counts as growing...
LAG_FLOOR = 0.25  # ...once it holds more than this many seconds of input


def percentiles(samples: list[float]) -> dict[str, Any]:
    """Nearest-rank p50/p95/p99 and max, with the sample count (None when empty)."""
    ordered = sorted(samples)
    if not ordered:
        return {"count": 0, "p50": None, "p95": None, "p99": None, "max": None}

    def rank(p: int) -> float:
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    return {
        "count": len(ordered),
        "p50": rank(50),
        "p95": rank(95),
        "p99": rank(99),
        "max": ordered[-1],
    }


def slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, value) points; None with fewer than 3."""
    if len(points) < 3:
        return None
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


def lag_trend(samples: list[dict[str, Any]], input_per_second: float) -> dict[str, Any]:
    """Per group, over the samples taken while load was offered (`{"t", "lag"}` each).

    Growing: after the first quarter of the load (lag ramps up from zero as load starts),
    a least-squares slope above GROWING_SHARE of the input rate, ending above LAG_FLOOR
    seconds' worth of input (less is a batch or two in flight, not a trend)."""
    groups = samples[0]["lag"] if samples else {}
    settled = [s for s in samples if s["t"] >= samples[-1]["t"] / 4] if samples else []
    trend = {}
    for group in groups:
        rising = slope([(s["t"], float(s["lag"][group])) for s in settled])
        end = samples[-1]["lag"][group]
        trend[group] = {
            "end_of_load": end,
            "max": max(s["lag"][group] for s in samples),
            "slope_per_second": rising,
            "growing": rising is not None
            and rising > max(1.0, GROWING_SHARE * input_per_second)
            and end > LAG_FLOOR * input_per_second,
        }
    return trend


def sharing(
    groups: dict[str, list[str]], before: dict[str, Any], after: dict[str, Any]
) -> dict[str, dict[str, int]]:
    """What others did on this broker's topics and groups during the run (each snapshot:
    `ends` per topic, and what this system `consumed` per group and `published` per topic).

    Events written but not published by this system came from another system; events written
    to a group's topics but not taken by this system's consumer went to another member of the
    same group (the group names are fixed): then the figures do not describe this system."""

    def grew(key: str, name: str) -> float:
        return float(after[key].get(name, 0) - before[key].get(name, 0))

    topics = sorted({topic for names in groups.values() for topic in names})
    written = {topic: grew("ends", topic) for topic in topics}
    others_wrote = {t: round(written[t] - grew("published", t)) for t in topics}
    taken = {
        group: round(sum(written[t] for t in names) - grew("consumed", group))
        for group, names in groups.items()
    }
    return {
        "written_by_others": {t: n for t, n in others_wrote.items() if n > 0},
        "taken_by_other_consumers": {g: n for g, n in taken.items() if n > 0},
    }

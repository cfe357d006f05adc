"""The bench's arithmetic, without a broker: percentiles, lag trends, sharing."""

from ensemble_devkit.bench_stats import lag_trend, percentiles, sharing


def test_percentiles_are_nearest_rank_and_ordered() -> None:
    found = percentiles([float(n) for n in range(100, 0, -1)])
    assert found == {"count": 100, "p50": 50.0, "p95": 95.0, "p99": 99.0, "max": 100.0}
    assert percentiles([7.0]) == {"count": 1, "p50": 7.0, "p95": 7.0, "p99": 7.0, "max": 7.0}
    assert percentiles([])["count"] == 0 and percentiles([])["p99"] is None


def samples(lags: list[int]) -> list[dict[str, object]]:
    return [{"t": float(second), "lag": {"g": lag}} for second, lag in enumerate(lags)]


def test_lag_that_keeps_rising_is_growing_and_lag_that_settles_is_not() -> None:
    rising = lag_trend(samples([0, 100, 200, 300, 400, 500, 600, 700]), input_per_second=1000)
    assert rising["g"]["growing"] and rising["g"]["end_of_load"] == 700
    settled = lag_trend(samples([0, 300, 250, 320, 280, 300, 260, 310]), input_per_second=1000)
    assert not settled["g"]["growing"] and settled["g"]["max"] == 320
    # A few events in flight are no trend, however they move.
    small = lag_trend(samples([0, 1, 2, 3, 4, 5, 6, 7]), input_per_second=100)
    assert not small["g"]["growing"]


def test_sharing_names_other_writers_and_other_members_of_a_group() -> None:
    groups = {"feed.alerts": ["encounters"], "scoring.encounters": ["encounters"]}
    before = {"ends": {"encounters": 100}, "consumed": {}, "published": {}}
    after = {
        "ends": {"encounters": 160},
        "consumed": {"feed.alerts": 60.0, "scoring.encounters": 45.0},
        "published": {"encounters": 50.0},
    }
    assert sharing(groups, before, after) == {
        "written_by_others": {"encounters": 10},
        "taken_by_other_consumers": {"scoring.encounters": 15},
    }
    alone = after | {"consumed": {"feed.alerts": 60.0, "scoring.encounters": 60.0}}
    alone["published"] = {"encounters": 60.0}
    assert sharing(groups, before, alone) == {
        "written_by_others": {},
        "taken_by_other_consumers": {},
    }

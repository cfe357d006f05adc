"""`make bench-booking`'s quick slice: a real scheduling process on the real broker, 2
coaches and 100 bookings from 20 concurrent HTTP clients, on SQLite and PostgreSQL. Every
referral is booked once, nobody is booked twice (asked of the store), the counts add up.
Never how fast anything was."""

from pathlib import Path

import pytest

from ensemble_devkit.bench_booking import BookingBenchOptions, run, write_report

from ..conftest import BASE_PORT, Systems

pytestmark = [pytest.mark.kafka, pytest.mark.e2e, pytest.mark.timeout(600)]
BOOKINGS, CLIENTS = 100, 20


def test_concurrent_bookings_never_double_book_a_coach_or_a_patient(
    kafka_bootstrap: str, database_url: str, tmp_path: Path, systems: Systems
) -> None:
    systems.pause()  # the e2e system's scheduling would share the consumer groups
    options = BookingBenchOptions(
        coaches=2,  # two London coaches, one of whom also speaks Welsh
        bookings=BOOKINGS,
        concurrency=CLIENTS,
        port=BASE_PORT + 24,  # not the e2e system's services (offsets 1-4)
        state_dir=tmp_path,
        report=tmp_path / "report.md",
    )
    store = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    result = run(options, kafka_bootstrap, database_url, store)
    write_report({"machine": {"cores": 2}, "commit": "test", "runs": [result]}, options.report)

    assert result["statuses"] == {"201": BOOKINGS}
    assert (result["booked"], result["waiting"]) == (BOOKINGS, 0)  # room for all
    assert result["appointments_in_store"] == result["booked"] > 0
    assert result["double_bookings"] == {"coach": 0, "patient": 0}
    assert result["over_target"] == []
    latency = result["latency_ms"]
    assert latency["count"] == BOOKINGS
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"]
    report = options.report.read_text()
    assert "| coach double bookings | patient double bookings |" in report
    assert options.report.with_suffix(".json").exists()

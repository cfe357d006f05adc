"""`make bench`'s quick slice in `make test`: the bench at a tiny size on the real broker.
Every section is there and every number is sane (counts equal what was sent, percentiles in
order). Never how fast anything was."""

import json
from pathlib import Path
from typing import Any

import pytest

from ensemble_devkit.bench import BenchOptions, run, write_report
from ensemble_devkit.bench_kafka import consumer_groups

from ..conftest import Systems

pytestmark = [pytest.mark.kafka, pytest.mark.e2e, pytest.mark.timeout(900)]

ADMISSIONS, HIGH_RISK_EVERY = 40, 4
SECTIONS = (
    "## Key figures",
    "## Raw aiokafka produce → consume",
    "## Ingest: closed loop",
    "## Alerts and hot onboarding",
    "## Consumer lag",
    "## CPU per admission",
)
SERVICES = ("hospital-feed", "scoring", "referral", "scheduling")


def tiny(store: str, offered: str, state_dir: Path) -> BenchOptions:
    return BenchOptions(
        mode="quick",
        store=store,  # type: ignore[arg-type]
        offered_transport=offered,  # type: ignore[arg-type]
        rate=40.0,
        admissions=ADMISSIONS,
        ingest_seconds=1.5,
        connections=2,
        load_processes=1,
        raw_messages=200,
        idle_seconds=0.5,
        high_risk_share=1 / HIGH_RISK_EVERY,
        lag_interval=0.5,
        base_port=27000,  # not the bench's own 28000, nor 8000 (make run) or 18000 (e2e)
        state_dir=state_dir,
        report=state_dir / "report.md",
    )


def in_order(p: dict[str, Any], count: int) -> bool:
    return bool(p["count"] == count and 0 <= p["p50"] <= p["p95"] <= p["p99"] <= p["max"])


@pytest.mark.parametrize(
    ("store", "transport"),
    [
        ("sqlite", "http"),
        pytest.param("postgresql", "http", marks=pytest.mark.postgres),
        ("sqlite", "mllp"),  # the alerts phase over MLLP (OFFERED=mllp)
    ],
)
def test_a_tiny_bench_reports_every_section_with_sane_numbers(
    kafka_bootstrap: str, store: str, transport: str, tmp_path: Path, systems: Systems
) -> None:
    systems.pause()  # the e2e system would share the consumer groups of the bench's services
    options = tiny(store, transport, tmp_path)
    result = run(options, kafka_bootstrap, "the test broker")
    write_report(result, options.report)

    report = options.report.read_text()
    assert all(section in report for section in SECTIONS), report
    assert json.loads(options.report.with_suffix(".json").read_text())["store"] == store
    assert result["machine"]["cores"] >= 1 and result["commit"]

    # Other systems on a shared broker (the group names are fixed) are reported; one that
    # takes this system's events spoils the counts below, and `shared` then says why.
    shared = result["sharing"]
    assert set(shared) == {"written_by_others", "taken_by_other_consumers"}
    assert ("Not valid: another system used this broker" in report) == any(shared.values())

    raw = result["raw_kafka"]
    assert raw["per_second"] > 0 and in_order(raw["latency_ms"], 200)

    offered = result["offered"]
    assert offered["transport"] == transport
    high_risk = ADMISSIONS // HIGH_RISK_EVERY
    assert offered["acks"] == {"AA": ADMISSIONS}
    assert offered["alerts_expected"] == ADMISSIONS
    assert offered["proposals_expected"] == offered["high_risk"] == high_risk
    assert in_order(offered["late_ms"], ADMISSIONS)
    assert in_order(offered["ack_ms"], ADMISSIONS)
    assert in_order(offered["alert_ms"], ADMISSIONS), shared
    # The SSE stream (issue 9) carried every admission's alert, from due time and from sent.
    assert in_order(offered["alert_stream_ms"], ADMISSIONS), shared
    assert in_order(offered["alert_stream_from_sent_ms"], ADMISSIONS), shared
    assert offered["stream_events"] >= ADMISSIONS  # hot-onboarding alerts come on it too
    assert in_order(offered["proposal_ms"], high_risk), shared
    assert offered["declined"] == high_risk, shared  # the worklist was triaged
    assert offered["generator_cpu_share"] > 0 and offered["bench_cpu_share"] > 0

    for transport, phase in result["ingest"].items():
        sent = phase["messages"]
        assert sent > 0 and phase["acks"] == {"AA": sent}, transport
        assert in_order(phase["ack_ms"], sent) and phase["per_second"] > 0
        assert phase["errors"] == [] and all(share > 0 for share in phase["generator_cpu_shares"])

    lag, groups = result["lag"], set(consumer_groups())
    assert set(lag["final"]) == groups and all(value >= 0 for value in lag["final"].values())
    assert set(lag["phases"]) == {"offered", "http", "mllp"}
    for phase in lag["phases"].values():
        assert phase["samples"] and set(phase["groups"]) == groups
        assert phase["quiet_after_seconds"] is not None

    idle = result["idle_cpu_percent"]
    assert all(idle[name] >= 0 for name in SERVICES) and "At idle, before the first" in report
    for phase, used in result["cpu_ms_per_admission"].items():
        assert all(used[name] > 0 for name in SERVICES), phase
        assert used["load generator"] > 0
        assert used["broker"] is None or used["broker"] > 0  # None: another user's broker

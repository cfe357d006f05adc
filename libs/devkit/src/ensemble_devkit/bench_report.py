"""The bench's report: the Markdown and the key ratios to raw Kafka."""

import math
from typing import Any

from ensemble_devkit.bench_stats import GROWING_SHARE, LAG_FLOOR

# Issue 8's targets, printed next to the figures (the bench asserts nothing).
TARGET_INGEST_PER_SECOND = 2000
TARGET_ALERT_P99_MS = 100
TARGET_TWO_HOP_P99_MS = 250
TARGET_RATE = 500
PHASES = {"offered": "alerts at offered rate", "http": "HTTP ingest", "mllp": "MLLP ingest"}
# The offered phase's headline latencies: (result key, expected count key, name, target).
LATENCY_FIGURES = (
    ("alert_ms", "alerts_expected", "admission → alert visible (polled)", TARGET_ALERT_P99_MS),
    ("alert_stream_ms", "alerts_expected", "admission → alert on SSE stream", TARGET_ALERT_P99_MS),
    ("proposal_ms", "proposals_expected", "admission → proposal (two hops)", TARGET_TWO_HOP_P99_MS),
)


def _n(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:,.{digits}f}"


def _ratio(part: float | None, whole: float | None, digits: int = 3) -> str:
    return "n/a" if part is None or not whole else f"{part / whole:.{digits}f}"


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "not met")


def _latency_row(name: str, p: dict[str, Any], extra: str = "") -> str:
    cells = [name, f"{p['count']:,}{extra}", *(_n(p[k]) for k in ("p50", "p95", "p99", "max"))]
    return "| " + " | ".join(cells) + " |"


def _acks(acks: dict[str, int]) -> str:
    return ", ".join(f"{code} {count:,}" for code, count in sorted(acks.items())) or "none"


def key_figures(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The headline figures, each with its raw Kafka reference, ratio and issue 8 target."""
    raw, offered = result["raw_kafka"], result["offered"]
    at_target_rate = offered["rate"] == TARGET_RATE
    figures = []
    for transport in ("http", "mllp"):
        rate = result["ingest"][transport]["per_second"]
        figures.append(
            {
                "name": f"ingest over {transport.upper()}, msg/s",
                "value": rate,
                "raw": raw["per_second"],
                "ratio": _ratio(rate, raw["per_second"]),
                "target": f">= {TARGET_INGEST_PER_SECOND:,}",
                "verdict": _verdict(rate >= TARGET_INGEST_PER_SECOND),
            }
        )
    for key, expected, name, target in LATENCY_FIGURES:
        if key not in offered:  # a report from before the SSE stream was measured
            continue
        p99, p50 = offered[key]["p99"], offered[key]["p50"]
        complete = offered[key]["count"] == offered[expected]
        met = p99 is not None and complete and p99 <= target  # a missing one is not met
        figures.append(
            {
                "name": f"{name} p99, ms at {offered['rate']:g}/s",
                "value": p99,
                "note": f"p50 {_n(p50)}",
                "raw": raw["latency_ms"]["p99"],
                "ratio": _ratio(p99, raw["latency_ms"]["p99"], 1),
                "target": f"<= {target} at {TARGET_RATE}/s",
                "verdict": _verdict(met if at_target_rate else None),
            }
        )
    growing = sorted(
        {
            group
            for phase in result["lag"]["phases"].values()
            for group, trend in phase["groups"].items()
            if trend["growing"]
        }
    )
    figures.append(
        {
            "name": "consumer lag during load",
            "value": f"growing: {', '.join(growing)}" if growing else "bounded",
            "raw": None,
            "ratio": "",
            "target": "bounded",
            "verdict": _verdict(not growing),
        }
    )
    return figures


def render(result: dict[str, Any]) -> str:
    sections = [
        _header(result),
        _summary(result),
        _raw(result),
        _ingest(result),
        _offered(result),
        _lag(result),
        _cpu(result),
    ]
    return "\n\n".join(sections) + "\n"


def _header(result: dict[str, Any]) -> str:
    m = result["machine"]
    header = (
        f"# Ensemble benchmark ({result['mode']}, {result['when']})\n\n"
        f"Machine: {m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB, Linux {m['kernel']}, "
        f"Python {m['python']}. Store: {result['store']}. Broker: {result['broker']}. "
        f"Commit: {result['commit']}. Everything (broker, services, load) ran on this machine."
    )
    shared = _shared(result["sharing"])
    if shared:
        header += (
            f"\n\n**Not valid: another system used this broker during the run** ({shared}). "
            "Run the bench on a broker of its own (leave KAFKA_BOOTSTRAP_SERVERS unset)."
        )
    return header


def _shared(found: dict[str, dict[str, int]]) -> str:
    taken = found["taken_by_other_consumers"]
    written = found["written_by_others"]
    return "; ".join(
        [f"other members of `{g}` took {n:,} events" for g, n in taken.items()]
        + [f"others wrote {n:,} events to `{t}`" for t, n in written.items()]
    )


def _summary(result: dict[str, Any]) -> str:
    lines = [
        "## Key figures, against raw Kafka on the same broker in the same run",
        "",
        "| figure | Ensemble | raw Kafka | ratio | issue 8 target | |",
        "|---|---|---|---|---|---|",
    ]
    for f in key_figures(result):
        value = f["value"] if isinstance(f["value"], str) else _n(f["value"])
        value += f" ({f['note']})" if f.get("note") else ""
        raw = "" if f["raw"] is None else _n(f["raw"])
        lines.append(
            f"| {f['name']} | {value} | {raw} | {f['ratio']} | {f['target']} | {f['verdict']} |"
        )
    lines.append("")
    lines.append(
        "Ratios: ingest rate ÷ raw Kafka's rate; latency ÷ raw Kafka's produce→consume p99."
    )
    return "\n".join(lines)


def _raw(result: dict[str, Any]) -> str:
    raw = result["raw_kafka"]
    return "\n".join(
        [
            "## Raw aiokafka produce → consume (the reference)",
            "",
            f"{raw['messages']:,} messages of {raw['message_bytes']} bytes (an HL7 admission's "
            "size), one idempotent producer (acks=all) and one consumer, a fresh topic of "
            f"6 partitions: **{_n(raw['per_second'], 0)} msg/s**.",
            "",
            "| latency, ms | messages | p50 | p95 | p99 | max |",
            "|---|---|---|---|---|---|",
            _latency_row("produce → consume", raw["latency_ms"]),
        ]
    )


def _ingest(result: dict[str, Any]) -> str:
    lines = [
        "## Ingest: closed loop, as fast as hospital-feed ACKs",
        "",
        "Each connection sends its next A01 once the previous one is ACKed (MLLP: up to "
        "`window` frames in flight). Raw asyncio sockets, HTTP/1.1 keep-alive; generator CPU "
        "is the busiest generator process's share of one core (near 100%: the generator may "
        "have been the limit).",
        "",
        "| transport | connections in processes | msg/s | ACKs | ACK p50 | p95 | p99 | max "
        "| generator CPU |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for transport, phase in result["ingest"].items():
        p = phase["ack_ms"]
        window = f", window {phase['window']}" if transport == "mllp" else ""
        lines.append(
            f"| {transport.upper()} | {phase['connections']} in {phase['processes']}{window} "
            f"| {_n(phase['per_second'], 0)} | {_acks(phase['acks'])} | "
            + " | ".join(_n(p[k]) for k in ("p50", "p95", "p99", "max"))
            + f" | {max(phase['generator_cpu_shares']):.0%} |"
        )
    for transport, phase in result["ingest"].items():
        problems = phase["errors"] + (
            [f"{phase['refusals']:,} refusals (503), resent"] if phase["refusals"] else []
        )
        if problems:
            lines.append(f"\n{transport.upper()}: {'; '.join(problems)}")
    return "\n".join(lines)


def _offered(result: dict[str, Any]) -> str:
    o = result["offered"]
    transport = o.get("transport", "http").upper()  # reports before MLLP was offered: HTTP
    return "\n".join(
        [
            f"## Alerts and hot onboarding at {o['rate']:g} admissions/s (open loop)",
            "",
            f"{o['admissions']:,} A01s over {transport} in {o['seconds']:g} s "
            f"({o['high_risk']:,} of "
            f"high-risk patients whose profiles scoring holds), released on schedule over up "
            f"to {o['connections']} connections; achieved {_n(o['achieved_rate'], 0)}/s. Every "
            "latency runs from the time the admission was due, so waiting for a free "
            "connection counts. Alerts: each practice polls `after=<last alert_id>` every "
            f"{o['poll_interval_ms']:g} ms, and listens on its SSE stream "
            "(`/alerts/stream`, one raw-socket reader per practice); "
            "proposals: staff polls proposed referrals as "
            "often and declines each one seen (so the worklist stays short). Generator CPU "
            f"{o['generator_cpu_share']:.0%} of a core, bench readers "
            f"{o['bench_cpu_share']:.0%}; ACKs: {_acks(o['acks'])}.",
            "",
            "| latency from due time, ms | seen | p50 | p95 | p99 | max |",
            "|---|---|---|---|---|---|",
            _latency_row("sent (waiting for a free connection)", o["late_ms"]),
            _latency_row(
                "HL7 POST → ACK" if transport == "HTTP" else "MLLP frame → ACK", o["ack_ms"]
            ),
            _latency_row(
                "admission → practice alert visible",
                o["alert_ms"],
                f" of {o['alerts_expected']:,}",
            ),
            *_stream_rows(o),
            _latency_row(
                "admission → hot-onboarding proposal visible (two hops)",
                o["proposal_ms"],
                f" of {o['proposals_expected']:,}",
            ),
        ]
    )


def _stream_rows(o: dict[str, Any]) -> list[str]:
    """The SSE stream's rows (issue 9): from the due time, and both readers from the moment
    each admission was sent. None for a report from before the stream was measured."""
    if "alert_stream_ms" not in o:
        return []
    of = f" of {o['alerts_expected']:,}"
    return [
        _latency_row("admission → practice alert on the SSE stream", o["alert_stream_ms"], of),
        _latency_row("admission sent → alert visible (polled)", o["alert_from_sent_ms"], of),
        _latency_row(
            "admission sent → alert on the SSE stream", o["alert_stream_from_sent_ms"], of
        ),
        *_webhook_rows(o, of),
    ]


def _webhook_rows(o: dict[str, Any], of: str) -> list[str]:
    """Each practice's signed webhook, verified on arrival (issue 9); none in older reports."""
    if "webhook_from_sent_ms" not in o:
        return []
    refused = f", {o['webhook_refused']:,} refused" if o["webhook_refused"] else ""
    name = f"admission sent → webhook delivered ({o['webhook_deliveries']:,} POSTs{refused})"
    return [_latency_row(name, o["webhook_from_sent_ms"], of)]


def _lag(result: dict[str, Any]) -> str:
    lag = result["lag"]
    lines = [
        "## Consumer lag",
        "",
        f"Every consumer group's committed offsets against the end offsets, sampled every "
        f"{lag['interval_seconds']:g} s while load was offered. Growing: after the first "
        f"quarter of the load, a least-squares slope above {GROWING_SHARE:.0%} of the input "
        f"rate, ending above {LAG_FLOOR:g} s of input. Quiet after: seconds from the end of "
        "the load until every group had caught up. Before the first phase the groups had "
        f"{sum(lag['backlog_at_start'].values()):,} events of earlier backlog on this broker "
        f"(quiet after {_n(lag['backlog_quiet_after_seconds'])} s).",
        "",
        "| phase | group | lag at end of load | max | slope, events/s | growing |",
        "|---|---|---|---|---|---|",
    ]
    for phase, found in lag["phases"].items():
        for group, trend in found["groups"].items():
            lines.append(
                f"| {PHASES[phase]} | `{group}` | {trend['end_of_load']:,} | {trend['max']:,} "
                f"| {_n(trend['slope_per_second'])} | {'yes' if trend['growing'] else 'no'} |"
            )
    quiet = ", ".join(
        f"{PHASES[phase]} {_n(found['quiet_after_seconds'])} s"
        for phase, found in lag["phases"].items()
    )
    final = ", ".join(f"`{group}` {value:,}" for group, value in lag["final"].items())
    shared = _shared(result["sharing"]) or "none"
    lines += [
        "",
        f"Quiet after: {quiet}. Lag at the end of the run: {final}. Other systems on this "
        f"broker's topics and groups (from the services' own counters): {shared}.",
    ]
    return "\n".join(lines)


def _cpu(result: dict[str, Any]) -> str:
    cpu = result["cpu_ms_per_admission"]
    names = list(next(iter(cpu.values())))
    phases = list(cpu)
    lines = [
        "## CPU per admission, ms",
        "",
        "User + system time from /proc (with child processes) from the start of each phase "
        "until the system was quiet, divided by the admissions of the phase. The alerts "
        "phase includes the readers' polls; n/a: the process is not visible from here.",
        "",
        "| process | " + " | ".join(PHASES[phase] for phase in phases) + " |",
        "|---|" + "---|" * len(phases),
    ]
    for name in names:
        lines.append(
            f"| {name} | " + " | ".join(_n(cpu[phase][name], 2) for phase in phases) + " |"
        )
    idle = result.get("idle_cpu_percent")
    if idle:  # reports written before the idle step have none
        shares = ", ".join(f"{name} {_n(share, 1)}%" for name, share in idle.items())
        lines += [
            "",
            "At idle, before the first phase (nothing sent; pollers, consumer loops and the "
            f"broker's own work), each process used, of one core: {shares}. Every phase pays "
            "this per second, whatever its admissions.",
        ]
    return "\n".join(lines)


def key_ratios(result: dict[str, Any]) -> str:
    """A few lines for the terminal: what changed since the last run, at a glance."""
    lines = ["Key figures (ratio to raw Kafka on the same broker, same run):"]
    for f in key_figures(result):
        value = f["value"] if isinstance(f["value"], str) else _n(f["value"])
        ratio = f" (x{f['ratio']})" if f["ratio"] else ""
        note = f", {f['note']}" if f.get("note") else ""
        lines.append(
            f"  {f['name']:<52} {value:>12}{ratio}{note}  target {f['target']}: {f['verdict']}"
        )
    return "\n".join(lines)

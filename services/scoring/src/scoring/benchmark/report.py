"""The bench's report as Markdown: one row per step, with issue 11's targets beside them."""

from typing import Any

# Seconds the issue allows for a step at a number of patients (linear between is not claimed).
TARGETS = {("activate", 450_000): 60, ("activate", 1_000_000): 150, ("extract_ndjson", 450_000): 60}
TARGETS[("extract_csv", 450_000)] = 60


def markdown(report: dict[str, Any]) -> str:
    machine = report["machine"]
    load = ", ".join(f"{n:.2f}" for n in machine["load_average"])
    lines = [
        f"# Scoring bench: {report['patients']:,} patients on {report['store']}",
        "",
        f"{report['at']}; models {report['models']['active']} -> "
        f"{report['models']['candidate']}; seed {report['seed']}; {machine['cpus']} CPUs "
        f"(load average at the end {load}: the machine is shared, so figures vary by run).",
        "",
        "| step | patients | seconds | CPU s | patients/s | score changes published | "
        "cohort changes published | outbox rows | target | notes |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for step in report["steps"]:
        target = TARGETS.get((step["step"], step["patients"]))
        notes = ", ".join(
            f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}"
            for k, v in step.items()
            if k not in _COLUMNS
        )
        lines.append(
            f"| {step['step']} | {step['patients']:,} | {step['seconds']:.1f} | "
            f"{step['cpu_seconds']:.1f} | "
            f"{step['patients_per_second'] or 0:,} | {step['score_changes_published']:,} | "
            f"{step['cohort_changes_published']:,} | {step['outbox_rows']:,} | "
            f"{'≤ ' + str(target) + ' s' if target else ''} | {notes} |"
        )
    return "\n".join(lines) + "\n"


_COLUMNS = {
    "step",
    "patients",
    "seconds",
    "cpu_seconds",
    "patients_per_second",
    "score_changes_published",
    "cohort_changes_published",
    "outbox_rows",
}

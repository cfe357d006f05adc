"""Figures of a fuzz run: per target and store, what was tried and what went wrong.

Each target saves its figures as `run/fuzz/results/<target>.<store>.<FUZZ_EXAMPLES>.json`
when it ends (so targets run in separate processes add up, and a quick slice leaves a long
run's figures alone); `write_report` turns every saved result into
`run/fuzz/report.md`. A violation keeps the smallest inputs that showed it, to reproduce it.
"""

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ensemble_devkit import REPO_ROOT

FUZZ_DIR = REPO_ROOT / "run" / "fuzz"
RESULTS = FUZZ_DIR / "results"
REPORT = FUZZ_DIR / "report.md"
KEPT_PER_KIND = 3  # smallest inputs kept per kind of violation
SHOWN = 600  # characters of an input shown in a failure message or the report

# Kinds of violation, as the report counts them (any other kind counts as "other").
CRASH = "crash"  # an exception escaped the code under test
SERVER_ERROR = "5xx"
UNANSWERED = "unanswered frame"  # an MLLP frame without exactly one framed ACK
HANG = "hang"  # no answer within the time allowed


def shrink_on_failure() -> bool:
    """FUZZ_SHRINK=1: fail at the first violation, so hypothesis shrinks it to a minimum."""
    return os.environ.get("FUZZ_SHRINK", "") not in ("", "0")


def shown(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= SHOWN else f"{text[:SHOWN]}... ({len(text)} characters)"


@dataclass
class Example:
    size: int
    detail: str
    input: str


@dataclass
class Stats:
    """One target on one store: cases tried, violations by kind, the slowest case."""

    target: str
    store: str
    examples_setting: int
    tried: int = 0
    seconds: float = 0.0
    slowest_seconds: float = 0.0
    slowest_input: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[Example]] = field(default_factory=dict)
    notes: dict[str, int] = field(default_factory=dict)  # figures that are not failures
    finished_at: str = ""

    @contextmanager
    def case(self, described: Any) -> Iterator[None]:
        """Time one input; `described` is what the report shows if it is the slowest."""
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            self.tried += 1
            self.seconds += elapsed
            if elapsed > self.slowest_seconds:
                self.slowest_seconds = elapsed
                self.slowest_input = shown(described)

    def note(self, figure: str, by: int = 1) -> None:
        self.notes[figure] = self.notes.get(figure, 0) + by

    def violation(self, kind: str, detail: str, value: Any, size: int | None = None) -> None:
        """Count a violation, keep the input if it is among the smallest of its kind."""
        self.counts[kind] = self.counts.get(kind, 0) + 1
        text = value if isinstance(value, str) else repr(value)
        kept = self.examples.setdefault(kind, [])
        kept.append(Example(len(text) if size is None else size, detail, shown(text)))
        kept.sort(key=lambda e: e.size)
        del kept[KEPT_PER_KIND:]
        if shrink_on_failure():
            raise AssertionError(f"{kind}: {detail}\ninput: {shown(text)}")

    def count(self, kind: str) -> int:
        return self.counts.get(kind, 0)

    def save(self) -> Path:
        self.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
        RESULTS.mkdir(parents=True, exist_ok=True)
        # One file per setting too: a quick slice does not overwrite a long run's figures.
        path = RESULTS / f"{self.target}.{self.store}.{self.examples_setting}.json"
        path.write_text(json.dumps(asdict(self), indent=1))
        return path

    def check(self) -> None:
        """Fail the test with every kind of violation seen and its smallest inputs."""
        if not self.counts:
            return
        lines = [f"{self.target} on {self.store}: violations in {self.tried} inputs"]
        for kind, number in sorted(self.counts.items()):
            lines.append(f"- {kind}: {number}")
            for example in self.examples.get(kind, []):
                lines.append(f"    {example.detail}\n      input: {example.input}")
        pytest.fail("\n".join(lines), pytrace=False)


def load_results() -> list[dict[str, Any]]:
    found = []
    for path in sorted(RESULTS.glob("*.json")) if RESULTS.exists() else []:
        try:
            found.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return found


def write_report() -> Path | None:
    """run/fuzz/report.md from every saved result (None when there is none)."""
    results = load_results()
    if not results:
        return None
    lines = [
        "# Fuzz report",
        "",
        "Written by tests/fuzz after each run; one row per target and store, from",
        "`run/fuzz/results/*.json` (the latest run of each at each `FUZZ_EXAMPLES`, the cases",
        "per target); `inputs` is what was tried.",
        "",
        "| target | store | inputs | crashes | 5xx | unanswered frames | hangs | other violations"
        " | slowest input (s) | total (s) | FUZZ_EXAMPLES | finished (UTC) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    named = {CRASH, SERVER_ERROR, UNANSWERED, HANG}
    for r in results:
        counts: dict[str, int] = r.get("counts", {})
        other = sum(n for kind, n in counts.items() if kind not in named)
        lines.append(
            f"| {r['target']} | {r['store']} | {r['tried']} | {counts.get(CRASH, 0)} "
            f"| {counts.get(SERVER_ERROR, 0)} | {counts.get(UNANSWERED, 0)} "
            f"| {counts.get(HANG, 0)} | {other} | {r['slowest_seconds']:.3f} "
            f"| {r['seconds']:.1f} | {r['examples_setting']} | {r['finished_at']} |"
        )
    details = []
    for r in results:
        head = f"## {r['target']} on {r['store']}"
        body = []
        if r.get("notes"):
            figures = ", ".join(f"{k}: {v}" for k, v in sorted(r["notes"].items()))
            body.append(f"Figures: {figures}.")
        body.append(
            f"Slowest input ({r['slowest_seconds']:.3f} s): `{_inline(r['slowest_input'])}`"
        )
        for kind, examples in sorted(r.get("examples", {}).items()):
            body.append(f"- **{kind}** ({r['counts'].get(kind, 0)}):")
            body.extend(
                f"  - {_inline(e['detail'])}; input: `{_inline(e['input'])}`" for e in examples
            )
        details.extend([head, "", *body, ""])
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join([*lines, "", *details]))
    return REPORT


def _inline(text: str) -> str:
    return text.replace("`", "'").replace("\n", "\\n").replace("|", "\\|")

"""No patient data in logs, spans or dead letters, ever: a full flow and a fuzz slice run with
planted NHS numbers, names, birth dates, addresses and postcodes (`pii.PLANTED`), logging as
the services configure it and tracing on, and not one planted value may appear in a log line,
a span (name, attributes, events, status) or a letter.

The workload runs as a process of its own (tests/fuzz/pii_flow.py), so logging is set up
exactly once, as `serve()` sets it up, and every byte it writes to stdout or stderr is read.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ensemble_devkit import REPO_ROOT
from ensemble_devkit.postgres import create_database
from ensemble_devkit.service_map import load_definitions

from .pii import Leak, scan_letters, scan_lines
from .support import EXAMPLES

SLICE = max(5, min(EXAMPLES, 25))  # fuzz cases per target in the scan: a slice, not the run
FLOW_TIMEOUT = 600


def run_flow(
    out: Path, stores: dict[str, str], examples: int = SLICE
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "tests.fuzz.pii_flow", str(out), json.dumps(stores), str(examples)],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        errors="backslashreplace",
        timeout=FLOW_TIMEOUT,
        check=False,
    )


def leaks_in(
    out: Path, finished: subprocess.CompletedProcess[str]
) -> tuple[list[Leak], dict[str, Any]]:
    """Every planted value found in the flow's output and letters; and what was scanned."""
    # Lines end at "\n" only: str.splitlines would also split at U+2028 or 0x1C inside a value.
    lines = [line for text in (finished.stderr, finished.stdout) for line in text.split("\n")]
    written = (out / "letters.jsonl").read_text(encoding="utf-8").split("\n")
    letters = [json.loads(line) for line in written if line]
    traced = (out / "spans.jsonl").read_text(encoding="utf-8").split("\n")
    spans = [json.loads(line) for line in traced if line]
    scanned = {
        "spans": {name for span in spans for name in span["texts"][:1]},
        "lines": len(lines),
        "json_lines": sum(line.startswith("{") for line in lines),
        "letters": len(letters),
        "events": {json.loads(line).get("event") for line in lines if line.startswith("{")},
    }
    span_leaks = [
        Leak(
            f"{span['service']} span, {leak.where.replace('log line', 'text')}",
            leak.what,
            leak.excerpt,
        )
        for span in spans
        for leak in scan_lines(span["texts"])
    ]
    return scan_lines(lines) + scan_letters(letters) + span_leaks, scanned


@pytest.mark.parametrize(
    "store", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
@pytest.mark.timeout(FLOW_TIMEOUT + 60)
def test_no_planted_patient_data_in_any_log_line_or_dead_letter(
    store: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    names = [d.name for d in load_definitions()]
    if store == "sqlite":
        stores = {name: f"sqlite:///{tmp_path / name}.db" for name in names}
    else:
        server: str = request.getfixturevalue("postgres_server_url")
        stores = {name: create_database(server, f"pii_{name}") for name in names}

    finished = run_flow(tmp_path, stores)

    assert finished.returncode == 0, finished.stderr[-3000:]
    leaks, scanned = leaks_in(tmp_path, finished)
    # The scan saw the flow: service log lines of every kind it causes, and dead letters.
    assert scanned["json_lines"] > 100, scanned
    assert {"hl7 message received", "event dead-lettered", "audit"} <= scanned["events"], scanned
    assert scanned["letters"] > 0, scanned
    assert {"POST /v1/hl7v2", "hl7v2 intake", "process hospital.encounters.v1"} <= scanned[
        "spans"
    ], scanned
    assert not leaks, "\n".join(f"{leak.where}: {leak.what}: {leak.excerpt}" for leak in leaks[:20])

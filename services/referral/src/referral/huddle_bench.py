"""How long a huddle's agenda takes to build for a large caseload (issue 12, item 5).

`bench_huddle_agenda(database_url, caseload)` fills a fresh, empty store with `caseload`
active complex-care referrals across ten practices and a realistic load of signals: twelve
weeks of history, then the half week since the team's Monday huddle (twice-weekly huddles,
as Symphony's teams held them), plus Monday's open actions. It then times what the Thursday
huddle costs: opening it (choosing its items), reading its agenda, rendering the sheet.

Rates per caseload patient per week, for a high-risk complex-care caseload: A&E attendances,
admissions and discharges 3 % each, band rises 2 %, DNAs 5 %; per week for the whole team,
10 SLA breaches and 15 new proposals. Times are wall-clock seconds on this machine.

Run it: `make bench-huddle` (CASELOAD, BENCH_DATABASE_URL), or
`uv run python -m referral.huddle_bench [--caseload 2000] [--database-url URL]`; without a URL
it uses a fresh SQLite file in a temporary directory. It prints the figures as JSON.
"""

import argparse
import json
import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import Engine, insert
from sqlmodel import Session

from ensemble_contracts.nhs_number import check_digit
from ensemble_runtime.db import create_db_engine
from ensemble_runtime.migrations import migrate
from referral.adapters import huddle_views
from referral.adapters.huddle_orm import CaseloadSignalRecord, HuddleActionRecord
from referral.adapters.orm import ReferralRecord
from referral.adapters.unit_of_work import ReferralUnitOfWork
from referral.config import Settings
from referral.domain.huddle import Team
from referral.entrypoints.huddle_http import render_sheet
from referral.service import DEFINITION
from referral.service_layer.huddle_commands import OpenHuddle
from referral.service_layer.huddles import open_huddle

WEEKLY_PER_PATIENT = {
    "ae_attendance": 0.03,
    "admitted": 0.03,
    "discharged": 0.03,
    "band_rise": 0.02,
    "dna": 0.05,
}
WEEKLY_FOR_TEAM = {"sla_breach": 10, "proposal": 15}
HISTORY_WEEKS = 12
MONDAY = date(2026, 11, 23)
MONDAY_AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
THURSDAY_AT = MONDAY_AT + timedelta(days=3)
PRACTICES = tuple(f"L850{n:02d}" for n in range(1, 11))
TEAM = Team("complex_care")


def _nhs_numbers(how_many: int) -> list[str]:
    found: list[str] = []
    serial = 0
    while len(found) < how_many:
        first_nine = f"999{serial:06d}"
        serial += 1
        check = check_digit(first_nine)
        if check is not None:
            found.append(f"{first_nine}{check}")
    return found


def _referral(nhs_number: str, n: int, created: datetime) -> dict[str, Any]:
    return {
        "referral_id": uuid4(),
        "nhs_number": nhs_number,
        "practice_ods": PRACTICES[n % len(PRACTICES)],
        "service": "complex_care",
        "source": "gp",
        "status": "active",
        "created_at": created,
        "updated_at": created,
        "due_by": created,
        "worker_role": "keyworker",
        "worker_id": f"KW{n % 22:02d}",  # 22 keyworkers
        "worker_name": f"Keyworker {n % 22:02d}",
        "supervisor_id": f"SUP{n % 3}",
        "supervisor_name": f"Supervisor {n % 3}",
    }


def _signals(
    referrals: list[dict[str, Any]], start: datetime, weeks: float
) -> list[dict[str, Any]]:
    chooser = random.Random(f"{start.isoformat()}-{weeks}")
    span = weeks * 7 * 86400
    counts = {k: round(rate * len(referrals) * weeks) for k, rate in WEEKLY_PER_PATIENT.items()}
    counts |= {k: round(n * weeks) for k, n in WEEKLY_FOR_TEAM.items()}
    rows = []
    for kind, count in counts.items():
        for _ in range(count):
            referral = chooser.choice(referrals)
            at = start + timedelta(seconds=chooser.uniform(1, span))
            rows.append(
                {
                    "signal_id": uuid4(),
                    "event_id": uuid4(),
                    "referral_id": referral["referral_id"],
                    "nhs_number": referral["nhs_number"],
                    "service": "complex_care",
                    "practice_ods": referral["practice_ods"],
                    "kind": kind,
                    "occurred_at": at,
                    "recorded_at": at,
                    "detail": "RCB",
                }
            )
    return rows


def _seed(engine: Engine, caseload: int, settings: Settings) -> int:
    created = MONDAY_AT - timedelta(weeks=HISTORY_WEEKS + 4)
    referrals = [_referral(nhs, n, created) for n, nhs in enumerate(_nhs_numbers(caseload))]
    history = _signals(referrals, MONDAY_AT - timedelta(weeks=HISTORY_WEEKS), HISTORY_WEEKS)
    since_monday = _signals(referrals, MONDAY_AT, 3 / 7)
    with engine.begin() as connection:
        connection.execute(insert(ReferralRecord), referrals)
        connection.execute(insert(CaseloadSignalRecord), history + since_monday)
    uow = ReferralUnitOfWork(engine, settings, clock=lambda: MONDAY_AT)
    with uow:
        monday = open_huddle(uow, OpenHuddle(TEAM, MONDAY, "bench")).huddle
    with Session(engine) as session:
        items = huddle_views.agenda(session, TEAM, MONDAY) or {"items": []}
    actions = [
        {
            "action_id": uuid4(),
            "huddle_id": monday.huddle_id,
            "item_id": UUID(item["item_id"]),
            "team": TEAM.key,
            "text": "follow up",
            "owner_id": "KW01",
            "owner_name": "Keyworker 01",
            "due_on": MONDAY + timedelta(days=2),
            "created_at": MONDAY_AT,
            "created_by": "bench",
        }
        for item in items["items"][:40]  # Monday's huddle leaves 40 actions open
    ]
    with engine.begin() as connection:
        connection.execute(insert(HuddleActionRecord), actions)
    return len(history) + len(since_monday)


def bench_huddle_agenda(database_url: str, caseload: int = 2000, reads: int = 5) -> dict[str, Any]:
    """Seed a fresh store and time Thursday's huddle: `{"caseload", "signals", "items",
    "carried_over", "open_seconds", "agenda_seconds" (median of `reads`), "sheet_seconds"}`."""
    engine = create_db_engine(database_url)
    try:
        migrate(engine, DEFINITION.migrations)
        settings = Settings(database_url=database_url)
        signals = _seed(engine, caseload, settings)
        uow = ReferralUnitOfWork(engine, settings, clock=lambda: THURSDAY_AT)
        thursday = MONDAY + timedelta(days=3)
        started = time.perf_counter()
        with uow:
            opened = open_huddle(uow, OpenHuddle(TEAM, thursday, "bench"))
        open_seconds = time.perf_counter() - started
        timings, found = [], None
        for _ in range(reads):
            started = time.perf_counter()
            with Session(engine) as session:
                found = huddle_views.agenda(session, TEAM, thursday)
            timings.append(time.perf_counter() - started)
        if found is None:
            raise RuntimeError("Thursday's huddle was opened but its agenda is missing")
        started = time.perf_counter()
        render_sheet(found, TEAM, thursday)
        sheet_seconds = time.perf_counter() - started
        return {
            "caseload": caseload,
            "signals": signals,
            "items": opened.added,
            "carried_over": len(found["carried_over"]),
            "open_seconds": round(open_seconds, 4),
            "agenda_seconds": round(statistics.median(timings), 4),
            "sheet_seconds": round(sheet_seconds, 4),
        }
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--caseload", type=int, default=2000, help="patients (2000)")
    parser.add_argument("--reads", type=int, default=5, help="agenda reads, median (5)")
    parser.add_argument(
        "--database-url", help="an empty store (default: a fresh SQLite file, then removed)"
    )
    options = parser.parse_args(argv)
    if options.caseload < 1 or options.reads < 1:
        parser.error("--caseload and --reads must be at least 1")
    with tempfile.TemporaryDirectory(prefix="huddle-bench-") as scratch:
        url = options.database_url or f"sqlite:///{Path(scratch) / 'referral.db'}"
        figures = bench_huddle_agenda(url, options.caseload, options.reads)
    store = url.split(":", 1)[0].split("+", 1)[0]
    print(json.dumps({"store": store} | figures, indent=2))


if __name__ == "__main__":
    main()

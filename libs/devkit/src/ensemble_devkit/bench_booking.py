"""`ensemble-local bench-booking`: coaching bookings under concurrent requests (issue 12).

A real scheduling process (its own store, on a broker of its own unless
KAFKA_BOOTSTRAP_SERVERS) gets 22 coaches (bench_booking_roster) and then 8,800 accepted
referrals (22 x 400, a month at the default target) from many concurrent HTTP clients, each
`POST /v1/programmes` booking one session. Afterwards the store itself is asked whether any
coach or any patient holds two overlapping live appointments, and whether a coach went past
the month's target. Reported: bookings/s, latency p50/p95/p99, double bookings found; on
SQLite and PostgreSQL. Writes run/bench-booking/report.md and report.json.

The scheduling process joins scheduling's consumer groups: do not point it at the broker of
a running system.
"""

import asyncio
import json
import secrets
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import create_engine, text

from ensemble_devkit import REPO_ROOT
from ensemble_devkit.bench_booking_roster import referrals, roster
from ensemble_devkit.bench_machine import git_commit, machine
from ensemble_devkit.bench_stats import percentiles
from ensemble_devkit.kafka import find_broker
from ensemble_devkit.postgres import create_database, postgres_server
from ensemble_devkit.system import SERVICES, ServiceProcess

BENCH_DIR = REPO_ROOT / "run" / "bench-booking"
KAFKA_PORT = 29192  # not the ingest bench's 29092, make run's 9092 or the tests'
POSTGRES_PORT = 25435  # a private cluster when TEST_POSTGRES_URL is not set
SCHEDULING = next(spec for spec in SERVICES if spec.name == "scheduling")
# One 20-minute session per referral (no follow-ups), bookable over six weeks: 400 a month
# fit a 37.5-hour week, and a month's overflow still finds a slot.
SETTINGS = {
    "APPOINTMENT_MINUTES": "20",
    "HORIZON_DAYS": "42",
    "FOLLOW_UPS": "0",
    "REVIEW_AFTER_DAYS": "0",
    "REMINDER_SCAN_SECONDS": "0",
    "PATIENT_TIMEZONE": "Europe/London",  # patients take sessions 08:00-20:00 London time
}
# Two live appointments that overlap in time, of one coach or of one patient.
OVERLAPS = """
SELECT count(*) FROM appointments a JOIN appointments b
  ON a.{who} = b.{who} AND a.appointment_id < b.appointment_id
 AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at
WHERE a.status <> 'cancelled' AND b.status <> 'cancelled'
"""
LIVE = "SELECT coach_id, starts_at FROM appointments WHERE status <> 'cancelled'"
DEFAULT_MONTHLY_TARGET = 400  # per whole-time coach; the bench's coaches are all whole-time


@dataclass(frozen=True)
class BookingBenchOptions:
    stores: tuple[Literal["sqlite", "postgresql"], ...] = ("sqlite", "postgresql")
    coaches: int = 22
    bookings: int = 22 * 400
    concurrency: int = 32  # HTTP clients booking at once
    port: int = 28104  # the scheduling process's HTTP port
    state_dir: Path = BENCH_DIR
    report: Path = field(default=BENCH_DIR / "report.md")


def benchmark(options: BookingBenchOptions) -> int:
    """The CLI's entry: a broker, then each store in turn; writes and prints the report."""
    broker = find_broker(KAFKA_PORT, options.state_dir / "kafka")
    runs = []
    try:
        for store in options.stores:
            with database(store, options.state_dir) as url:
                runs.append(run(options, broker.bootstrap_servers, url, store))
    finally:
        broker.close()
    result = {"machine": machine(), "commit": git_commit(), "options": _jsonable(options)}
    write_report({**result, "runs": runs}, options.report)
    print(options.report.read_text())
    return 0 if all(r["double_bookings"] == {"coach": 0, "patient": 0} for r in runs) else 1


@contextmanager
def database(store: str, state_dir: Path) -> Iterator[str]:
    """A fresh, empty store for scheduling: a new SQLite file or PostgreSQL database."""
    if store == "sqlite":
        path = state_dir / "sqlite" / f"scheduling-{uuid.uuid4().hex[:8]}.db"
        shutil.rmtree(path.parent, ignore_errors=True)
        path.parent.mkdir(parents=True)
        yield f"sqlite:///{path}"
        return
    with postgres_server(POSTGRES_PORT, state_dir / "postgres") as server:
        yield create_database(server, "bench_scheduling")


def run(
    options: BookingBenchOptions, bootstrap: str, database_url: str, store: str
) -> dict[str, Any]:
    """Start scheduling on `database_url`, load the roster, book concurrently, check the store."""
    staff = secrets.token_urlsafe(24)
    url = f"http://127.0.0.1:{options.port}"
    settings = {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "DATABASE_URL": database_url,
        "HTTP_PORT": str(options.port),
        "STAFF_TOKENS": json.dumps({"bench": staff}),
        "LOG_JSON": "true",
        **SETTINGS,
    }
    env = {f"{SCHEDULING.env_prefix}_{k}": v for k, v in settings.items()}
    run_dir = options.state_dir / f"{store}-{uuid.uuid4().hex[:6]}"
    process = ServiceProcess(SCHEDULING, env, run_dir / "scheduling.log", url, run_dir / "pids")
    coaches = roster(options.coaches)
    bodies = referrals(options.bookings, coaches)
    process.start()
    try:
        process.wait_ready()
        headers = {"Authorization": f"Bearer {staff}"}
        loaded = httpx.post(f"{url}/v1/coaches", json=coaches, headers=headers, timeout=60)
        loaded.raise_for_status()
        started = time.perf_counter()
        answers = asyncio.run(book_all(url, headers, bodies, options.concurrency))
        seconds = time.perf_counter() - started
    finally:
        process.terminate()
        process.wait_or_kill(time.monotonic() + 20)
    result = tally(answers, seconds)
    return {
        "store": store,
        "coaches": len(coaches),
        "offered": len(bodies),
        "concurrency": options.concurrency,
        **result,
        **check_store(database_url, coaches),
        "languages": dict(Counter(b["preferred_language"] for b in bodies).most_common()),
        "log": str(run_dir / "scheduling.log"),
    }


Answer = tuple[float, int, dict[str, Any] | None]  # latency in ms, HTTP status, the body


async def book_all(
    url: str, headers: dict[str, str], bodies: list[dict[str, Any]], concurrency: int
) -> list[Answer]:
    """`concurrency` clients, each booking the next referral as soon as its last is answered."""
    pending = iter(bodies)
    answers: list[Answer] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=120) as c:

        async def client() -> None:
            for body in pending:
                sent = time.perf_counter()
                try:
                    response = await c.post("/v1/programmes", json=body)
                except httpx.HTTPError:
                    answers.append(((time.perf_counter() - sent) * 1000, 0, None))
                    continue
                elapsed = (time.perf_counter() - sent) * 1000
                ok = response.status_code in (200, 201)
                answers.append((elapsed, response.status_code, response.json() if ok else None))

        await asyncio.gather(*(client() for _ in range(concurrency)))
    return answers


def tally(answers: list[Answer], seconds: float) -> dict[str, Any]:
    """What the clients saw: booked, waiting (nobody free), refused, and how fast."""
    statuses = Counter(status for _, status, _ in answers)
    programmes = [body for _, _, body in answers if body is not None]
    booked = sum(1 for p in programmes if any(s["status"] == "booked" for s in p["sessions"]))
    waiting = sum(1 for p in programmes if p["waiting"] is not None)
    return {
        "booked": booked,
        "waiting": waiting,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "seconds": round(seconds, 3),
        "bookings_per_second": round(booked / seconds, 1) if seconds else None,
        "latency_ms": percentiles([latency for latency, _, _ in answers]),
    }


def check_store(database_url: str, coaches: list[dict[str, Any]]) -> dict[str, Any]:
    """Asked of the store, not of the answers: overlaps of one coach or one patient, live
    appointments, and coach-months past the target."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            coach = connection.execute(text(OVERLAPS.format(who="coach_id"))).scalar_one()
            patient = connection.execute(text(OVERLAPS.format(who="nhs_number"))).scalar_one()
            live = connection.execute(text(LIVE)).all()
    finally:
        engine.dispose()
    zones = {c["coach_id"]: ZoneInfo(c["timezone"]) for c in coaches}
    months: Counter[tuple[str, str]] = Counter()
    starts = []
    for coach_id, starts_at in live:
        start = starts_at if isinstance(starts_at, datetime) else datetime.fromisoformat(starts_at)
        start = start if start.tzinfo else start.replace(tzinfo=ZoneInfo("UTC"))
        starts.append(start)
        months[(coach_id, f"{start.astimezone(zones[coach_id]):%Y-%m}")] += 1
    per_coach = Counter(coach_id for coach_id, _ in live)
    return {
        "double_bookings": {"coach": int(coach), "patient": int(patient)},
        "appointments_in_store": len(live),
        "over_target": sorted(
            f"{c} {m}: {n}" for (c, m), n in months.items() if n > DEFAULT_MONTHLY_TARGET
        ),
        "per_coach": {
            "min": min(per_coach.values(), default=0),
            "max": max(per_coach.values(), default=0),
        },
        "first_start": min(starts).isoformat() if starts else None,
        "last_start": max(starts).isoformat() if starts else None,
    }


def _n(value: Any, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def render(result: dict[str, Any]) -> str:
    lines = [
        "# Booking bench (issue 12)",
        "",
        f"Commit {result['commit']}; {result['machine'].get('cores')} cores. One scheduling "
        "process per store; each request books one accepted referral's session "
        "(`POST /v1/programmes`) over HTTP from concurrent clients; double bookings are "
        "counted by a query on the store afterwards.",
        "",
        "| store | coaches | offered | clients | booked | waiting | bookings/s | p50 ms "
        "| p95 ms | p99 ms | max ms | coach double bookings | patient double bookings |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["runs"]:
        p = r["latency_ms"]
        cells = [
            r["store"],
            str(r["coaches"]),
            f"{r['offered']:,}",
            str(r["concurrency"]),
            f"{r['booked']:,}",
            f"{r['waiting']:,}",
            _n(r["bookings_per_second"]),
            *(_n(p[k]) for k in ("p50", "p95", "p99", "max")),
            str(r["double_bookings"]["coach"]),
            str(r["double_bookings"]["patient"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Per store", ""]
    for r in result["runs"]:
        lines += [
            f"- **{r['store']}**: {r['seconds']:,.1f} s; HTTP statuses {r['statuses']}; "
            f"{r['appointments_in_store']:,} live appointments in the store; per coach "
            f"{r['per_coach']['min']}-{r['per_coach']['max']}; first {r['first_start']}, "
            f"last {r['last_start']}; coach-months over the target: "
            f"{', '.join(r['over_target']) or 'none'}; log {r['log']}",
        ]
    languages = result["runs"][0]["languages"] if result["runs"] else {}
    lines += ["", f"Patients' languages: {languages}", ""]
    return "\n".join(lines)


def write_report(result: dict[str, Any], report: Path) -> None:
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(render(result))
    report.with_suffix(".json").write_text(json.dumps(result, indent=2, default=str) + "\n")


def _jsonable(options: BookingBenchOptions) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(options).items()}

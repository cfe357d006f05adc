"""`ensemble-local bench`: the whole system against raw Kafka, in one run on one broker.

Starts the four services (own ports, run directory and stores, an MLLP listener on), then:
1. raw aiokafka produce → consume: the reference (bench_kafka.py), then each process's CPU
   at idle;
2. admissions at an offered rate, open loop, while each practice polls its alerts and staff
   the proposed referrals: admission → alert visible, and → proposal visible (two hops);
3. closed-loop ingest over HTTP, then over MLLP: msg/s and ACK latency;
sampling every consumer group's lag during the load and each process's CPU around each
phase (bench_phases.py), with load generators in processes of their own (bench_load.py,
bench_wire.py) and readers that use the APIs as practices do (bench_probes.py). Writes
run/bench/report.md and report.json (bench_report.py). It asserts nothing.
"""

import asyncio
import contextlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from ensemble_devkit import REPO_ROOT
from ensemble_devkit.bench_load import LoadProcesses
from ensemble_devkit.bench_machine import git_commit, machine
from ensemble_devkit.bench_phases import Bench
from ensemble_devkit.bench_probes import pid_listening_on
from ensemble_devkit.bench_report import key_ratios, render
from ensemble_devkit.kafka import find_broker
from ensemble_devkit.postgres import create_database, postgres_server
from ensemble_devkit.system import SERVICES, Credentials, LocalSystem

BENCH_DIR = REPO_ROOT / "run" / "bench"
BENCH_KAFKA_PORT = 29092
BENCH_POSTGRES_PORT = 25434  # a private cluster when TEST_POSTGRES_URL is not set
MLLP_PORT_OFFSET = 10  # from the base port; services use offsets 1-4


@dataclass(frozen=True)
class BenchOptions:
    mode: Literal["quick", "full"] = "full"
    store: Literal["sqlite", "postgresql"] = "sqlite"
    rate: float = 500.0  # admissions/s offered in the alerts phase
    admissions: int = 30_000  # in the alerts phase (rate x duration by default)
    ingest_seconds: float = 30.0  # each closed-loop ingest phase
    connections: int = 16  # closed-loop connections, shared out over the load processes
    offered_connections: int = 64  # the open loop's pool: a late ACK holds no later send
    offered_transport: Literal["http", "mllp"] = "http"  # how the open loop sends
    load_processes: int = field(default_factory=lambda: max(1, (os.cpu_count() or 1) // 4))
    mllp_window: int = 1  # frames in flight per MLLP connection (1: send, wait for the ACK)
    raw_messages: int = 50_000
    idle_seconds: float = 10.0  # of quiet before the load, for each process's CPU at idle
    high_risk_share: float = 0.1  # of the alerts phase's admissions: the two-hop sample
    poll_interval: float = 0.015  # seconds between a reader's polls
    lag_interval: float = 2.0  # seconds between lag samples
    base_port: int = 28000
    state_dir: Path = BENCH_DIR
    report: Path = field(default=BENCH_DIR / "report.md")

    @classmethod
    def for_mode(cls, quick: bool, duration: float | None = None, **given: Any) -> "BenchOptions":
        """The mode's defaults, then whatever was given (None: not given). The alerts phase
        sends `admissions`, else `rate` x `duration` (60 s; quick: 10 s)."""
        chosen = (QUICK if quick else {}) | {k: v for k, v in given.items() if v is not None}
        if "admissions" not in chosen:
            seconds = duration or (10.0 if quick else 60.0)
            chosen["admissions"] = round(chosen.get("rate", cls.rate) * seconds)
        return cls(**chosen)


# About 30 s of load: 10 s of admissions at the offered rate, 8 s per ingest transport.
QUICK: dict[str, Any] = {
    "mode": "quick",
    "ingest_seconds": 8.0,
    "raw_messages": 10_000,
    "idle_seconds": 3.0,
    "lag_interval": 1.0,
}


def benchmark(options: BenchOptions) -> int:
    """The CLI's entry: find (or start) a broker, measure, write and print the report."""
    broker = find_broker(BENCH_KAFKA_PORT, options.state_dir / "kafka")
    try:
        label = f"{broker.bootstrap_servers} ({broker.kind})"
        result = run(options, broker.bootstrap_servers, label)
    finally:
        broker.close()
    write_report(result, options.report)
    print(render(result))
    print(key_ratios(result))
    print(f"\nreport: {options.report}")
    return 0


def write_report(result: dict[str, Any], report: Path) -> None:
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(render(result))
    report.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")


def run(options: BenchOptions, bootstrap: str, broker_label: str) -> dict[str, Any]:
    """Start a fresh system on `bootstrap`, measure every phase, stop it; the result dict."""
    run_dir = options.state_dir / f"system-{uuid.uuid4().hex[:6]}"
    credentials = Credentials.generate(bootstrap, options.base_port)
    mllp_port = options.base_port + MLLP_PORT_OFFSET
    extra_env = {
        "HOSPITAL_FEED_MLLP_LISTENERS": json.dumps({"RCB": mllp_port}),
        "HOSPITAL_FEED_MLLP_MAX_CONNECTIONS": str(
            max(options.connections, options.offered_connections) + 2
        ),
    }
    with contextlib.ExitStack() as stack:
        databases = stack.enter_context(_stores(options.store, options.state_dir))
        stack.callback(shutil.rmtree, run_dir / "data", ignore_errors=True)  # logs are kept
        system = LocalSystem(run_dir, credentials, databases, extra_env)
        stack.callback(system.stop)
        print(f"bench: starting the four services ({options.store}) in {run_dir}", flush=True)
        started = time.monotonic()
        system.start()
        seconds = {"system start": round(time.monotonic() - started, 3)}
        pids = _watched_processes(system, bootstrap, databases)
        with LoadProcesses(options.load_processes) as load:
            measured = asyncio.run(Bench(options, system, load, pids, mllp_port).measure())
        measured["seconds"] = seconds | measured["seconds"]
        print(f"bench: seconds per step {measured['seconds']}", flush=True)
    return {
        "when": datetime.now().astimezone().isoformat(timespec="seconds"),
        "mode": options.mode,
        "store": options.store,
        "machine": machine(),
        "commit": git_commit(),
        "broker": broker_label,
        "options": json.loads(json.dumps(asdict(options), default=str)),
        "processes": pids,
    } | measured


@contextlib.contextmanager
def _stores(store: str, state_dir: Path) -> Iterator[dict[str, str] | None]:
    """None: a SQLite file per service; else a fresh PostgreSQL database per service, dropped
    afterwards (`TEST_POSTGRES_URL`'s server if set, as in the tests)."""
    if store == "sqlite":
        yield None
        return
    with postgres_server(BENCH_POSTGRES_PORT, state_dir / "postgres") as server:
        urls = {spec.name: create_database(server, f"bench_{spec.module}") for spec in SERVICES}
        try:
            yield urls
        finally:
            libpq = server.replace("postgresql+psycopg://", "postgresql://")
            with psycopg.connect(f"{libpq}/postgres", autocommit=True) as connection:
                for url in urls.values():
                    name = sql.Identifier(urlsplit(url).path.lstrip("/"))
                    connection.execute(
                        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name)
                    )


def _port(url: str) -> int:
    return urlsplit(url if "//" in url else f"//{url}").port or 0


def _watched_processes(
    system: LocalSystem, bootstrap: str, databases: dict[str, str] | None
) -> dict[str, int | None]:
    pids: dict[str, int | None] = {}
    for name, service in system.processes.items():
        pids[name] = service.process.pid if service.process is not None else None
    pids["broker"] = pid_listening_on(_port(bootstrap.split(",")[0]))
    if databases:
        pids["postgresql"] = pid_listening_on(_port(next(iter(databases.values()))))
    return pids

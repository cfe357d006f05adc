"""`ensemble-local`: run the whole system on this machine, or benchmark it.

ensemble-local run     # Kafka + four services + live demo feed, until Ctrl-C
ensemble-local run --store postgresql   # the same, one PostgreSQL database per service
ensemble-local bench   # see ensemble_devkit.bench
"""

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from ensemble_devkit import REPO_ROOT
from ensemble_devkit.demo import Demo
from ensemble_devkit.kafka import find_broker
from ensemble_devkit.postgres import service_databases
from ensemble_devkit.system import SERVICES, Credentials, LocalSystem

RUN_DIR = REPO_ROOT / "run"
BASE_PORT = 8000
POSTGRES_PORT = 25432  # below the ephemeral port range, see pytest_plugin


@contextlib.contextmanager
def stores(kind: str) -> Iterator[dict[str, str] | None]:
    """None for the default (a SQLite file per service), else service name: PostgreSQL URL."""
    if kind == "sqlite":
        yield None
        return
    print("starting PostgreSQL (installed from Debian's packages if missing)...", flush=True)
    names = [spec.module for spec in SERVICES]
    with service_databases(POSTGRES_PORT, RUN_DIR / "postgres", names) as urls:
        yield {spec.name: urls[spec.module] for spec in SERVICES}


def run(interval: float, store: str) -> None:
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    print("starting Kafka (first run downloads the broker from Maven Central)...", flush=True)
    broker = find_broker(9092, RUN_DIR / "kafka")
    credentials = Credentials.generate(broker.bootstrap_servers, BASE_PORT)
    credentials.write(RUN_DIR / "credentials.json")
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(broker.close)
        database_urls = cleanup.enter_context(stores(store))
        system = LocalSystem(RUN_DIR, credentials, database_urls)
        cleanup.callback(system.stop)
        cleanup.callback(print, "stopping...", flush=True)
        print("starting hospital-feed, scoring, referral, scheduling...", flush=True)
        system.start()
        demo = Demo(credentials)
        demo.load_reference_data()
        print_guide(credentials, RUN_DIR)
        while not stop.is_set():
            demo.post_adt(demo.next_event())
            accepted = demo.accept_proposed_referrals()
            if accepted:
                print(f"demo: complex-care team accepted {accepted} proposed referral(s)")
            stop.wait(interval)


def print_guide(credentials: Credentials, run_dir: Path) -> None:
    practice, token = next(iter(credentials.practices.items()))
    feed = credentials.services["hospital-feed"]
    print(
        f"""
Ensemble is running. Credentials: {run_dir / "credentials.json"}  Logs: {run_dir / "logs"}
  services: {", ".join(f"{k} {v}" for k, v in credentials.services.items())}
  kafka:    {credentials.kafka}
A synthetic ADT stream is flowing. Try:
  curl -s -H "Authorization: Bearer {token}" {feed}/v1/practices/{practice}/alerts
  curl -s {feed}/metrics | grep ensemble_
Ctrl-C stops everything.
""",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="run the whole system with a demo feed")
    run_parser.add_argument("--interval", type=float, default=2.0, help="seconds between ADTs")
    run_parser.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    bench_parser = commands.add_parser("bench", help="benchmark the running pipeline")
    bench_parser.add_argument("--admissions", type=int, default=2000)
    bench_parser.add_argument("--report", type=Path, default=RUN_DIR / "bench" / "report.md")
    args = parser.parse_args()
    if args.command == "run":
        run(args.interval, args.store)
    else:
        from ensemble_devkit.bench import benchmark

        sys.exit(benchmark(args.admissions, args.report))

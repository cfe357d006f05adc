"""`ensemble-local`: run the whole system on this machine, or benchmark it.

ensemble-local run     # Kafka + four services + live demo feed, until Ctrl-C
ensemble-local run --store postgresql   # the same, one PostgreSQL database per service
ensemble-local run --run-dir DIR --base-port N   # elsewhere (Kafka: KAFKA_BOOTSTRAP_SERVERS)
ensemble-local bench [--quick] [--store postgresql]   # see ensemble_devkit.bench
ensemble-local bench-booking [--store sqlite]   # see ensemble_devkit.bench_booking
"""

import argparse
import contextlib
import dataclasses
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from ensemble_devkit import REPO_ROOT
from ensemble_devkit.demo import WEBHOOK_PORT_OFFSET, Demo, register_webhook, webhook_receiver
from ensemble_devkit.kafka import find_broker
from ensemble_devkit.leftovers import InTheWay, run_dir_lock
from ensemble_devkit.postgres import service_databases
from ensemble_devkit.shutdown import Shutdown, StopRequested
from ensemble_devkit.system import (
    SERVICES,
    Credentials,
    LocalSystem,
    ServiceFailed,
    clear_the_way,
    service_ports,
)

RUN_DIR = REPO_ROOT / "run"
BASE_PORT = 8000
KAFKA_PORT = 9092
POSTGRES_PORT = 25432  # below the ephemeral port range, see pytest_plugin


@contextlib.contextmanager
def stores(kind: str, run_dir: Path) -> Iterator[dict[str, str] | None]:
    """None for the default (a SQLite file per service), else service name: PostgreSQL URL."""
    if kind == "sqlite":
        yield None
        return
    print("starting PostgreSQL (installed from Debian's packages if missing)...", flush=True)
    names = [spec.module for spec in SERVICES]
    with service_databases(POSTGRES_PORT, run_dir / "postgres", names) as urls:
        yield {spec.name: urls[spec.module] for spec in SERVICES}


def run(interval: float, store: str, run_dir: Path, base_port: int) -> int:
    """Run until a signal; the exit code: 0 stopped in order, 1 failed or stopped at once,
    3 (`InTheWay`) an earlier run or another program holds the run directory or a port."""
    shutdown = Shutdown()
    shutdown.install()
    try:
        with run_dir_lock(run_dir):
            ports = service_ports(base_port) | {base_port + WEBHOOK_PORT_OFFSET: "webhooks"}
            clear_the_way(run_dir, ports)  # before the broker: fail fast
            with contextlib.ExitStack() as cleanup:
                try:
                    start_and_feed(cleanup, shutdown, interval, store, run_dir, base_port)
                finally:
                    shutdown.begin()
    except StopRequested:
        print("stopped at once" if shutdown.hurried else "stopped", flush=True)
        return 1 if shutdown.hurried else 0
    except InTheWay as error:
        print(f"ensemble-local: {error}", file=sys.stderr)
        return InTheWay.exit_code
    except (ServiceFailed, subprocess.CalledProcessError) as error:
        print(f"ensemble-local: could not start: {error}", file=sys.stderr)
        return 1
    finally:
        shutdown.done()
    raise AssertionError("the demo feed only ends by a signal or an error")


def start_and_feed(
    cleanup: contextlib.ExitStack,
    shutdown: Shutdown,
    interval: float,
    store: str,
    run_dir: Path,
    base_port: int,
) -> None:
    print("starting Kafka (first run downloads the broker from Maven Central)...", flush=True)
    broker = find_broker(KAFKA_PORT, run_dir / "kafka")
    if broker.kind == "local":  # if left running, the next run reuses it (kafka.sh's pid file)
        left_running = "stopping Kafka: the next run reuses it, `make kafka-stop` stops it"
        cleanup.callback(shutdown.unless_hurried(broker.close, left_running))
    elif broker.kind != "external":  # an external broker is not ours to stop
        cleanup.callback(shutdown.unless_hurried(broker.close, "stopping Kafka"))
    credentials = Credentials.generate(broker.bootstrap_servers, base_port)
    database_urls = cleanup.enter_context(stores(store, run_dir))
    system = LocalSystem(run_dir, credentials, database_urls)
    shutdown.on_hurry(system.kill)
    cleanup.callback(system.stop)
    print("starting hospital-feed, scoring, referral, scheduling...", flush=True)
    system.start()  # issues the practice users' tokens (hospital-feed's access CLI)
    credentials.write(run_dir / "credentials.json")
    demo = Demo(credentials)
    demo.load_reference_data()
    practice = next(iter(credentials.practices))
    url, secret, received = cleanup.enter_context(
        webhook_receiver(run_dir, base_port + WEBHOOK_PORT_OFFSET)
    )
    register_webhook(credentials, practice, url, secret)
    print_guide(credentials, run_dir, received)
    while True:
        demo.post_adt(demo.next_event())
        accepted = demo.accept_proposed_referrals()
        if accepted:
            print(f"demo: complex-care team accepted {accepted} proposed referral(s)", flush=True)
        time.sleep(interval)


def print_guide(credentials: Credentials, run_dir: Path, webhooks: Path) -> None:
    practice, token = next(iter(credentials.practices.items()))
    feed = credentials.services["hospital-feed"]
    print(
        f"""
Ensemble is running. Credentials: {run_dir / "credentials.json"}  Logs: {run_dir / "logs"}
  services: {", ".join(f"{k} {v}" for k, v in credentials.services.items())}
  kafka:    {credentials.kafka}
A synthetic ADT stream is flowing. Open the practice inbox (live) and sign in with the
token of {practice}'s user `demo` (issued by ensemble-hospital-feed-access), {token}:
  {feed}/practice/
Or read the same alerts as JSON, or as a Server-Sent Events stream:
  curl -s -H "Authorization: Bearer {token}" {feed}/v1/practices/{practice}/alerts
  curl -sN -H "Authorization: Bearer {token}" {feed}/v1/practices/{practice}/alerts/stream
  curl -s {feed}/metrics | grep ensemble_
{practice}'s webhook receiver (signed deliveries, Standard Webhooks) writes each alert to
  {webhooks}
Ctrl-C, SIGTERM or SIGHUP stops everything (in order); a second Ctrl-C at once.
""",
        flush=True,
    )


BENCH_OPTIONS = (
    "store",
    "rate",
    "admissions",
    "ingest_seconds",
    "connections",
    "load_processes",
    "mllp_window",
    "offered_transport",
    "poll_interval",
    "raw_messages",
    "report",
)


def add_bench_arguments(bench: argparse.ArgumentParser) -> None:
    """Unset options take the mode's defaults (ensemble_devkit.bench.BenchOptions)."""
    bench.add_argument("--quick", action="store_true", help="about 30 s of load in all")
    bench.add_argument("--store", choices=["sqlite", "postgresql"])
    bench.add_argument("--rate", type=float, help="admissions/s offered (500)")
    bench.add_argument("--duration", type=float, help="seconds at that rate (60; quick 10)")
    bench.add_argument("--admissions", type=int, help="admissions at that rate (else by time)")
    bench.add_argument("--ingest-seconds", type=float, help="each closed-loop phase (30; 8)")
    bench.add_argument("--connections", type=int, help="closed-loop connections (16)")
    bench.add_argument("--load-processes", type=int, help="generator processes (cores/4)")
    bench.add_argument("--mllp-window", type=int, help="MLLP frames in flight (1)")
    bench.add_argument(
        "--offered-transport", choices=["http", "mllp"], help="the open loop's transport (http)"
    )
    bench.add_argument(
        "--poll-interval", type=float, help="seconds between the readers' polls (0.015)"
    )
    bench.add_argument("--raw-messages", type=int, help="raw Kafka messages (50000; 10000)")
    bench.add_argument("--report", type=Path, help="Markdown report; JSON next to it")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="run the whole system with a demo feed")
    run_parser.add_argument("--interval", type=float, default=2.0, help="seconds between ADTs")
    run_parser.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    run_parser.add_argument("--run-dir", type=Path, default=RUN_DIR, help="state, logs, pids")
    run_parser.add_argument(
        "--base-port", type=int, default=BASE_PORT, help="services listen on the next four"
    )
    add_bench_arguments(commands.add_parser("bench", help="benchmark the pipeline vs raw Kafka"))
    booking = commands.add_parser("bench-booking", help="coaching bookings, concurrent HTTP")
    booking.add_argument("--store", choices=["sqlite", "postgresql"], help="one (default both)")
    booking.add_argument("--bookings", type=int, default=22 * 400, help="referrals (8800)")
    booking.add_argument("--concurrency", type=int, default=32, help="HTTP clients (32)")
    booking.add_argument("--port", type=int, default=28104, help="scheduling's HTTP port")
    booking.add_argument("--report", type=Path, help="Markdown report; JSON next to it")
    args = parser.parse_args()
    if args.command == "run":
        sys.exit(run(args.interval, args.store, args.run_dir.resolve(), args.base_port))
    elif args.command == "bench-booking":
        from ensemble_devkit.bench_booking import BookingBenchOptions
        from ensemble_devkit.bench_booking import benchmark as bench_booking

        options = BookingBenchOptions(
            bookings=args.bookings, concurrency=args.concurrency, port=args.port
        )
        if args.store:
            options = dataclasses.replace(options, stores=(args.store,))
        if args.report:
            options = dataclasses.replace(options, report=args.report)
        sys.exit(bench_booking(options))
    else:
        from ensemble_devkit.bench import BenchOptions, benchmark

        given = {name: getattr(args, name) for name in BENCH_OPTIONS}
        sys.exit(benchmark(BenchOptions.for_mode(args.quick, args.duration, **given)))

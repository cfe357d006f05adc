"""`make run` survives real-life stops (issue 14).

A launcher killed with -9 leaves no service behind, and the next run starts cleanly on the
same ports and run directory; a port held by a foreign process is named, pid and all.
Ports: make run uses 8000+, the e2e tests 18000+; these tests 17000+.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from ensemble_devkit.leftovers import InTheWay, ServiceRecord
from ensemble_devkit.processes import wait_gone
from ensemble_devkit.system import SERVICES

from ..conftest import Systems
from .driver import RUNNING, Launcher, launcher_command

BASE_PORT = 17000
STARTUP_TIMEOUT = 240.0  # four services starting at once on a busy two-core machine
GONE_TIMEOUT = 60.0  # a service drains before it exits


@pytest.mark.kafka
@pytest.mark.e2e
@pytest.mark.timeout(900)
def test_no_service_outlives_a_killed_launcher_and_the_next_run_starts_cleanly(
    tmp_path: Path, kafka_bootstrap: str, systems: Systems
) -> None:
    systems.pause()  # the e2e system would share the consumer groups of these services
    with Launcher(tmp_path, BASE_PORT, kafka_bootstrap) as first:
        first.wait_for(RUNNING, STARTUP_TIMEOUT)
        services = first.children()
        modules = sorted(service.command().split(" -m ", 1)[-1].split()[0] for service in services)
        expected = [spec.module for spec in SERVICES] + ["ensemble_devkit.webhook_receiver"]
        assert modules == sorted(expected), first.transcript()
        recorded = {record.process for record in ServiceRecord.read_all(tmp_path / "pids")}
        assert recorded == set(services)

        # While it runs, a second launcher on the same run directory is turned away.
        second_try = subprocess.run(
            launcher_command(tmp_path, BASE_PORT),
            env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second_try.returncode == InTheWay.exit_code, second_try.stderr
        assert f"pid {first.process.pid} " in second_try.stderr
        assert f"kill {first.process.pid}" in second_try.stderr

        first.process.send_signal(signal.SIGKILL)
        first.wait_exit(timeout=30)
        survivors = wait_gone(services, GONE_TIMEOUT)
        assert survivors == [], [f"{s.pid}: {s.command()}" for s in survivors]

    with Launcher(tmp_path, BASE_PORT, kafka_bootstrap) as second:
        second.wait_for(RUNNING, STARTUP_TIMEOUT)  # its demo data loaded: no 401 from old ones
        credentials = json.loads((tmp_path / "credentials.json").read_text())
        practice, token = next(iter(credentials["practices"].items()))
        alerts = httpx.get(
            f"{credentials['services']['hospital-feed']}/v1/practices/{practice}/alerts",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert alerts.status_code == 200, alerts.text
        services = second.children()
        second.process.send_signal(signal.SIGHUP)  # a closed terminal
        assert second.wait_exit(timeout=GONE_TIMEOUT) == 0, second.transcript()
        assert wait_gone(services, GONE_TIMEOUT) == []
        assert "Traceback" not in second.transcript()


def test_a_foreign_process_on_a_port_is_named_with_its_pid(tmp_path: Path) -> None:
    base_port = BASE_PORT + 100
    taken = base_port + next(spec.port_offset for spec in SERVICES if spec.name == "scoring")
    listen = (
        f"import socket, sys; server = socket.create_server(('127.0.0.1', {taken})); "
        "print('listening', flush=True); sys.stdin.read()"
    )
    squatter = subprocess.Popen(
        [sys.executable, "-c", listen], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert squatter.stdout is not None and squatter.stdout.readline() == "listening\n"
        refused = subprocess.run(
            launcher_command(tmp_path, base_port),
            # Never reached: the ports are checked before anything starts.
            env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9"},
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        squatter.kill()
        squatter.wait(timeout=30)
    assert refused.returncode == InTheWay.exit_code, refused.stdout + refused.stderr
    assert f"port {taken} (scoring) is held by pid {squatter.pid} (" in refused.stderr
    assert refused.stderr.rstrip().endswith(f"Stop it with: kill {squatter.pid}")
    assert "Traceback" not in refused.stdout + refused.stderr

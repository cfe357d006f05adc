"""What an earlier run left behind: stopped when provably ours, else named with pid and command."""

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ensemble_devkit.leftovers import (
    InTheWay,
    ServiceRecord,
    check_ports_free,
    clear_earlier_run,
    run_dir_lock,
)
from ensemble_devkit.processes import ProcessIdentity, listeners, wait_gone

GONE_LAUNCHER = ProcessIdentity(os.getpid(), started=0)  # no live process has this identity


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A process that runs until its stdin closes, or it is signalled."""
    process = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    yield process
    process.kill()
    process.wait(timeout=30)


def identity(process: subprocess.Popen[bytes]) -> ProcessIdentity:
    found = ProcessIdentity.of(process.pid)
    assert found is not None
    return found


def test_a_service_left_by_a_dead_launcher_is_stopped(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    ServiceRecord("scoring", identity(sleeper), GONE_LAUNCHER).write(tmp_path)
    stopped = clear_earlier_run(tmp_path, stop_timeout=30)
    assert [record.name for record in stopped] == ["scoring"]
    assert sleeper.wait(timeout=30) != 0
    assert list(tmp_path.iterdir()) == []


def test_a_recycled_pid_is_left_alone(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    stale = ProcessIdentity(sleeper.pid, identity(sleeper).started - 1)
    ServiceRecord("scoring", stale, GONE_LAUNCHER).write(tmp_path)
    assert clear_earlier_run(tmp_path, stop_timeout=30) == []
    assert sleeper.poll() is None


def test_services_of_a_live_launcher_are_not_touched(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    ServiceRecord("scoring", ProcessIdentity.me(), identity(sleeper)).write(tmp_path)
    with pytest.raises(
        InTheWay, match=rf"(?s)still running: pid {sleeper.pid} .*kill {sleeper.pid}"
    ):
        clear_earlier_run(tmp_path, stop_timeout=30)


def test_a_half_written_record_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "scoring.json").write_text('{"name": "scor')
    assert clear_earlier_run(tmp_path, stop_timeout=30) == []


def test_a_foreign_listener_is_named_with_its_pid_and_command() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert listeners(port) == [os.getpid()]
        with pytest.raises(InTheWay) as refused:
            check_ports_free({port: "scoring"})
    message = str(refused.value)
    assert f"port {port} (scoring) is held by pid {os.getpid()} (" in message
    assert message.endswith(f"Stop it with: kill {os.getpid()}")
    check_ports_free({port: "scoring"})  # closed: free again


def test_one_launcher_per_run_directory(tmp_path: Path) -> None:
    held_by_me = rf"(?s)pid {os.getpid()} .*kill {os.getpid()}"
    with run_dir_lock(tmp_path), pytest.raises(InTheWay, match=held_by_me), run_dir_lock(tmp_path):
        pass
    with run_dir_lock(tmp_path):  # released with its holder
        pass


def test_wait_gone_returns_once_the_process_has_exited(
    sleeper: subprocess.Popen[bytes],
) -> None:
    process = identity(sleeper)
    assert wait_gone([process], timeout=0.1) == [process]
    assert sleeper.stdin is not None
    sleeper.stdin.close()
    assert wait_gone([process], timeout=30) == []

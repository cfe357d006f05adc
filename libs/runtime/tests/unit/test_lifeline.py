"""A service ends when its launcher's end of the lifeline closes: SIGTERM, then a hard exit."""

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from ensemble_runtime.lifeline import LIFELINE_FD, watch_lifeline

# Stands in for a service: watches the lifeline, says so, then waits for a signal.
SERVICE = """
import signal, sys
from ensemble_runtime.lifeline import watch_lifeline
if sys.argv[1] == "ignores-sigterm":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
assert watch_lifeline(grace_seconds=1.0) is not None
print("watching", flush=True)
signal.pause()
"""


@pytest.fixture
def lifeline() -> Iterator[tuple[int, int]]:
    read_end, write_end = os.pipe()
    yield read_end, write_end
    for fd in (read_end, write_end):
        with contextlib.suppress(OSError):  # closed by the test already
            os.close(fd)


def start_service(read_end: int, behaviour: str) -> subprocess.Popen[str]:
    service = subprocess.Popen(
        [sys.executable, "-c", SERVICE, behaviour],
        env={**os.environ, LIFELINE_FD: str(read_end)},
        pass_fds=(read_end,),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert service.stdout is not None
    assert service.stdout.readline() == "watching\n"
    return service


@pytest.mark.parametrize(
    ("behaviour", "returncode"),
    [("drains", -signal.SIGTERM), ("ignores-sigterm", 1)],
)
def test_the_service_stops_when_the_launcher_end_closes(
    lifeline: tuple[int, int], behaviour: str, returncode: int
) -> None:
    read_end, write_end = lifeline
    service = start_service(read_end, behaviour)
    os.close(write_end)  # what the kernel does when the launcher dies, even by kill -9
    assert service.wait(timeout=30) == returncode


def test_the_service_runs_on_while_the_launcher_lives(lifeline: tuple[int, int]) -> None:
    read_end, _write_end = lifeline
    service = start_service(read_end, "drains")
    with pytest.raises(subprocess.TimeoutExpired):  # a watcher that fired at once would not
        service.wait(timeout=0.5)
    service.terminate()
    service.wait(timeout=30)


def test_a_stray_variable_that_names_no_pipe_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    with open(os.devnull) as not_a_pipe:
        monkeypatch.setenv(LIFELINE_FD, str(not_a_pipe.fileno()))
        assert watch_lifeline(grace_seconds=1.0) is None
    monkeypatch.setenv(LIFELINE_FD, "not a number")
    assert watch_lifeline(grace_seconds=1.0) is None
    assert LIFELINE_FD not in os.environ

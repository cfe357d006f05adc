"""The launcher's signals: the first unwinds in order, a second kills at once."""

import contextlib
import os
import signal
from collections.abc import Iterator

import pytest

from ensemble_devkit.shutdown import SIGNALS, Shutdown, StopRequested


@contextlib.contextmanager
def installed(shutdown: Shutdown) -> Iterator[Shutdown]:
    saved = {signum: signal.getsignal(signum) for signum in SIGNALS}
    shutdown.install()
    try:
        yield shutdown
    finally:
        for signum, previous in saved.items():
            signal.signal(signum, previous)


@pytest.fixture
def shutdown() -> Iterator[Shutdown]:
    with installed(Shutdown(echo_seconds=0.0)) as handler:
        yield handler


@pytest.mark.parametrize("signum", SIGNALS)
def test_the_first_signal_unwinds_and_a_second_kills(
    shutdown: Shutdown, signum: signal.Signals
) -> None:
    killed = []
    shutdown.on_hurry(lambda: killed.append("services"))
    with pytest.raises(StopRequested, match=signum.name):
        os.kill(os.getpid(), signum)  # the handler runs before the next bytecode
    assert shutdown.stopping and not shutdown.hurried and killed == []
    with pytest.raises(StopRequested):
        os.kill(os.getpid(), signal.SIGINT)
    assert shutdown.hurried and killed == ["services"]
    os.kill(os.getpid(), signal.SIGINT)  # a third: killed again, the skipping goes on
    assert killed == ["services", "services"]


def test_a_signal_during_clean_up_after_an_error_hurries(shutdown: Shutdown) -> None:
    killed = []
    shutdown.on_hurry(lambda: killed.append("services"))
    shutdown.begin()
    with pytest.raises(StopRequested):
        os.kill(os.getpid(), signal.SIGTERM)
    assert killed == ["services"]


def test_an_echo_of_the_first_signal_is_not_a_second_ctrl_c() -> None:
    with installed(Shutdown(echo_seconds=3600.0)) as shutdown:
        with pytest.raises(StopRequested):
            os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)  # what `uv run` passes on 200 ms later
        assert shutdown.stopping and not shutdown.hurried


def test_steps_are_skipped_once_hurried(
    shutdown: Shutdown, capsys: pytest.CaptureFixture[str]
) -> None:
    done = []
    step = shutdown.unless_hurried(lambda: done.append("broker stopped"), "stopping Kafka")
    step()
    shutdown.hurried = True
    step()
    assert done == ["broker stopped"]
    assert "skipped: stopping Kafka" in capsys.readouterr().out

"""How the launcher stops: SIGINT (Ctrl-C), SIGTERM and SIGHUP (a closed terminal) alike.

The first signal raises `StopRequested` wherever the launcher is, even mid-start, so its
clean-up unwinds: the services drain, then the broker stops. A signal during that clean-up
(a second Ctrl-C) kills the services at once and skips what is left of the clean-up.
"""

import signal
import time
from collections.abc import Callable
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# `uv run` passes a SIGINT on to the launcher 200 ms later when it cannot tell that the
# launcher had its own copy (no terminal): a signal this soon after the first is that echo.
ECHO_SECONDS = 1.0


class StopRequested(BaseException):
    """Like KeyboardInterrupt: `except Exception` must not swallow it."""


class Shutdown:
    def __init__(self, echo_seconds: float = ECHO_SECONDS) -> None:
        self.stopping = False
        self.hurried = False
        self._echo_seconds = echo_seconds
        self._first_signal_at = -float("inf")
        self._kills: list[Callable[[], None]] = []

    def install(self) -> None:
        for signum in SIGNALS:
            signal.signal(signum, self._on_signal)

    def done(self) -> None:
        """Everything is stopped: a signal still on its way (`uv run`'s echo) must not kill
        the launcher as it exits, which would turn its exit code into 130."""
        for signum in SIGNALS:
            signal.signal(signum, signal.SIG_IGN)

    def begin(self) -> None:
        """The clean-up's first step (after a signal or an error): a signal now hurries it."""
        self.stopping = True
        print("stopping (Ctrl-C again stops at once)...", flush=True)

    def on_hurry(self, kill: Callable[[], None]) -> None:
        """`kill` must not wait: it runs in the signal handler."""
        self._kills.append(kill)

    def unless_hurried(self, step: Callable[[], object], skipped: str) -> Callable[[], None]:
        """A clean-up step that is skipped, with word of it, once a second signal came."""

        def run() -> None:
            if self.hurried:
                print(f"skipped: {skipped}", flush=True)
            else:
                step()

        return run

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        # No printing here: the handler may interrupt a print, and print is not reentrant.
        now = time.monotonic()
        if now - self._first_signal_at < self._echo_seconds:
            return
        if self.stopping:
            for kill in self._kills:
                kill()
            if self.hurried:
                return  # a third Ctrl-C: killed again; what is left of the clean-up is skipped
            self.hurried = True
        else:
            self._first_signal_at = now
            self.stopping = True
        raise StopRequested(signal.Signals(signum).name)  # interrupts any wait, clean-up too

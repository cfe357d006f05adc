"""Stop this service when the process that started it is gone, however it went.

A launcher (`ensemble-local`, the test harness) keeps the write end of a pipe to itself and
hands the read end to each service it starts, naming it in `ENSEMBLE_LIFELINE_FD`. Nothing is
ever written: a read returns only once every write end is closed, which the kernel does when
the launcher exits, even on kill -9. The service then stops as on SIGTERM (draining its work),
and exits hard if that hangs.

A pipe rather than Linux's parent-death signal: that fires when the launcher's *thread* that
started the service ends, and it needs a race check against a parent already dead.
"""

import os
import signal
import stat
import threading
import time

import structlog

LIFELINE_FD = "ENSEMBLE_LIFELINE_FD"
log = structlog.get_logger(__name__)


def watch_lifeline(grace_seconds: float) -> threading.Thread | None:
    """Start watching the pipe named in the environment, if any; SIGTERM self at its end."""
    named = os.environ.pop(LIFELINE_FD, None)  # not inherited by anything we start
    if named is None:
        return None
    try:
        fd = int(named)
        is_pipe = stat.S_ISFIFO(os.fstat(fd).st_mode)
    except (ValueError, OSError):
        is_pipe = False
    if not is_pipe:  # a stray variable from a shell: reading a file there would stop us
        log.warning("not watching the launcher: the lifeline is not an open pipe", fd=named)
        return None
    os.set_inheritable(fd, False)
    watcher = threading.Thread(
        target=_stop_when_closed, args=(fd, grace_seconds), name="lifeline", daemon=True
    )
    watcher.start()
    return watcher


def _stop_when_closed(fd: int, grace_seconds: float) -> None:
    while os.read(fd, 64):
        pass  # nothing is meant to be written; a launcher that writes is not our end
    log.warning("the launcher has gone: stopping")
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(grace_seconds)  # a daemon thread: a service that stops in time ends it
    log.error("still running after the launcher went: exiting", grace_seconds=grace_seconds)
    os._exit(1)

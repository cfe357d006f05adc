"""Processes named by identity, and who listens on a port, from Linux's /proc.

A pid alone is a weak name: a pid file outlives its process and the kernel reuses pids. The
pid with the process's start time (clock ticks after boot) names one process for ever.
"""

import os
import select
import signal
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
LISTEN = "0A"  # the socket state in /proc/net/tcp


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name, which may hold spaces."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()


@dataclass(frozen=True)
class ProcessIdentity:
    pid: int
    started: int  # field 22 of /proc/<pid>/stat

    @classmethod
    def of(cls, pid: int) -> "ProcessIdentity | None":
        fields = _stat_fields(pid)
        return None if fields is None else cls(pid, int(fields[19]))

    @classmethod
    def me(cls) -> "ProcessIdentity":
        identity = cls.of(os.getpid())
        assert identity is not None
        return identity

    def alive(self) -> bool:
        """Still this very process, and not a zombie (dead, only waiting to be reaped)."""
        fields = _stat_fields(self.pid)
        return fields is not None and fields[0] != "Z" and int(fields[19]) == self.started

    def command(self) -> str:
        return command_line(self.pid)


def command_line(pid: int) -> str:
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return "?"
    return raw.rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")


def port_in_use(port: int) -> bool:
    """Whether a server could not bind 127.0.0.1:<port> (as our services and Kafka do)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT does not count
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def listeners(port: int) -> list[int]:
    """Pids of the processes listening on `port` (on any address) that this user may inspect."""
    inodes = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    pids = []
    for process in PROC.iterdir():
        if not process.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in inodes for fd in (process / "fd").iterdir()):
                pids.append(int(process.name))
        except OSError:  # gone meanwhile, or another user's
            continue
    return sorted(pids)


def wait_gone(processes: Iterable[ProcessIdentity], timeout: float) -> list[ProcessIdentity]:
    """Wait until every process has exited; return those still alive after `timeout`.

    Works for processes that are not our children: a pidfd becomes readable when its process
    exits, so this waits on the kernel's word rather than polling.
    """
    deadline = time.monotonic() + timeout
    watched: dict[int, ProcessIdentity] = {}
    for process in processes:
        try:
            pidfd = os.pidfd_open(process.pid)
        except ProcessLookupError:
            continue
        if process.alive():  # checked after opening: the pidfd holds this very process
            watched[pidfd] = process
        else:
            os.close(pidfd)
    poller = select.poll()
    for pidfd in watched:
        poller.register(pidfd, select.POLLIN)
    try:
        while watched and (remaining := deadline - time.monotonic()) > 0:
            for pidfd, _event in poller.poll(remaining * 1000):
                poller.unregister(pidfd)
                os.close(pidfd)
                del watched[pidfd]
    finally:
        for pidfd in watched:
            os.close(pidfd)
    return list(watched.values())


def terminate(processes: list[ProcessIdentity], timeout: float) -> list[ProcessIdentity]:
    """SIGTERM them all at once, SIGKILL whoever is left after `timeout`; return the killed."""
    for process in processes:
        signal_if_alive(process, signal.SIGTERM)
    survivors = wait_gone(processes, timeout)
    for process in survivors:
        signal_if_alive(process, signal.SIGKILL)
    wait_gone(survivors, timeout)
    return survivors


def signal_if_alive(process: ProcessIdentity, signum: signal.Signals) -> None:
    """Signal through a pidfd, so a pid reused after the check is never hit."""
    try:
        pidfd = os.pidfd_open(process.pid)
    except ProcessLookupError:
        return
    try:
        if process.alive():
            signal.pidfd_send_signal(pidfd, signum)
    except ProcessLookupError:
        pass
    finally:
        os.close(pidfd)

"""Before a run starts: what an earlier run left behind, and who holds the ports it needs.

- One launcher per run directory: `run_dir_lock` holds an flock the kernel drops when the
  launcher dies, however it dies, so a stale lock cannot exist.
- Each service started by a `LocalSystem` leaves a record under `<run dir>/pids/`: its pid and
  start time, and its launcher's. A service alive with the same start time is provably ours:
  `clear_earlier_run` stops it (once its launcher is gone; while it lives, it refuses).
- `check_ports_free` names whatever else listens on a needed port, with its pid and command.
Each refusal is an `InTheWay` error whose message says what to do.
"""

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from ensemble_devkit.processes import (
    ProcessIdentity,
    command_line,
    listeners,
    port_in_use,
    terminate,
)


class InTheWay(Exception):
    """An earlier run or another program holds what this run needs."""

    exit_code = 3


@contextlib.contextmanager
def run_dir_lock(run_dir: Path) -> Iterator[None]:
    run_dir.mkdir(parents=True, exist_ok=True)
    with (run_dir / "launcher.lock").open("a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            pid = lock.read().strip() or "?"
            raise InTheWay(
                f"another launcher is running from {run_dir}: pid {pid} ({_command_line_of(pid)})."
                f"\nStop it with Ctrl-C in its terminal, or: kill {pid}"
            ) from None
        lock.truncate(0)
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        yield


def _command_line_of(pid: str) -> str:
    return command_line(int(pid)) if pid.isdigit() else "?"


@dataclass(frozen=True)
class ServiceRecord:
    name: str
    process: ProcessIdentity
    launcher: ProcessIdentity

    def write(self, pid_dir: Path) -> None:
        pid_dir.mkdir(parents=True, exist_ok=True)
        (pid_dir / f"{self.name}.json").write_text(json.dumps(asdict(self)) + "\n")

    @classmethod
    def read_all(cls, pid_dir: Path) -> list["ServiceRecord"]:
        records = []
        for path in sorted(pid_dir.glob("*.json")):
            try:
                raw = json.loads(path.read_text())
                process, launcher = raw["process"], raw["launcher"]
                records.append(
                    cls(raw["name"], ProcessIdentity(**process), ProcessIdentity(**launcher))
                )
            except (OSError, ValueError, KeyError, TypeError):
                continue  # half written by a launcher that died mid-write: nothing to trust
        return records


def clear_earlier_run(pid_dir: Path, stop_timeout: float) -> list[ServiceRecord]:
    """Stop the services an earlier, dead launcher left running; return them."""
    records = ServiceRecord.read_all(pid_dir)
    me = ProcessIdentity.me()
    launchers = {r.launcher for r in records if r.launcher != me and r.launcher.alive()}
    if launchers:
        pids = " ".join(str(launcher.pid) for launcher in launchers)
        running = ", ".join(f"pid {p.pid} ({p.command()})" for p in launchers)
        raise InTheWay(
            f"an earlier run from {pid_dir.parent} is still running: {running}."
            f"\nStop it with Ctrl-C in its terminal, or: kill {pids}"
        )
    left = [record for record in records if record.process.alive()]
    terminate([record.process for record in left], stop_timeout)
    for path in pid_dir.glob("*.json"):
        path.unlink(missing_ok=True)
    return left


def check_ports_free(ports: Mapping[int, str]) -> None:
    """Raise `InTheWay` naming the holders of any port in `ports` (port: what needs it)."""
    lines, pids = [], []
    for port, needed_by in sorted(ports.items()):
        if not port_in_use(port):
            continue
        holders = listeners(port)
        pids += holders
        held_by = ", ".join(f"pid {pid} ({command_line(pid)})" for pid in holders)
        lines.append(
            f"  port {port} ({needed_by}) is held by "
            + (held_by or f"a process this user cannot see: `ss -ltnp 'sport = :{port}'`")
        )
    if not lines:
        return
    advice = f"\nStop it with: kill {' '.join(map(str, sorted(set(pids))))}" if pids else ""
    raise InTheWay("ports this run needs are in use:\n" + "\n".join(lines) + advice)

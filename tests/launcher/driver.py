"""`ensemble-local run` as `make run` starts it (minus make and uv), read line by line."""

import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

from ensemble_devkit.processes import ProcessIdentity

LAUNCHER = Path(sys.executable).with_name("ensemble-local")
RUNNING = "Ensemble is running."  # printed once the services are ready and the demo data loaded


def launcher_command(run_dir: Path, base_port: int) -> list[str]:
    return [str(LAUNCHER), "run", "--run-dir", str(run_dir), "--base-port", str(base_port)]


class Launcher:
    def __init__(self, run_dir: Path, base_port: int, kafka: str) -> None:
        self.process = subprocess.Popen(
            launcher_command(run_dir, base_port),
            env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, name="launcher-output", daemon=True).start()

    def __enter__(self) -> "Launcher":
        return self

    def __exit__(self, *_exc: object) -> None:
        """Stopped in order if a test left it running (it failed, say)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)  # end of output: the launcher has exited

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                message = f"no {text!r} within {timeout}s:\n{self.transcript()}"
                raise AssertionError(message) from None
            if line is None:
                code = self.process.wait()
                raise AssertionError(f"exited ({code}) before {text!r}:\n{self.transcript()}")
            self.output.append(line)
            if text in line:
                return

    def wait_exit(self, timeout: float) -> int:
        code = self.process.wait(timeout=timeout)
        while (line := self._lines.get(timeout=timeout)) is not None:
            self.output.append(line)
        return code

    def transcript(self) -> str:
        return "".join(self.output)

    def children(self) -> list[ProcessIdentity]:
        """Its child processes, found in /proc: not taken from the launcher's own pid files."""
        found = []
        for entry in Path("/proc").iterdir():
            try:
                stat = (entry / "stat").read_text() if entry.name.isdigit() else ""
            except OSError:  # gone meanwhile
                continue
            if stat and int(stat.rsplit(")", 1)[1].split()[1]) == self.process.pid:
                child = ProcessIdentity.of(int(entry.name))
                if child is not None:
                    found.append(child)
        return found

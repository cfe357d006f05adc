"""Where a bench ran: the machine and the commit, for the report's header."""

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from ensemble_devkit import REPO_ROOT


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in _read("/proc/cpuinfo").splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or platform.machine(),
    )
    memory = next(
        (line.split()[1] for line in _read("/proc/meminfo").splitlines() if "MemTotal" in line),
        "0",
    )
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(int(memory) / 1024**2, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def git_commit() -> str:
    def git(*args: str) -> str:
        try:
            done = subprocess.run(
                ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10
            )
        except OSError:
            return ""
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return f"{commit} + uncommitted changes" if git("status", "--porcelain") else commit


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""

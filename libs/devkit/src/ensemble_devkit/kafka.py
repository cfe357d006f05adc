"""Find a real Apache Kafka broker for tests and `make run`.

Order: `KAFKA_BOOTSTRAP_SERVERS` if set; else testcontainers when a Docker engine answers;
else the project's own script (`deploy/kafka/kafka.sh`), which runs Kafka from Maven jars.
"""

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ensemble_devkit import REPO_ROOT
from ensemble_devkit.leftovers import check_ports_free

KAFKA_SCRIPT = REPO_ROOT / "deploy" / "kafka" / "kafka.sh"


@dataclass
class KafkaBroker:
    """A running broker. `restartable` brokers support stop/start for fault tests."""

    bootstrap_servers: str
    kind: str
    _env: dict[str, str] = field(default_factory=dict)
    _container: Any = None

    @property
    def restartable(self) -> bool:
        return self.kind == "local"

    def _script(self, command: str) -> None:
        subprocess.run(
            [str(KAFKA_SCRIPT), command], env={**os.environ, **self._env}, check=True, timeout=300
        )

    def start(self) -> None:
        self._script("start")

    def stop(self) -> None:
        self._script("stop")

    def kill(self) -> None:
        self._script("kill9")

    def running(self) -> bool:
        """Our broker for this data dir runs (left by an earlier run, say): start reuses it."""
        status = subprocess.run(
            [str(KAFKA_SCRIPT), "status"],
            env={**os.environ, **self._env},
            capture_output=True,
            timeout=30,
        )
        return status.returncode == 0

    def close(self) -> None:
        if self.kind == "local":
            self.stop()
        elif self._container is not None:
            self._container.stop()


def docker_engine_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(["docker", "info"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def local_broker(port: int, data_dir: Path) -> KafkaBroker:
    env = {"KAFKA_PORT": str(port), "KAFKA_DATA_DIR": str(data_dir)}
    broker = KafkaBroker(f"127.0.0.1:{port}", "local", env)
    if not broker.running():
        check_ports_free({port: "Kafka", port + 1: "Kafka's controller"})
    broker.start()
    return broker


def stop_local_broker(data_dir: Path, port: int) -> None:
    KafkaBroker(f"127.0.0.1:{port}", "local", {"KAFKA_DATA_DIR": str(data_dir)}).stop()


def find_broker(port: int, data_dir: Path) -> KafkaBroker:
    if servers := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        return KafkaBroker(servers, "external")
    if docker_engine_answers():
        from testcontainers.kafka import KafkaContainer

        container = KafkaContainer().with_kraft()
        container.start()
        return KafkaBroker(container.get_bootstrap_server(), "docker", _container=container)
    return local_broker(port, data_dir)

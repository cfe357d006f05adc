"""A second, private broker with a SASL_SSL listener, for the Kafka security tests.

`deploy/kafka/kafka.sh` starts it with KAFKA_SASL_SSL_PORT (a self-signed key pair made with
keytool, a generated SASL/PLAIN password) and writes the client settings to client.env. Set
KAFKA_SASL_SSL_CLIENT_ENV to such a file to use a broker that is already running instead.
"""

import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from ensemble_devkit import REPO_ROOT
from ensemble_runtime.service import build_service

from ..support import Runtime, definition, settings

SCRIPT = REPO_ROOT / "deploy" / "kafka" / "kafka.sh"
DATA_DIR = REPO_ROOT / "run" / "runtime-tests-sasl-kafka"
PORTS = {"KAFKA_PORT": "19192", "KAFKA_CONTROLLER_PORT": "19193", "KAFKA_SASL_SSL_PORT": "19194"}


def _script(command: str) -> str:
    env = {**os.environ, **PORTS, "KAFKA_DATA_DIR": str(DATA_DIR)}
    done = subprocess.run(
        [str(SCRIPT), command], env=env, check=True, timeout=300, capture_output=True, text=True
    )
    return done.stdout


def read_client_env(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


@pytest.fixture(scope="session")
def sasl_ssl_client() -> Iterator[dict[str, str]]:
    """KAFKA_* client settings (bootstrap, protocol, SASL user and password, CA file)."""
    if external := os.environ.get("KAFKA_SASL_SSL_CLIENT_ENV"):
        yield read_client_env(Path(external))
        return
    if shutil.which("java") is None or shutil.which("keytool") is None:
        pytest.skip("a SASL_SSL broker needs java and keytool (Java 17)")
    _script("stop")  # one left over from an interrupted run
    shutil.rmtree(DATA_DIR, ignore_errors=True)  # fresh keys, password and topics
    output = _script("start")
    try:
        (env_file,) = [
            line.split("=", 1)[1] for line in output.splitlines() if "client_env=" in line
        ]
        yield read_client_env(Path(env_file))
    finally:
        _script("stop")


@pytest.fixture
async def runtime(tmp_path: Path, kafka_bootstrap: str) -> AsyncIterator[Runtime]:
    """The test service on the shared broker with a SQLite store of its own, running."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    runtime = build_service(definition(), settings(url, kafka_bootstrap)).runtime
    await runtime.start()
    yield runtime
    await runtime.stop()
    runtime.engine.dispose()

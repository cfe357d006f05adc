"""A PostgreSQL server for tests: `TEST_POSTGRES_URL`, else testcontainers, else a private
cluster started by `deploy/postgres/postgres.sh` (which installs PostgreSQL from Debian)."""

import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from ensemble_devkit import REPO_ROOT
from ensemble_devkit.kafka import docker_engine_answers
from ensemble_devkit.leftovers import check_ports_free

POSTGRES_SCRIPT = REPO_ROOT / "deploy" / "postgres" / "postgres.sh"


def start_private_server(env: dict[str, str], port: int) -> None:
    """Start (or reuse: an earlier run may have left it running) the cluster in PG_DATA_DIR."""
    status = subprocess.run(
        [str(POSTGRES_SCRIPT), "status"], env=env, capture_output=True, timeout=120
    )
    if status.returncode != 0:
        check_ports_free({port: "PostgreSQL"})
    subprocess.run([str(POSTGRES_SCRIPT), "start"], env=env, check=True, timeout=600)


@contextmanager
def postgres_server(port: int, data_dir: Path) -> Iterator[str]:
    """Yield a server URL (`postgresql+psycopg://user:pw@host:port`) without a database name."""
    if url := os.environ.get("TEST_POSTGRES_URL"):
        yield url.rstrip("/")
        return
    if docker_engine_answers():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:15", driver="psycopg") as container:
            yield container.get_connection_url().rsplit("/", 1)[0]
        return
    env = {**os.environ, "PG_PORT": str(port), "PG_DATA_DIR": str(data_dir), "PG_DATABASES": ""}
    start_private_server(env, port)
    try:
        yield f"postgresql+psycopg://ensemble:ensemble@127.0.0.1:{port}"
    finally:
        subprocess.run([str(POSTGRES_SCRIPT), "stop"], env=env, check=False, timeout=120)


def create_database(server_url: str, prefix: str = "test") -> str:
    """Create a fresh, uniquely named database and return its SQLAlchemy URL."""
    name = f"{re.sub(r'[^a-z0-9_]', '_', prefix.lower())}_{uuid.uuid4().hex[:10]}"
    libpq_url = server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(f"{libpq_url}/postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')  # name is generated above, not input
    return f"{server_url}/{name}"


@contextmanager
def service_databases(port: int, data_dir: Path, names: list[str]) -> Iterator[dict[str, str]]:
    """A private server with one database per service (kept across runs) → name: URL."""
    env = {**os.environ, "PG_PORT": str(port), "PG_DATA_DIR": str(data_dir)}
    env["PG_DATABASES"] = " ".join(names)
    start_private_server(env, port)
    try:
        yield {
            name: f"postgresql+psycopg://ensemble:ensemble@127.0.0.1:{port}/{name}"
            for name in names
        }
    finally:
        subprocess.run([str(POSTGRES_SCRIPT), "stop"], env=env, check=False, timeout=120)

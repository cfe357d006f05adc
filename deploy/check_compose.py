"""Offline check of deploy/compose.yaml, for machines without a Docker engine or compose plugin.

`docker compose config -q` is the real check (deploy/lint.sh runs it when the client has the
compose plugin); this one checks what the file means for Ensemble: every service healthy before
its dependants start, the topics job first, one database per service, a known SERVICE build arg,
and secrets only as files (compose `secrets:` named by `*_FILE` settings, none written inline).
"""

import re
import sys
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parent
COMPOSE = DEPLOY / "compose.yaml"
INIT_SQL = DEPLOY / "postgres" / "init-databases.sql"
SERVICES = ("hospital-feed", "scoring", "referral", "scheduling")
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
SECRETS_DIR = "/run/secrets/"
# Settings that hold a secret: given inline they would sit in `docker inspect` and the file.
SECRET_SUFFIXES = ("_TOKENS", "_PASSWORD", "_KEY")
PASSWORD_IN_URL = re.compile(r"://[^/@:]+:[^/@]*@")


def problems(compose: dict[str, Any], databases: set[str]) -> list[str]:
    found: list[str] = []
    services: dict[str, Any] = compose.get("services", {})
    for name in ("kafka", "postgres", "topics", *SERVICES):
        if name not in services:
            found.append(f"service {name} is missing")
    for name, service in services.items():
        for needed, how in (service.get("depends_on") or {}).items():
            if needed not in services:
                found.append(f"{name} depends on unknown service {needed}")
            elif how.get("condition") not in CONDITIONS:
                found.append(f"{name}: depends_on {needed} needs a condition")
            elif how["condition"] == "service_healthy" and "healthcheck" not in services[needed]:
                found.append(f"{name} waits for {needed} to be healthy; it has no healthcheck")
    for name in SERVICES:
        service = services.get(name, {})
        arg = (service.get("build") or {}).get("args", {}).get("SERVICE")
        if arg != name:
            found.append(f"{name}: build arg SERVICE is {arg!r}")
        if "healthcheck" not in service:
            found.append(f"{name} has no healthcheck")
        if (service.get("depends_on") or {}).get("topics", {}).get("condition") != (
            "service_completed_successfully"
        ):
            found.append(f"{name} must start after the topics job has completed")
        prefix = name.upper().replace("-", "_")
        url = (service.get("environment") or {}).get(f"{prefix}_DATABASE_URL", "")
        database = url.rsplit("/", 1)[-1]
        if not url.startswith("postgresql+psycopg://") or database not in databases:
            found.append(f"{name}: {prefix}_DATABASE_URL must name its own database")
        if PASSWORD_IN_URL.search(url):
            found.append(
                f"{name}: {prefix}_DATABASE_URL has a password: use DATABASE_PASSWORD_FILE"
            )
        for setting in ("DATABASE_PASSWORD", "STAFF_TOKENS"):
            if f"{prefix}_{setting}_FILE" not in (service.get("environment") or {}):
                found.append(f"{name}: {prefix}_{setting}_FILE is not set")
    for name in ("postgres", *SERVICES):
        found += secret_problems(name, services.get(name, {}), compose.get("secrets") or {})
    return found


def secret_problems(name: str, service: dict[str, Any], declared: dict[str, Any]) -> list[str]:
    """Every secret of the service is a file it mounts from a declared compose secret."""
    found: list[str] = []
    mounted = {
        entry if isinstance(entry, str) else entry.get("target", entry.get("source"))
        for entry in service.get("secrets") or []
    }
    sources = {
        entry if isinstance(entry, str) else entry.get("source")
        for entry in service.get("secrets") or []
    }
    for variable, value in (service.get("environment") or {}).items():
        if variable.endswith(SECRET_SUFFIXES):
            found.append(f"{name}: {variable} is written in the file: use {variable}_FILE")
        elif (
            variable.endswith("_FILE")
            and str(value).startswith(SECRETS_DIR)
            and str(value).removeprefix(SECRETS_DIR) not in mounted
        ):
            found.append(f"{name}: {variable} names {value}, a secret it does not mount")
    for source in sources:
        if "file" not in (declared.get(source) or {}):
            found.append(f"{name} mounts secret {source}, which is not declared with a file")
    return found


def main() -> int:
    compose = yaml.safe_load(COMPOSE.read_text())
    databases = set(re.findall(r"CREATE DATABASE (\w+);", INIT_SQL.read_text()))
    found = problems(compose, databases)
    for problem in found:
        print(f"deploy/compose.yaml: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())

"""The four services as separate OS processes, each with its own store, on one broker."""

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

PRACTICES = ("L85001", "L85002", "L85003")
SENDERS = ("RCB",)


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str
    env_prefix: str
    port_offset: int


SERVICES = (
    ServiceSpec("hospital-feed", "hospital_feed", "HOSPITAL_FEED", 1),
    ServiceSpec("scoring", "scoring", "SCORING", 2),
    ServiceSpec("referral", "referral", "REFERRAL", 3),
    ServiceSpec("scheduling", "scheduling", "SCHEDULING", 4),
)


@dataclass
class Credentials:
    """What `run/credentials.json` holds: where everything is and the demo tokens."""

    kafka: str
    senders: dict[str, str]
    practices: dict[str, str]
    staff: str
    services: dict[str, str] = field(default_factory=dict)

    @classmethod
    def generate(cls, kafka: str, base_port: int) -> "Credentials":
        return cls(
            kafka=kafka,
            senders={s: secrets.token_urlsafe(24) for s in SENDERS},
            practices={p: secrets.token_urlsafe(24) for p in PRACTICES},
            staff=secrets.token_urlsafe(24),
            services={s.name: f"http://127.0.0.1:{base_port + s.port_offset}" for s in SERVICES},
        )

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")
        path.chmod(0o600)


class ServiceProcess:
    def __init__(self, spec: ServiceSpec, env: dict[str, str], log_path: Path, url: str) -> None:
        self.spec = spec
        self.env = env
        self.log_path = log_path
        self.url = url
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.spec.module],
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in a terminal reaches us, not the services
            )

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.spec.name} exited; see {self.log_path}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.spec.name} not ready after {timeout}s; see {self.log_path}")

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self, timeout: float = 30.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


class LocalSystem:
    """Starts hospital-feed, scoring, referral and scheduling against one broker."""

    def __init__(
        self,
        run_dir: Path,
        credentials: Credentials,
        database_urls: dict[str, str] | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.run_dir = run_dir
        self.credentials = credentials
        self.processes: dict[str, ServiceProcess] = {}
        for spec in SERVICES:
            database_url = (database_urls or {}).get(
                spec.name, f"sqlite:///{run_dir / 'data' / spec.module}.db"
            )
            self.processes[spec.name] = ServiceProcess(
                spec,
                self._env(spec, database_url, extra_env or {}),
                run_dir / "logs" / f"{spec.name}.log",
                credentials.services[spec.name],
            )

    def _env(self, spec: ServiceSpec, database_url: str, extra: dict[str, str]) -> dict[str, str]:
        creds = self.credentials
        settings = {
            "KAFKA_BOOTSTRAP_SERVERS": creds.kafka,
            "DATABASE_URL": database_url,
            "HTTP_PORT": creds.services[spec.name].rsplit(":", 1)[1],
            "STAFF_TOKENS": json.dumps({"staff": creds.staff}),
            "SENDER_TOKENS": json.dumps(creds.senders),
            "PRACTICE_TOKENS": json.dumps(creds.practices),
            "LOG_JSON": "true",
        }
        env = {f"{spec.env_prefix}_{k}": v for k, v in settings.items()}
        return env | {k: v for k, v in extra.items() if k.startswith(spec.env_prefix)}

    def database_url(self, name: str) -> str:
        spec = self.processes[name].spec
        return self.processes[name].env[f"{spec.env_prefix}_DATABASE_URL"]

    def start(self) -> None:
        for process in self.processes.values():
            process.start()
        for process in self.processes.values():
            process.wait_ready()

    def stop(self) -> None:
        for process in self.processes.values():
            process.stop()

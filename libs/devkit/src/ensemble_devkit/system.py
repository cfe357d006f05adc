"""The four services as separate OS processes, each with its own store, on one broker.

The services end with the process that started them, however it ends: each holds the read
end of a pipe whose write end only this process has (see `ensemble_runtime.lifeline`).
"""

import functools
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

from ensemble_devkit.leftovers import ServiceRecord, check_ports_free, clear_earlier_run
from ensemble_devkit.processes import ProcessIdentity
from ensemble_runtime.lifeline import LIFELINE_FD

# Services drain for up to their graceful timeout (15 s) on SIGTERM; then they are killed,
# which loses nothing: the outbox and idempotent consumers make a kill safe.
STOP_SECONDS = 20.0

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


def service_ports(base_port: int) -> dict[int, str]:
    return {base_port + spec.port_offset: spec.name for spec in SERVICES}


def clear_the_way(run_dir: Path, ports: dict[int, str]) -> None:
    """Stop what an earlier run left in `run_dir`, then insist that `ports` are free."""
    stopped = clear_earlier_run(run_dir / "pids", STOP_SECONDS)
    if stopped:
        names = ", ".join(f"{r.name} (pid {r.process.pid})" for r in stopped)
        print(f"stopped what an earlier run left running: {names}", flush=True)
    check_ports_free(ports)


@functools.cache
def lifeline() -> int:
    """The read end of this process's lifeline; the write end stays open until we exit."""
    read_end, _write_end = os.pipe()  # neither is inherited unless passed on purpose
    return read_end


class ServiceFailed(RuntimeError):
    """A service exited or did not become ready; its log says why."""


class ServiceProcess:
    def __init__(
        self, spec: ServiceSpec, env: dict[str, str], log_path: Path, url: str, pid_dir: Path
    ) -> None:
        self.spec = spec
        self.env = env
        self.log_path = log_path
        self.url = url
        self.pid_dir = pid_dir
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.spec.module],
                env={**os.environ, **self.env, LIFELINE_FD: str(lifeline())},
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=(lifeline(),),
                # Our own group: Ctrl-C or a closed terminal reaches the launcher, which then
                # stops the services in order, not the services directly.
                start_new_session=True,
            )
        identity = ProcessIdentity.of(self.process.pid)
        if identity is not None:  # None: it died at once; wait_ready says so
            ServiceRecord(self.spec.name, identity, ProcessIdentity.me()).write(self.pid_dir)

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ServiceFailed(f"{self.spec.name} exited; see {self.log_path}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise ServiceFailed(f"{self.spec.name} not ready after {timeout}s; see {self.log_path}")

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()

    def kill(self) -> None:
        """SIGKILL without waiting: safe in a signal handler that interrupted a wait."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()

    def wait_or_kill(self, deadline: float) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        (self.pid_dir / f"{self.spec.name}.json").unlink(missing_ok=True)


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
        self.ports = {int(credentials.services[s.name].rsplit(":", 1)[1]): s.name for s in SERVICES}
        self.processes: dict[str, ServiceProcess] = {}
        self._practices_provisioned = False
        # hospital-feed's key for finding messages by NHS number (HMAC): one per system.
        self.message_search_key = secrets.token_urlsafe(32)
        for spec in SERVICES:
            database_url = (database_urls or {}).get(
                spec.name, f"sqlite:///{run_dir / 'data' / spec.module}.db"
            )
            self.processes[spec.name] = ServiceProcess(
                spec,
                self._env(spec, database_url, extra_env or {}),
                run_dir / "logs" / f"{spec.name}.log",
                credentials.services[spec.name],
                run_dir / "pids",
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
            "MESSAGE_SEARCH_KEY": self.message_search_key,  # read by hospital-feed only
            # The demo's and the tests' webhook receivers listen on loopback (hospital-feed).
            "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8,::1/128",
        }
        env = {f"{spec.env_prefix}_{k}": v for k, v in settings.items()}
        return env | {k: v for k, v in extra.items() if k.startswith(spec.env_prefix)}

    def database_url(self, name: str) -> str:
        spec = self.processes[name].spec
        return self.processes[name].env[f"{spec.env_prefix}_DATABASE_URL"]

    def start(self) -> None:
        clear_the_way(self.run_dir, self.ports)
        if not self._practices_provisioned:
            self._provision_practice_users()
        for process in self.processes.values():
            process.start()
        for process in self.processes.values():
            process.wait_ready()

    def _provision_practice_users(self) -> None:
        """Practice people sign in to hospital-feed with tokens kept hashed in its own store,
        issued by its access CLI (as an operator would), not with tokens from its environment.
        Each practice gets a user `demo` and a fresh token; the other services, which take
        practice callers by environment, are given the same tokens."""
        feed = self.processes["hospital-feed"]
        users = [arg for ods in self.credentials.practices for arg in ("--user", f"{ods}:demo")]
        cli = [sys.executable, "-m", "hospital_feed.entrypoints.access_cli", "--json"]
        done = subprocess.run(
            [*cli, "provision", *users, "--label", "ensemble-local"],
            env={**os.environ, **feed.env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise ServiceFailed(f"hospital-feed's access CLI failed: {done.stderr.strip()}")
        issued = {t["practice"]: t["token"] for t in json.loads(done.stdout)["tokens"]}
        self.credentials.practices.update(issued)  # in place: whoever holds them sees these
        for process in self.processes.values():
            practice_tokens = f"{process.spec.env_prefix}_PRACTICE_TOKENS"
            if process.spec.name == "hospital-feed":
                process.env.pop(practice_tokens, None)
            else:
                process.env[practice_tokens] = json.dumps(self.credentials.practices)
        self._practices_provisioned = True

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """SIGTERM all at once; whoever has not drained within `timeout` is killed."""
        for process in self.processes.values():
            process.terminate()
        deadline = time.monotonic() + timeout
        for process in self.processes.values():
            process.wait_or_kill(deadline)

    def kill(self) -> None:
        for process in self.processes.values():
            process.kill()

"""The Dockerfile and compose file, checked offline (no Docker engine here): the SERVICE guard
and the entrypoint run as the image would run them, the compose checker on good and bad files."""

import copy
import importlib.util
import os
import re
import subprocess
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from ensemble_devkit import REPO_ROOT, service_map
from ensemble_devkit.system import SERVICES
from ensemble_runtime.auth import parse_token_map
from ensemble_runtime.secrets import secret_env_names

from .conftest import DEPLOY

DOCKERFILE = (DEPLOY / "Dockerfile").read_text()
ENTRYPOINT = DEPLOY / "container" / "ensemble-container"


def service_guard() -> str:
    """The Dockerfile's first RUN: the shell that checks SERVICE."""
    match = re.search(r"^RUN (case .*?esac)$", DOCKERFILE, re.S | re.M)
    assert match, "the SERVICE guard is gone from deploy/Dockerfile"
    return match.group(1).replace("\\\n", "\n")


@pytest.mark.parametrize("service", [s.name for s in SERVICES])
def test_the_guard_lets_every_service_through(service):
    done = subprocess.run(
        ["sh", "-c", service_guard()], env={"SERVICE": service}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("wrong", ["", "hospital_feed", "bogus"])
def test_a_wrong_service_fails_the_build_in_one_line(wrong):
    done = subprocess.run(
        ["sh", "-c", service_guard()], env={"SERVICE": wrong}, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert f"(got '{wrong}')" in done.stderr


def test_the_image_pins_the_uv_of_the_makefile_and_runs_as_a_user():
    makefile_uv = re.search(r"^UV_VERSION := (\S+)$", (REPO_ROOT / "Makefile").read_text(), re.M)
    assert makefile_uv
    assert f"pip install --no-cache-dir uv=={makefile_uv.group(1)}" in DOCKERFILE
    assert 'uv sync --locked --no-dev --no-editable --package "ensemble-${SERVICE}"' in DOCKERFILE
    assert "USER 10001:10001" in DOCKERFILE
    assert 'CMD ["ensemble-container", "healthcheck"]' in DOCKERFILE


def fake_service(tmp_path: Path) -> dict[str, str]:
    """A PATH whose `ensemble-service` prints the bind settings it was started with."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "ensemble-service"
    fake.write_text('#!/bin/sh\nenv | grep "_HTTP_" | sort\n')
    fake.chmod(0o755)
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}"}


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_the_entrypoint_listens_on_every_interface_by_default(spec, tmp_path):
    env = fake_service(tmp_path) | {"ENSEMBLE_SERVICE": spec.name}
    done = subprocess.run([ENTRYPOINT], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.split() == [
        f"{spec.env_prefix}_HTTP_HOST=0.0.0.0",
        f"{spec.env_prefix}_HTTP_PORT={8000 + spec.port_offset}",
    ]


def test_the_entrypoint_keeps_explicit_settings_and_refuses_unknown_services(tmp_path):
    env = fake_service(tmp_path) | {
        "ENSEMBLE_SERVICE": "scoring",
        "SCORING_HTTP_HOST": "10.1.2.3",
        "SCORING_HTTP_PORT": "9000",
    }
    done = subprocess.run([ENTRYPOINT, "serve"], env=env, capture_output=True, text=True)
    assert done.stdout.split() == ["SCORING_HTTP_HOST=10.1.2.3", "SCORING_HTTP_PORT=9000"]
    env["ENSEMBLE_SERVICE"] = "nope"
    done = subprocess.run([ENTRYPOINT], env=env, capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr == "ensemble-container: unknown service 'nope'\n"


def test_the_healthcheck_fails_when_nothing_answers(tmp_path):
    env = fake_service(tmp_path) | {"ENSEMBLE_SERVICE": "referral", "REFERRAL_HTTP_PORT": "1"}
    done = subprocess.run([ENTRYPOINT, "healthcheck"], env=env, capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.startswith("not ready:")


def compose_checker() -> ModuleType:
    loaded = importlib.util.spec_from_file_location("check_compose", DEPLOY / "check_compose.py")
    assert loaded and loaded.loader
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    return module


def test_the_compose_file_passes_its_check():
    checker = compose_checker()
    assert checker.main() == 0


def test_the_compose_check_catches_a_broken_start_order():
    checker = compose_checker()
    compose = yaml.safe_load(checker.COMPOSE.read_text())
    databases = {"hospital_feed", "scoring", "referral", "scheduling"}
    broken = copy.deepcopy(compose)
    del broken["services"]["postgres"]["healthcheck"]
    # The services share one depends_on (a YAML merge): give scoring its own, without topics.
    broken["services"]["scoring"]["depends_on"] = {
        k: v for k, v in broken["services"]["scoring"]["depends_on"].items() if k != "topics"
    }
    broken["services"]["referral"]["build"]["args"]["SERVICE"] = "scoring"
    broken["services"]["scheduling"]["environment"]["SCHEDULING_DATABASE_URL"] += "x"
    assert checker.problems(compose, databases) == []
    assert sorted(checker.problems(broken, databases)) == sorted(
        [
            "hospital-feed waits for postgres to be healthy; it has no healthcheck",
            "scoring waits for postgres to be healthy; it has no healthcheck",
            "referral waits for postgres to be healthy; it has no healthcheck",
            "scheduling waits for postgres to be healthy; it has no healthcheck",
            "scoring must start after the topics job has completed",
            "referral: build arg SERVICE is 'scoring'",
            "scheduling: SCHEDULING_DATABASE_URL must name its own database",
        ]
    )


def test_kafka_env_hands_the_service_settings_to_the_dlq_cli(tmp_path):
    env = fake_service(tmp_path) | {
        "ENSEMBLE_SERVICE": "hospital-feed",
        "HOSPITAL_FEED_KAFKA_BOOTSTRAP_SERVERS": "kafka:9093",
        "HOSPITAL_FEED_KAFKA_SASL_USERNAME": "hospital-feed",
    }
    done = subprocess.run(
        [ENTRYPOINT, "kafka-env", "sh", "-c", "env | grep ^KAFKA_ | sort"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == [
        "KAFKA_BOOTSTRAP_SERVERS=kafka:9093",
        "KAFKA_SASL_USERNAME=hospital-feed",
    ]


def test_kafka_env_reads_the_sasl_password_from_its_file(tmp_path):
    password = tmp_path / "kafka-user" / "password"
    password.parent.mkdir()
    password.write_text("scram-password-from-the-secret")
    env = fake_service(tmp_path) | {
        "ENSEMBLE_SERVICE": "scoring",
        "SCORING_KAFKA_SASL_PASSWORD_FILE": str(password),
    }
    command: list[str | Path] = [ENTRYPOINT, "kafka-env", "sh", "-c", 'echo "$KAFKA_SASL_PASSWORD"']
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "scram-password-from-the-secret"

    password.unlink()
    missing = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert missing.returncode == 2
    assert missing.stdout == ""
    assert missing.stderr.splitlines() == [
        f"ensemble-container: SCORING_KAFKA_SASL_PASSWORD_FILE: cannot read {password}"
    ]


def test_the_compose_check_refuses_secrets_written_inline():
    checker = compose_checker()
    compose = yaml.safe_load(checker.COMPOSE.read_text())
    databases = {"hospital_feed", "scoring", "referral", "scheduling"}
    broken = copy.deepcopy(compose)
    scoring = broken["services"]["scoring"]
    scoring["environment"]["SCORING_PRACTICE_TOKENS"] = '{"L85001": "written-in-the-file"}'
    scoring["environment"]["SCORING_DATABASE_URL"] = (
        "postgresql+psycopg://ensemble:pw@postgres:5432/scoring"
    )
    scoring["secrets"].remove("scoring-staff-tokens")
    del broken["secrets"]["referral-practice-tokens"]
    broken["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"] = "inline"
    assert sorted(checker.problems(broken, databases)) == sorted(
        [
            "scoring: SCORING_DATABASE_URL has a password: use DATABASE_PASSWORD_FILE",
            "scoring: SCORING_PRACTICE_TOKENS is written in the file: use"
            " SCORING_PRACTICE_TOKENS_FILE",
            "scoring: SCORING_STAFF_TOKENS_FILE names /run/secrets/scoring-staff-tokens,"
            " a secret it does not mount",
            "referral mounts secret referral-practice-tokens, which is not declared with a file",
            "postgres: POSTGRES_PASSWORD is written in the file: use POSTGRES_PASSWORD_FILE",
        ]
    )


def test_compose_secret_files_are_the_services_secret_settings(tmp_path):
    """Each `*_FILE` in compose names a secret setting of its service, and
    deploy/compose-secrets.sh makes every file compose declares, in a form the service takes."""
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    definitions = {d.name: d for d in service_map.load_definitions()}
    for spec in SERVICES:
        service = compose["services"][spec.name]
        secret_files = set(secret_env_names(definitions[spec.name].settings).values())
        named = {v for v in service["environment"] if v.endswith("_FILE")}
        assert named <= secret_files, f"{spec.name}: {named - secret_files} are no secret settings"
    subprocess.run([DEPLOY / "compose-secrets.sh", tmp_path], check=True, capture_output=True)
    declared = {
        name: source["file"].removeprefix("./secrets/")
        for name, source in compose["secrets"].items()
    }
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(declared.values())
    for path in tmp_path.glob("*-tokens"):
        parse_token_map(path.read_text(), path.name)  # valid JSON, every token long enough
    assert len((tmp_path / "postgres-password").read_text().strip()) >= 32
    again = subprocess.run(
        [DEPLOY / "compose-secrets.sh", tmp_path], check=True, capture_output=True, text=True
    )
    assert all(line.startswith("kept") for line in again.stdout.splitlines())  # never rewritten


def test_the_topics_job_provisions_the_contracts_registry():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    job = compose["services"]["topics"]
    assert job["command"][:2] == ["python", "-c"]
    script = job["command"][2]
    compile(script, "topics-job", "exec")  # a syntax error would only show at `compose up`
    assert "ensure_topics(" in script
    assert "from ensemble_contracts import TOPICS" in script
    assert job["restart"] == "no"

"""Secret files: read at start (or refused in one line), re-read by content while running
(including Kubernetes' `..data` symlink swap), last good value kept when the file goes."""

import json
import os
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
import structlog
from pydantic import SecretStr

from ensemble_devkit.secret_volume import SecretVolume
from ensemble_runtime.auth import FileTokenRegistry, TokenRegistry, parse_token_map
from ensemble_runtime.config import ServiceSettings
from ensemble_runtime.secrets import SecretFile, SecretFileError, non_empty

OLD = "old-token-0123456789"
NEW = "new-token-9876543210"


class ManualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Settings(ServiceSettings):
    model_config = ServiceSettings.model_config | {"env_prefix": "SECRETS_TEST_"}

    service_name: str = "secrets-test"
    """The test service."""
    database_url: str = "sqlite://"
    """Its store."""
    http_port: int = 0
    """Its port."""


@pytest.fixture
def log() -> Iterator[list[MutableMapping[str, Any]]]:
    with structlog.testing.capture_logs() as captured:
        yield captured


def tokens(token: str) -> str:
    return json.dumps({"ops": token})


def token_file(path: Path, clock: ManualClock) -> SecretFile[dict[str, str]]:
    return SecretFile(path, "X_STAFF_TOKENS_FILE", parse_token_map, 2.0, clock)


def test_a_changed_file_is_read_again_after_the_check_period(tmp_path: Path) -> None:
    path = tmp_path / "staff-tokens"
    path.write_text(tokens(OLD))
    clock = ManualClock()
    file = token_file(path, clock)
    path.write_text(tokens(NEW))
    assert file.value() == {"ops": OLD}  # checked less than the period ago
    clock.now = 2.0
    assert file.value() == {"ops": NEW}


def test_a_kubernetes_symlink_swap_is_seen_even_with_the_same_size_and_mtime(
    tmp_path: Path,
) -> None:
    volume = SecretVolume(tmp_path)
    volume.write(**{"staff-tokens": tokens(OLD)})
    path = volume.path("staff-tokens")
    stat = volume.current("staff-tokens").stat()
    clock = ManualClock()
    file = token_file(path, clock)
    volume.write(**{"staff-tokens": tokens(NEW)})  # same length as the old content
    newest = volume.current("staff-tokens")
    os.utime(newest, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # an mtime that did not move
    clock.now = 2.0
    assert file.value() == {"ops": NEW}


def test_a_file_gone_later_keeps_the_last_good_value_and_warns_once(
    tmp_path: Path, log: list[MutableMapping[str, Any]]
) -> None:
    path = tmp_path / "staff-tokens"
    path.write_text(tokens(OLD))
    clock = ManualClock()
    file = token_file(path, clock)
    path.unlink()
    for step in (2.0, 4.0, 6.0):
        clock.now = step
        assert file.value() == {"ops": OLD}
    warnings = [entry for entry in log if entry["log_level"] == "warning"]
    assert len(warnings) == 1
    assert warnings[0]["setting"] == "X_STAFF_TOKENS_FILE"
    path.write_text(tokens(NEW))
    clock.now = 8.0
    assert file.value() == {"ops": NEW}
    assert OLD not in repr(log) and NEW not in repr(log)


def test_content_its_parser_refuses_keeps_the_last_good_value_without_echoing_it(
    tmp_path: Path, log: list[MutableMapping[str, Any]]
) -> None:
    path = tmp_path / "staff-tokens"
    path.write_text(tokens(OLD))
    file = token_file(path, ManualClock())
    path.write_text(json.dumps({"ops": "short-secret"}))  # under the 16-character minimum
    assert file.refresh() is False
    assert file.value() == {"ops": OLD}
    assert "short-secret" not in repr(log)
    assert [entry["event"] for entry in log] == ["secret file refused: keeping the last good value"]


def test_a_missing_file_at_start_is_one_clear_line(tmp_path: Path) -> None:
    missing = tmp_path / "nothing-here"
    with pytest.raises(SecretFileError) as raised:
        SecretFile(missing, "X_DATABASE_PASSWORD_FILE", non_empty)
    message = str(raised.value)
    assert message == (
        f"X_DATABASE_PASSWORD_FILE: cannot read the secret file {missing}: "
        "No such file or directory"
    )
    assert raised.value.__suppress_context__ and raised.value.__cause__ is None


def test_bad_content_at_start_is_refused_without_the_value(tmp_path: Path) -> None:
    path = tmp_path / "staff-tokens"
    path.write_text(json.dumps({"ops": "short-secret"}))
    with pytest.raises(SecretFileError, match="X_STAFF_TOKENS_FILE") as raised:
        token_file(path, ManualClock())
    assert "short-secret" not in str(raised.value)
    empty = tmp_path / "password"
    empty.write_text("\n")
    with pytest.raises(SecretFileError, match="the file is empty"):
        SecretFile(empty, "X_DATABASE_PASSWORD_FILE", non_empty)


def test_settings_read_a_secret_from_its_file_env_var(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = tmp_path / "database-password"
    password.write_text("s3cret-password\n")  # the newline `echo` adds is not the password's
    monkeypatch.setenv("SECRETS_TEST_DATABASE_PASSWORD", "from-the-env")
    monkeypatch.setenv("SECRETS_TEST_DATABASE_PASSWORD_FILE", str(password))
    settings = Settings()
    assert settings.database_password == SecretStr("s3cret-password")  # the file wins
    source = settings.database_password_source()
    assert source is not None and source() == "s3cret-password"
    monkeypatch.setenv("SECRETS_TEST_DATABASE_PASSWORD_FILE", str(tmp_path / "gone"))
    with pytest.raises(SecretFileError, match="SECRETS_TEST_DATABASE_PASSWORD_FILE: cannot read"):
        Settings()


def test_token_registries_follow_their_files_and_env_tokens_stay_fixed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "staff-tokens"
    path.write_text(tokens(OLD))
    monkeypatch.setenv("SECRETS_TEST_STAFF_TOKENS_FILE", str(path))
    settings = Settings(secret_reload_seconds=0)
    staff = settings.caller_registries()["staff"]
    assert isinstance(staff, FileTokenRegistry)
    assert settings.caller_registries()["staff"] is staff  # one per kind: one file's state
    assert staff.principal_for(OLD) == "ops"
    path.write_text(tokens(NEW))
    assert staff.principal_for(OLD) is None
    assert staff.principal_for(NEW) == "ops"
    assert settings.caller_tokens()["staff"] == {"ops": NEW}  # handlers see the rotation too
    monkeypatch.delenv("SECRETS_TEST_STAFF_TOKENS_FILE")
    fixed = Settings(staff_tokens=tokens(OLD)).caller_registries()["staff"]
    assert type(fixed) is TokenRegistry and fixed.principal_for(OLD) == "ops"

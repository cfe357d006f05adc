"""Secrets read from files (a mounted Kubernetes Secret) and re-read while the service runs.

A secret setting `X` of a service with prefix `P_` may come from the file named by the env var
`P_X_FILE` instead of `P_X` itself (the file wins). The file is read when the settings are
made, and a missing or unreadable one stops the start with one line (`SecretFileError`).

While the service runs, `SecretFile.value()` re-reads the file at most every
`SECRET_RELOAD_SECONDS` and compares its *content* with the last one: Kubernetes updates a
secret volume by swapping the `..data` symlink to a new directory, which a stat of the path
alone can miss (same size, an mtime that need not move). Content that its parser refuses, or a
file that has gone, keeps the last good value with a warning. Neither the value nor any part of
it is ever logged: only the setting's name, the file's path and why.
"""

import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Generic, TypeVar

import structlog
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

log = structlog.get_logger(__name__)
T = TypeVar("T")
# The key marking a secret field: Field(json_schema_extra={SECRET: True}).
SECRET = "secret"  # noqa: S105 (a marker, not a password)


class SecretFileError(Exception):
    """A secret file that cannot be used at start: the message is one line, with no value."""


def is_secret(field: FieldInfo) -> bool:
    extra = field.json_schema_extra
    return isinstance(extra, Mapping) and extra.get(SECRET) is True


def secret_env_names(settings_cls: type[BaseSettings]) -> dict[str, str]:
    """Field name -> the env var naming its file (`P_X_FILE`), for every secret field."""
    prefix = str(settings_cls.model_config.get("env_prefix", ""))
    return {
        name: f"{prefix}{name}_FILE".upper()
        for name, field in settings_cls.model_fields.items()
        if is_secret(field)
    }


def non_empty(text: str) -> str:
    """A password's parser: any text but none."""
    if not text.strip():
        raise ValueError("the file is empty")
    return text


def read_secret(path: Path, setting: str) -> str:
    """The file's text without its trailing newline (`echo x > file` adds one)."""
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or type(error).__name__
        raise SecretFileError(f"{setting}: cannot read the secret file {path}: {reason}") from None


class SecretFileSource(PydanticBaseSettingsSource):
    """The settings source for `P_X_FILE`: secret fields from the files the env names."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        self.paths = {
            name: (variable, Path(os.environ[variable].strip()))
            for name, variable in secret_env_names(settings_cls).items()
            if os.environ.get(variable, "").strip()
        }

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        found = self.paths.get(field_name)
        if found is None:
            return None, field_name, False
        variable, path = found
        return read_secret(path, variable), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {
            name: self.get_field_value(self.settings_cls.model_fields[name], name)[0]
            for name in self.paths
        }


def secret_paths(settings_cls: type[BaseSettings]) -> dict[str, tuple[str, Path]]:
    """Field name -> (env var, path) of the secret fields whose file the env names now."""
    return SecretFileSource(settings_cls).paths


class SecretFile(Generic[T]):
    """One secret file's last good value, parsed, re-read at most every `check_seconds`.

    `parse` turns the text into the value (and refuses bad text with a ValueError whose
    message names no part of it). Safe to call from any thread.
    """

    def __init__(
        self,
        path: Path,
        setting: str,
        parse: Callable[[str], T],
        check_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.setting = setting
        self._parse = parse
        self._check_seconds = check_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._text = read_secret(path, setting)
        try:
            self._value = parse(self._text)
        except ValueError as error:
            raise SecretFileError(f"{setting}: the secret file {path}: {error}") from None
        self._checked = clock()
        self._failing = False  # warned about the current outage already

    def value(self) -> T:
        """The current value: re-read first when the last check is old enough."""
        if self._clock() - self._checked >= self._check_seconds:
            self.refresh()
        return self._value

    def refresh(self) -> bool:
        """Re-read the file now; True when the value changed."""
        with self._lock:
            self._checked = self._clock()
            try:
                text = read_secret(self.path, self.setting)
            except SecretFileError:
                self._warn("secret file unreadable: keeping the last good value")
                return False
            if text == self._text:
                self._recovered()
                return False
            try:
                value = self._parse(text)
            except ValueError as error:
                self._warn("secret file refused: keeping the last good value", reason=str(error))
                return False
            self._text, self._value = text, value
            self._recovered()
            log.info("secret reloaded", setting=self.setting, path=str(self.path))
            return True

    def _warn(self, event: str, **fields: str) -> None:
        if not self._failing:
            log.warning(event, setting=self.setting, path=str(self.path), **fields)
        self._failing = True

    def _recovered(self) -> None:
        if self._failing:
            log.info("secret file readable again", setting=self.setting, path=str(self.path))
        self._failing = False

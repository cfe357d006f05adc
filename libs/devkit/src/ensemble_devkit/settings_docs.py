"""docs/settings.md: every setting of every service, one table each, from the settings classes.

`ensemble-docs` writes it with the other generated files and `ensemble-docs --check` (in
`make lint`) fails when it drifts from the pydantic-settings classes. Each field's description
is its attribute docstring (or `Field(description=...)`); one without (`undocumented`) is
flagged in the table and by tests/deploy/test_settings_docs.py. A secret field shows its
`_FILE` variable and never a default.
"""

import inspect
import types
from collections.abc import Sequence
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from ensemble_devkit import REPO_ROOT
from ensemble_runtime.definition import ServiceDefinition
from ensemble_runtime.secrets import is_secret

SETTINGS_MD = REPO_ROOT / "docs" / "settings.md"
HEADER = """# Settings

<!-- generated from each service's settings class by `ensemble-docs`; do not edit -->

Every setting is an environment variable with the service's prefix (pydantic-settings; names
are not case-sensitive). A **secret** may instead be read from a file, named by the variable
with `_FILE` added (a mounted Kubernetes Secret or compose secret: see docs/runbook.md, "Rotate
secrets"); the file wins over the variable. Token files and the database password file are
re-read while the service runs (every `*_SECRET_RELOAD_SECONDS`); a missing or unreadable file
stops the start with one line, and one that goes away later keeps the last good value with a
warning. Secrets have no default shown here and are never logged. Webhook signing secrets are
not settings: hospital-feed makes one per endpoint and keeps it in its store (rotated through
the API, with a grace period).
"""


UNDOCUMENTED = "(undocumented: add a docstring to the field)"


def undocumented(definitions: Sequence[ServiceDefinition[Any, Any]]) -> list[str]:
    """`module.field` of every setting without a description (a test keeps this empty)."""
    return [
        f"{definition.settings.__module__}.{name}"
        for definition in definitions
        for name, field in definition.settings.model_fields.items()
        if not field.description
    ]


def type_name(annotation: Any) -> str:
    """A short, readable name of a field's type (`str | None`, `"close" | "pause"`)."""
    if annotation is type(None):
        return "None"
    origin = get_origin(annotation)
    if origin is Literal:
        return " | ".join(f'"{value}"' for value in get_args(annotation))
    if origin in (Union, types.UnionType):
        return " | ".join(type_name(arg) for arg in get_args(annotation))
    if origin is not None:
        return getattr(origin, "__name__", str(origin))
    if annotation is SecretStr:
        return "str"
    return getattr(annotation, "__name__", str(annotation))


def default_of(field: FieldInfo) -> str:
    if is_secret(field):
        return "(secret)"
    if field.default_factory is not None:
        return "(computed)"
    if field.default is PydanticUndefined:
        return "(required)"
    if field.default is None:
        return "unset"
    return f"`{field.default!r}`" if isinstance(field.default, str) else f"`{field.default}`"


def cell(text: str) -> str:
    """Text fit for one table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def settings_table(settings_cls: type[Any]) -> str:
    prefix = str(settings_cls.model_config.get("env_prefix", ""))
    rows = [
        "| variable | field | type | default | description |",
        "|---|---|---|---|---|",
    ]
    for name, field in settings_cls.model_fields.items():
        env = f"{prefix}{name}".upper()
        variable = f"`{env}` or `{env}_FILE`" if is_secret(field) else f"`{env}`"
        rows.append(
            f"| {variable} | {name} | {cell(type_name(field.annotation))} | "
            f"{cell(default_of(field))} | {'**secret.** ' if is_secret(field) else ''}"
            f"{cell(inspect.cleandoc(field.description or UNDOCUMENTED))} |"
        )
    return "\n".join(rows)


def settings_markdown(definitions: Sequence[ServiceDefinition[Any, Any]]) -> str:
    sections = [HEADER]
    for definition in definitions:
        settings_cls = definition.settings
        sections.append(
            f"## {definition.name}\n\n`{settings_cls.__module__}.{settings_cls.__name__}`\n\n"
            f"{settings_table(settings_cls)}\n"
        )
    return "\n".join(sections)


def expected_files(definitions: Sequence[ServiceDefinition[Any, Any]]) -> dict[Any, str]:
    return {SETTINGS_MD: settings_markdown(definitions)}

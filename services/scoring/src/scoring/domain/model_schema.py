"""The shape of a model file: which keys each table takes and their types (checked first, so
the rules in `model_file.py` can trust the types). Unknown keys are refused: a typo in a key
must not quietly drop what it meant to say."""

import math
import re
from typing import Annotated, Any, Final

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from scoring.domain.toml_lines import Path

RATIOS: Final = ("odds_ratio", "hazard_ratio", "assumed_odds_ratio")
COMPARATOR_KEYS: Final = ("at_least", "above", "at_most", "equals")
_NAME: Final = re.compile(r"[a-z][a-z0-9_]{0,59}")


def _number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


def _integer(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be a whole number")
    return value


def _text(value: Any) -> Any:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    return value


def _name(value: Any) -> Any:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ValueError("must be lower-case letters, digits and _, starting with a letter")
    return value


def _scalar(value: Any) -> Any:
    if not isinstance(value, str | bool):
        raise ValueError("must be a string or true/false")
    return value


Number = Annotated[float, BeforeValidator(_number)]
Integer = Annotated[int, BeforeValidator(_integer)]
Text = Annotated[str, BeforeValidator(_text)]
Name = Annotated[str, BeforeValidator(_name)]
Scalar = Annotated[str | bool, BeforeValidator(_scalar)]


def _detail(value: Any) -> Any:
    # A detail is sent with every score event (at most 500 characters there): room for values.
    if isinstance(_text(value), str) and len(value) > 300:
        raise ValueError("at most 300 characters (a score event carries 500 with the values)")
    return value


Detail = Annotated[str, BeforeValidator(_detail)]


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RawLevel(_Table):
    at_least: Number | None = None
    above: Number | None = None
    at_most: Number | None = None
    equals: Scalar | None = None
    points: Integer
    label: Name | None = None
    detail: Detail | None = None
    odds_ratio: Number | None = None
    hazard_ratio: Number | None = None
    assumed_odds_ratio: Number | None = None


class RawFactor(_Table):
    name: Name
    domain: Name
    input: Name | None = None
    conditions: Name | None = None
    levels: list[RawLevel] = Field(min_length=1)
    detail: Detail | None = None
    record_as: Name | None = None
    none_label: Name | None = None
    rationale: Text
    source: Text
    limits: Text | None = None


class RawCriterion(_Table):
    count_of: Name | None = None
    input: Name | None = None
    factor: Name | None = None
    at_least: Number | None = None
    level: Name | None = None


class RawOverride(_Table):
    name: Name
    minimum: Name
    when: list[RawCriterion] = Field(min_length=1)
    detail: Detail
    rationale: Text
    source: Text


class RawBand(_Table):
    band: Name
    min: Integer
    max: Integer | None = None


class RawModel(_Table):
    format: Annotated[int, BeforeValidator(_integer), Field(ge=1, le=1)]
    version: Text
    title: Text | None = None
    summary: Text | None = None
    hospital_window_days: Annotated[int, BeforeValidator(_integer), Field(ge=1, le=3650)]
    domains: dict[Name, Text] = Field(min_length=1)
    condition_sets: dict[Name, list[Text]] = Field(default_factory=dict)
    bands: list[RawBand]
    factors: list[RawFactor] = Field(min_length=1)
    overrides: list[RawOverride] = Field(default_factory=list)


_TABLES: Final[dict[str, type[_Table]]] = {
    "factors": RawFactor,
    "levels": RawLevel,
    "overrides": RawOverride,
    "when": RawCriterion,
    "bands": RawBand,
}


def schema_of(path: Path) -> list[str]:
    """The keys the table at `path` takes (for "did you mean" on an unknown key)."""
    names = [part for part in path if isinstance(part, str)]
    table: type[_Table] = _TABLES.get(names[-1], RawModel) if names else RawModel
    return list(table.model_fields)


def comparator_of(level: RawLevel) -> str | None:
    """The one comparison a level makes, or None when it names none or several."""
    given = [key for key in COMPARATOR_KEYS if getattr(level, key) is not None]
    return given[0] if len(given) == 1 else None

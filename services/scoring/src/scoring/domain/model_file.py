"""Reading a model file (TOML): a validated `RiskModel`, or every problem, each with its line.

A file is refused whole, never half-read: a typo in a key, a missing key, an unknown domain,
input, condition code or condition set, levels that do not rise, points that do not follow the
ratio they cite, bands that overlap or leave a gap, a detail template with an unknown
placeholder. The checks and what a file holds are in `docs/scoring-model-card.md`; the
packaged files are in `scoring/models/`.
"""

import hashlib
import re
import tomllib
from typing import Any, Final, NamedTuple, cast

from pydantic import ValidationError

from scoring.domain.inputs import Comparator, exact
from scoring.domain.model import (
    BANDS,
    Band,
    Criterion,
    Factor,
    Level,
    Override,
    RiskModel,
)
from scoring.domain.model_checks import Checks, points_rule, suggestion
from scoring.domain.model_schema import (
    RATIOS,
    RawFactor,
    RawModel,
    RawOverride,
    comparator_of,
    schema_of,
)
from scoring.domain.toml_lines import Path, key_lines, line_of

__all__ = ["ModelFileError", "Problem", "digest_of", "points_rule", "read_model"]

_TOML_POSITION: Final = re.compile(r"\(at line (\d+), column \d+\)")


class Problem(NamedTuple):
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "file"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ModelFileError(ValueError):
    """A model file that cannot be used, with every problem found (line order)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def digest_of(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def read_model(text: str) -> RiskModel:
    """The model a file's text describes; ModelFileError naming each problem's line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        found = _TOML_POSITION.search(str(error))
        line = int(found.group(1)) if found else None
        message = _TOML_POSITION.sub("", str(error)).strip()
        raise ModelFileError([Problem(line, "", f"not valid TOML: {message}")]) from None
    lines = key_lines(text)
    try:
        raw = RawModel.model_validate(data)
    except ValidationError as error:
        raise ModelFileError(_located(_schema_problems(error), lines, data)) from None
    problems = Checks(raw).run()
    if problems:
        raise ModelFileError(_located(problems, lines, data))
    return _build(raw, digest_of(text))


# --- problems and where they are ---------------------------------------------------------------


def _schema_problems(error: ValidationError) -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    for item in error.errors(include_input=False, include_url=False):
        loc: Path = tuple(part for part in item["loc"] if part != "[key]")
        kind = item["type"]
        if kind == "missing":
            found.append((loc[:-1], f"missing key {loc[-1]!r}"))
        elif kind == "extra_forbidden":
            key = str(loc[-1])
            found.append((loc, f"unknown key {key!r}{suggestion(key, schema_of(loc[:-1]))}"))
        else:
            found.append((loc, str(item["msg"]).removeprefix("Value error, ")))
    return found


def _render(path: Path, data: Any) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    if len(path) >= 2 and path[0] in ("factors", "overrides") and isinstance(path[1], int):
        items = data.get(path[0]) if isinstance(data, dict) else None
        item = items[path[1]] if isinstance(items, list) and path[1] < len(items) else None
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            text += f" ({item['name'][:40]})"
    return text


def _located(found: list[tuple[Path, str]], lines: dict[Path, int], data: Any) -> list[Problem]:
    problems = [Problem(line_of(lines, path), _render(path, data), msg) for path, msg in found]
    return sorted(problems, key=lambda p: (p.line or 0, p.path))


# --- the model -----------------------------------------------------------------------------


def _build(raw: RawModel, digest: str) -> RiskModel:
    sets = {name: frozenset(codes) for name, codes in raw.condition_sets.items()}
    factors = tuple(_factor(f, sets) for f in raw.factors)
    bands: tuple[tuple[Band, int], ...] = tuple(
        (BANDS[index], band.min) for index, band in enumerate(raw.bands)
    )
    return RiskModel(
        version=raw.version,
        domains=dict(raw.domains),
        factors=factors,
        bands=bands,
        overrides=tuple(_override(o, sets, factors) for o in raw.overrides),
        hospital_window_days=raw.hospital_window_days,
        digest=digest,
    )


def _factor(raw: RawFactor, sets: dict[str, frozenset[str]]) -> Factor:
    levels = []
    for level in raw.levels:
        comparator = comparator_of(level)
        assert comparator is not None  # checked
        threshold = getattr(level, comparator)
        levels.append(
            Level(
                comparator=cast(Comparator, comparator),
                threshold=threshold if comparator == "equals" else exact(threshold),
                points=level.points,
                detail=level.detail or raw.detail or "",
                label=level.label,
                ratios={k: getattr(level, k) for k in RATIOS if getattr(level, k) is not None},
            )
        )
    return Factor(
        name=raw.name,
        domain=raw.domain,
        levels=tuple(levels),
        input=raw.input,
        conditions=sets[raw.conditions] if raw.conditions is not None else None,
        record_as=raw.record_as,
        none_label=raw.none_label,
    )


def _override(
    raw: RawOverride, sets: dict[str, frozenset[str]], factors: tuple[Factor, ...]
) -> Override:
    criteria = []
    for item in raw.when:
        level = None
        if item.factor is not None:
            factor = next(f for f in factors if f.name == item.factor)
            level = [lv.label for lv in factor.levels].index(item.level)
        criteria.append(
            Criterion(
                at_least=exact(item.at_least) if item.at_least is not None else None,
                count_of=sets[item.count_of] if item.count_of is not None else None,
                input=item.input,
                factor=item.factor,
                level=level,
            )
        )
    minimum = BANDS[BANDS.index(cast(Band, raw.minimum))]  # checked: a band
    return Override(raw.name, minimum, tuple(criteria), raw.detail)

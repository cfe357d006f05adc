"""The rules of a model file that its shape (`model_schema.py`) cannot say: names that must
exist, bands that must tile the totals, levels that must rise, points that must follow the
ratio cited, templates whose placeholders must be known. Each problem is (key path, message);
`model_file.py` adds the line."""

import difflib
import math
import re
import string
from collections.abc import Iterable
from typing import Any, Final

from ensemble_contracts import limits
from scoring.domain.conditions import KNOWN_CONDITIONS
from scoring.domain.inputs import INPUTS, exact
from scoring.domain.model import BANDS, MISSING_DATA
from scoring.domain.model_schema import RATIOS, RawFactor, RawModel, RawOverride, comparator_of
from scoring.domain.toml_lines import Path

VERSION: Final = re.compile(r"[a-z0-9][a-z0-9._-]{0,39}")  # fits every score's model_version


def points_rule(ratio: float) -> int:
    """The points a published ratio gives: 10 times its natural log, rounded."""
    return round(10 * math.log(ratio))


def suggestion(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Checks:
    def __init__(self, raw: RawModel) -> None:
        self.raw = raw
        self.found: list[tuple[Path, str]] = []

    def problem(self, path: Path, message: str) -> None:
        if (path, message) not in self.found:
            self.found.append((path, message))

    def run(self) -> list[tuple[Path, str]]:
        if not VERSION.fullmatch(self.raw.version):
            self.problem(("version",), "lower-case letters, digits, '.', '-' or '_', at most 40")
        for name, codes in self.raw.condition_sets.items():
            for index, code in enumerate(codes):
                if code not in KNOWN_CONDITIONS:
                    hint = suggestion(code, KNOWN_CONDITIONS)
                    self.problem(
                        ("condition_sets", name, index), f"unknown condition {code!r}{hint}"
                    )
        self.bands()
        seen: dict[str, int] = {}
        for index, factor in enumerate(self.raw.factors):
            self.factor(("factors", index), factor, seen)
        for domain in self.raw.domains:
            if not any(f.domain == domain for f in self.raw.factors):
                self.problem(("domains", domain), f"domain {domain!r} has no factor")
        for index, override in enumerate(self.raw.overrides):
            self.override(("overrides", index), override, seen)
        most = len(self.raw.factors) + len(self.raw.overrides) + 1  # and missing_data
        if most > limits.REASONS:
            self.problem(("factors",), f"{most} possible reasons: a score event carries 50")
        return self.found

    def bands(self) -> None:
        names = [band.band for band in self.raw.bands]
        if names != list(BANDS):
            self.problem(("bands",), f"the bands are {', '.join(BANDS)}, in that order")
            return
        start = 0
        for index, band in enumerate(self.raw.bands):
            if band.min < start:
                self.problem(
                    ("bands", index, "min"), f"overlaps the band before (up to {start - 1})"
                )
            elif band.min > start:
                before = f"after {start - 1}" if index else "below it: the lowest band starts at 0"
                self.problem(("bands", index, "min"), f"leaves a gap {before}")
            last = index == len(self.raw.bands) - 1
            if last and band.max is not None:
                self.problem(("bands", index, "max"), "the highest band has no max")
            elif not last and band.max is None:
                self.problem(("bands", index), "missing key 'max'")
            elif band.max is not None and band.max < band.min:
                self.problem(("bands", index, "max"), "below the band's min")
            start = (band.max if band.max is not None else band.min) + 1

    def factor(self, path: Path, factor: RawFactor, seen: dict[str, int]) -> None:
        if factor.name in seen:
            self.problem((*path, "name"), f"also the name of factors[{seen[factor.name]}]")
        elif factor.name == MISSING_DATA:
            self.problem((*path, "name"), f"{MISSING_DATA!r} is the engine's own reason")
        seen.setdefault(factor.name, path[1] if isinstance(path[1], int) else 0)
        if factor.domain not in self.raw.domains:
            hint = suggestion(factor.domain, self.raw.domains)
            self.problem((*path, "domain"), f"unknown domain {factor.domain!r}{hint}")
        placeholders = {"label"}
        comparators: tuple[str, ...] = ()
        if (factor.input is None) == (factor.conditions is None):
            self.problem(path, "a factor reads one input or counts one condition set")
        elif factor.conditions is not None:
            comparators, placeholders = ("at_least", "above"), placeholders | {"count", "matched"}
            if factor.conditions not in self.raw.condition_sets:
                hint = suggestion(factor.conditions, self.raw.condition_sets)
                self.problem((*path, "conditions"), f"unknown condition set{hint}")
        elif factor.input not in INPUTS:
            hint = suggestion(factor.input or "", INPUTS)
            self.problem((*path, "input"), f"unknown input {factor.input!r}{hint}")
        else:
            comparators, placeholders = INPUTS[factor.input].comparators, placeholders | {"value"}
        self.levels(path, factor, comparators, placeholders)

    def levels(
        self, path: Path, factor: RawFactor, comparators: tuple[str, ...], placeholders: set[str]
    ) -> None:
        spec = INPUTS.get(factor.input or "")
        used: set[str] = set()
        previous: tuple[Any, int] | None = None
        for index, level in enumerate(factor.levels):
            where = (*path, "levels", index)
            comparator = comparator_of(level)
            if comparator is None:
                self.problem(where, "a level takes one of at_least, above, at_most or equals")
                continue
            used.add(comparator)
            threshold = getattr(level, comparator)
            if comparators and comparator not in comparators:
                what = f"input {factor.input!r}" if factor.input else "a condition count"
                self.problem((*where, comparator), f"{what} takes {', '.join(comparators)}")
            elif comparator == "equals" and spec is not None:
                wanted: tuple[Any, ...] = spec.values if spec.kind == "category" else (True, False)
                if threshold not in wanted:
                    self.problem((*where, "equals"), f"takes one of {', '.join(map(str, wanted))}")
            elif comparator != "equals" and previous is not None:
                rising = (
                    exact(threshold) > previous[0]
                    if comparator != "at_most"
                    else exact(threshold) < previous[0]
                )
                if not rising:
                    self.problem(
                        (*where, comparator), "each level must go further than the one before"
                    )
            if level.points < 0:
                self.problem(
                    (*where, "points"), "cannot be negative: a factor never lowers a score"
                )
            elif previous is not None and level.points < previous[1]:
                self.problem((*where, "points"), "fewer than the level before")
            self.ratio(where, level.points, [(k, getattr(level, k)) for k in RATIOS])
            ratios = {k for k in RATIOS if getattr(level, k) is not None}
            if level.detail is not None:
                self.template((*where, "detail"), level.detail, placeholders | ratios)
            elif factor.detail is not None:  # the factor's: named once, at the factor
                self.template((*path, "detail"), factor.detail, placeholders | ratios)
            else:
                self.problem(where, "missing key 'detail' (on the level or its factor)")
            if comparator != "equals":
                previous = (exact(threshold), level.points)
        if len(used) > 1:
            self.problem((*path, "levels"), "every level of a factor compares the same way")
        labels = [level.label for level in factor.levels]
        if factor.record_as is not None and None in labels:
            self.problem((*path, "record_as"), "needs a label on every level")
        if len({label for label in labels if label}) != len([label for label in labels if label]):
            self.problem((*path, "levels"), "two levels have the same label")

    def ratio(self, where: Path, points: int, ratios: list[tuple[str, float | None]]) -> None:
        given = [(name, value) for name, value in ratios if value is not None]
        if len(given) > 1:
            self.problem(where, "a level cites one ratio at most")
        for name, value in given:
            if value <= 0:
                self.problem((*where, name), "must be above 0")
            elif points != points_rule(value):
                rule = f"round(10 * ln {value}) = {points_rule(value)}"
                self.problem((*where, "points"), f"{points} do not follow the {name}: {rule}")

    def template(self, where: Path, template: str, allowed: set[str]) -> None:
        try:
            fields = [name for _, name, _, _ in _formatter_parse(template) if name is not None]
        except ValueError as error:
            self.problem(where, f"not a valid template: {error}")
            return
        for name in fields:
            if name not in allowed:
                self.problem(
                    where,
                    f"unknown placeholder {{{name}}}{suggestion(name, allowed)}; "
                    f"this one may use {', '.join('{' + a + '}' for a in sorted(allowed))}",
                )

    def override(self, path: Path, override: RawOverride, seen: dict[str, int]) -> None:
        if override.name in seen or override.name == MISSING_DATA:
            self.problem((*path, "name"), "also the name of a factor or another override")
        seen.setdefault(override.name, -1)
        if override.minimum not in BANDS:
            hint = suggestion(override.minimum, BANDS)
            self.problem((*path, "minimum"), f"not a band{hint}")
        factors = {f.name: f for f in self.raw.factors}
        counts = False
        for index, criterion in enumerate(override.when):
            where = (*path, "when", index)
            named = [k for k in ("count_of", "input", "factor") if getattr(criterion, k)]
            if len(named) != 1:
                self.problem(where, "a criterion names one of count_of, input or factor")
            elif criterion.count_of is not None or criterion.input is not None:
                counts = counts or criterion.count_of is not None
                if criterion.at_least is None or criterion.level is not None:
                    self.problem(where, f"{named[0]} takes at_least (and no level)")
                if (
                    criterion.count_of is not None
                    and criterion.count_of not in self.raw.condition_sets
                ):
                    hint = suggestion(criterion.count_of, self.raw.condition_sets)
                    self.problem((*where, "count_of"), f"unknown condition set{hint}")
                spec = INPUTS.get(criterion.input or "")
                if criterion.input is not None and (spec is None or spec.kind == "category"):
                    self.problem(
                        (*where, "input"),
                        f"not a numeric input{suggestion(criterion.input, INPUTS)}",
                    )
            else:
                factor = factors.get(criterion.factor or "")
                if factor is None:
                    hint = suggestion(criterion.factor or "", factors)
                    self.problem((*where, "factor"), f"no such factor{hint}")
                elif criterion.level not in [level.label for level in factor.levels]:
                    self.problem((*where, "level"), f"not a level label of factor {factor.name!r}")
        self.template((*path, "detail"), override.detail, {"count"} if counts else set())


def _formatter_parse(template: str) -> list[tuple[str, str | None, str | None, str | None]]:
    return list(string.Formatter().parse(template))

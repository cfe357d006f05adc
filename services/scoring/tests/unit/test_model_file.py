"""Model files: the packaged ones pass every check; a broken one is refused whole, with the
line (and key path) of each problem."""

import pytest

from scoring.adapters.packaged_models import packaged_text, packaged_versions
from scoring.domain.model_file import ModelFileError, Problem, read_model
from scoring.domain.toml_lines import key_lines

BASE = packaged_text("ensemble-risk-1.0.0")


def line_holding(text: str, fragment: str, after: str = "") -> int:
    """The 1-based number of the first line holding `fragment` (after the line holding
    `after`, if given)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if after in line) if after else 0
    return next(i for i in range(start, len(lines)) if fragment in lines[i]) + 1


def refused(text: str) -> list[Problem]:
    with pytest.raises(ModelFileError) as caught:
        read_model(text)
    return caught.value.problems


def edited(old: str, new: str, text: str = BASE) -> str:
    assert text.count(old) >= 1, old
    return text.replace(old, new, 1)


@pytest.mark.parametrize("version", packaged_versions())
def test_every_packaged_model_passes_its_checks(version: str) -> None:
    model = read_model(packaged_text(version))
    assert model.version == version
    assert [band for band, _ in model.bands] == ["low", "moderate", "high", "very_high"]
    assert len(model.digest) == 64


def test_a_typo_in_a_key_names_its_line_and_the_key_meant() -> None:
    text = edited("{ at_least = 2, odds_ratio = 4.93", "{ at_least = 2, odd_ratio = 4.93")
    [problem] = refused(text)
    assert problem.line == line_holding(text, "odd_ratio")
    assert problem.path == "factors[0].levels[1].odd_ratio (physical_conditions)"
    assert problem.message == "unknown key 'odd_ratio' (did you mean 'odds_ratio'?)"
    assert str(problem).startswith(f"line {problem.line}: factors[0].levels[1]")


def test_a_factor_missing_a_key_is_refused_at_its_table() -> None:
    text = edited(
        'source = "Payne RA et al., CMAJ 2013 (age', 'sauce = "Payne RA et al., CMAJ 2013 (age'
    )
    problems = refused(text)
    assert {p.message for p in problems} == {
        "missing key 'source'",
        "unknown key 'sauce' (did you mean 'source'?)",
    }
    missing = next(p for p in problems if p.message.startswith("missing"))
    assert missing.line == line_holding(text, "[[factors]]", after='name = "mental_health"')
    assert missing.path == "factors[2] (age)"


def test_an_override_naming_a_missing_factor_is_refused() -> None:
    text = edited(
        'when = [{ factor = "frailty", level = "severe" }]',
        'when = [{ factor = "frailty_index", level = "severe" }]',
    )
    [problem] = refused(text)
    assert problem.line == line_holding(text, "frailty_index")
    assert problem.message == "no such factor (did you mean 'frailty'?)"


def test_an_unknown_domain_is_refused() -> None:
    text = edited('domain = "medicines"', 'domain = "medicine"')
    unused, unknown = refused(text)
    assert unknown.line == line_holding(text, 'domain = "medicine"')
    assert unknown.message == "unknown domain 'medicine' (did you mean 'medicines'?)"
    # ... and the domain that lost its factor says so, on the line declaring it:
    assert unused.message == "domain 'medicines' has no factor"
    assert unused.line == line_holding(text, 'medicines = "Medicines"')


def test_overlapping_and_gapped_bands_are_refused() -> None:
    overlap = edited("min = 30\nmax = 44", "min = 29\nmax = 44")
    [problem] = refused(overlap)
    assert problem.message == "overlaps the band before (up to 29)"
    assert problem.line == line_holding(overlap, "min = 29")
    assert problem.path == "bands[2].min"
    gap = edited("min = 30\nmax = 44", "min = 31\nmax = 44")
    [problem] = refused(gap)
    assert problem.message == "leaves a gap after 29"
    wrong_order = edited('band = "high"', 'band = "hihg"')
    assert [p.message for p in refused(wrong_order)] == [
        "the bands are low, moderate, high, very_high, in that order"
    ]


def test_an_unknown_condition_code_in_a_set_is_a_typo() -> None:
    text = edited('"cancer", "diabetes", "chd"', '"cancer", "diabetis", "chd"')
    [problem] = refused(text)
    assert problem.message == "unknown condition 'diabetis' (did you mean 'diabetes'?)"
    assert problem.path == "condition_sets.physical[1]"
    assert problem.line == line_holding(text, "diabetis")


def test_points_must_follow_the_ratio_a_level_cites() -> None:
    text = edited("odds_ratio = 6.82, points = 19", "odds_ratio = 6.82, points = 20")
    [problem] = refused(text)
    assert problem.message == "20 do not follow the odds_ratio: round(10 * ln 6.82) = 19"
    assert problem.line == line_holding(text, "points = 20")


def test_levels_must_rise_and_points_never_fall() -> None:
    text = edited(
        "{ at_least = 10, odds_ratio = 3.80, points = 13 }",
        "{ at_least = 6, odds_ratio = 1.1, points = 1 }",
    )
    messages = {p.message for p in refused(text)}
    assert messages == {
        "each level must go further than the one before",
        "fewer than the level before",
    }


def test_an_unknown_placeholder_in_a_detail_is_refused() -> None:
    text = edited(
        'detail = "{value} repeat medicines (OR {odds_ratio})"',
        'detail = "{vale} repeat medicines"',
    )
    [problem] = refused(text)  # once, at the factor's detail, not once per level
    assert problem.message.startswith("unknown placeholder {vale} (did you mean 'value'?)")
    assert problem.line == line_holding(text, "{vale}")


def test_a_comparison_an_input_cannot_take_is_refused() -> None:
    """Counts only grow a score: an `at_most` on admissions would let one lower it."""
    text = edited(
        "{ at_least = 1, assumed_odds_ratio = 2.0, points = 7 }",
        "{ at_most = 1, assumed_odds_ratio = 2.0, points = 7 }",
    )
    messages = [p.message for p in refused(text)]
    assert "input 'emergency_admissions_12m' takes at_least, above" in messages


def test_a_toml_syntax_error_names_its_line() -> None:
    text = edited('version = "ensemble-risk-1.0.0"', 'version = "ensemble-risk-1.0.0')
    [problem] = refused(text)
    assert problem.line == line_holding(text, "version =")
    assert problem.message.startswith("not valid TOML")


def test_several_problems_are_all_named_in_line_order() -> None:
    text = edited('domain = "medicines"', 'domain = "medicine"')
    text = edited("min = 30\nmax = 44", "min = 29\nmax = 44", text)
    problems = refused(text)
    assert len(problems) == 3  # the unknown domain, the domain left without a factor, the band
    assert [p.line for p in problems] == sorted(p.line or 0 for p in problems)


def test_key_lines_follow_tables_arrays_and_strings() -> None:
    text = '''# a comment with [brackets] and "quotes"
top = "a ] string # not a comment"
multi = """
line [one]
"""
[table]
key = 1
[[items]]
name = 'x'
levels = [
    { a = 1, b = "}" },  # after a comment
    { a = 2 },
]
[[items]]
name = "y"
[[items.sub]]
z = true
'''
    lines = key_lines(text)
    assert lines[("top",)] == 2
    assert lines[("multi",)] == 3
    assert lines[("table", "key")] == 7
    assert lines[("items", 0, "name")] == 9
    assert lines[("items", 0, "levels", 1, "a")] == 12
    assert lines[("items", 1, "name")] == 15
    assert lines[("items", 1, "sub", 0, "z")] == 17


def test_a_detail_longer_than_a_score_event_can_carry_is_refused() -> None:
    long = "x" * 301
    text = edited('detail = "severe frailty: at least high"', f'detail = "{long}"')
    [problem] = refused(text)
    assert problem.path == "overrides[1].detail (override_severe_frailty)"
    assert "at most 300 characters" in problem.message

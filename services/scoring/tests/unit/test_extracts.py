"""Profile extracts: NDJSON and CSV, bad lines reported by number and never fatal."""

import codecs
import json

import pytest

from ensemble_contracts import limits
from scoring.service_layer.extracts import NotText, decode_extract, parse_extract

from ..support import NHS_NUMBERS, high_risk


def test_ndjson_good_and_bad_lines() -> None:
    good_a, good_b, gouty, bad = (
        next(NHS_NUMBERS),
        next(NHS_NUMBERS),
        next(NHS_NUMBERS),
        "9434765918",
    )
    lines = [
        json.dumps(high_risk(good_a)),
        "",  # blank lines are skipped, not errors
        "{not json",
        json.dumps({"nhs_number": bad}),
        json.dumps([1, 2]),
        json.dumps({"nhs_number": good_b, "efi_deficits": 40}),
        json.dumps({"nhs_number": gouty, "conditions": ["diabetes", "gout"]}),  # kept, reported
        json.dumps({"practice_ods": "L85001"}),
        json.dumps({"nhs_number": good_b, "birth_date": "1950-13-01"}),
        json.dumps({"nhs_number": good_b, "deprivation_quintile": 0}),
        json.dumps({"nhs_number": good_b, "conditions": ["Diabetes ", "copd"]}),
    ]
    parsed = parse_extract("\n".join(lines), "ndjson")

    assert [p.nhs_number for p in parsed.profiles] == [good_a, gouty, good_b]
    assert parsed.profiles[1].conditions == ["diabetes", "gout"]  # an unknown code is kept
    assert parsed.profiles[2].conditions == ["copd", "diabetes"]  # normalised
    assert [e.split(":")[0] for e in parsed.errors] == [
        "line 3",
        "line 4",
        "line 5",
        "line 6",
        "line 8",
        "line 9",
        "line 10",
    ]
    assert "not valid JSON" in parsed.errors[0]
    assert "nhs_number" in parsed.errors[1]
    assert "efi_deficits" in parsed.errors[3]
    assert "Field required" in parsed.errors[4]
    assert parsed.warnings == ["line 7: condition code(s) kept but not known to scoring: gout"]


def test_errors_never_echo_nhs_numbers_or_values() -> None:
    bad = "9434765918"
    lines = [
        json.dumps({"nhs_number": bad}),
        json.dumps({"nhs_number": next(NHS_NUMBERS), "birth_date": "1850-01-01"}),
        json.dumps({"nhs_number": next(NHS_NUMBERS), "repeat_medicines": "many"}),
    ]
    parsed = parse_extract("\n".join(lines), "ndjson")
    assert len(parsed.errors) == 3
    text = " ".join(parsed.errors)
    assert bad not in text
    assert "1850" not in text
    assert "many" not in text


def test_spaces_in_an_nhs_number_are_tolerated() -> None:
    parsed = parse_extract(json.dumps({"nhs_number": "999 000 0018"}), "ndjson")
    assert parsed.profiles[0].nhs_number == "9990000018"


def test_csv_with_semicolon_conditions_and_empty_cells() -> None:
    first, second = next(NHS_NUMBERS), next(NHS_NUMBERS)
    text = (
        "nhs_number,practice_ods,birth_date,conditions,repeat_medicines,efi_deficits,"
        "deprivation_quintile,preferred_language,on_caseload,objects_to_contact\r\n"
        f"{first},L85001,1941-03-02,diabetes;copd;depression,8,11,1,pa,false,no\r\n"
        f"{second},L85002,,,,,,,,\r\n"
        "9434765918,L85001,1941-03-02,,1,1,1,en,false,false\r\n"
        f"{first},L85001,1941-03-02,,1,1,1,en,maybe,false\r\n"
        f"{first},L85001,1941-03-02,,1,1,1,en,true,false,extra\r\n"
    )
    parsed = parse_extract(text, "csv")

    assert [p.nhs_number for p in parsed.profiles] == [first, second]
    full, sparse = parsed.profiles
    assert full.conditions == ["copd", "depression", "diabetes"]
    assert full.repeat_medicines == 8
    assert full.objects_to_contact is False
    # Empty cells are "not given": only the given fields will be written.
    assert sparse.model_fields_set == {"nhs_number", "practice_ods"}
    assert [e.split(":")[0] for e in parsed.errors] == ["line 4", "line 5", "line 6"]
    assert "on_caseload" in parsed.errors[1]
    assert "more cells" in parsed.errors[2]
    assert "9434765918" not in " ".join(parsed.errors)


def test_csv_without_an_nhs_number_column_is_one_error() -> None:
    parsed = parse_extract("practice_ods\nL85001\n", "csv")
    assert parsed.profiles == []
    assert parsed.errors == ["line 1: header has no nhs_number column"]


def test_empty_extracts_have_nothing_and_no_errors() -> None:
    for extract_format in ("csv", "ndjson"):
        parsed = parse_extract("", extract_format)
        assert parsed.profiles == []
        assert parsed.errors == []


def test_a_flood_of_bad_lines_is_summarised() -> None:
    parsed = parse_extract("\n".join(["{bad"] * 250), "ndjson")
    assert parsed.error_count == 250
    assert len(parsed.errors) == 201
    assert parsed.errors[-1] == "... and 50 more errors"


# --- hostile and unusual input: every problem is a row error, never an exception -------------


def test_a_language_longer_than_the_contract_carries_is_a_row_error() -> None:
    nhs = next(NHS_NUMBERS)
    longest = "en-" + "-".join(["abcdefgh"] * 3) + "-abcde"  # a valid tag of 35 characters
    assert len(longest) == limits.LANGUAGE
    lines = [
        json.dumps({"nhs_number": nhs, "preferred_language": longest}),
        json.dumps({"nhs_number": nhs, "preferred_language": longest + "x"}),
        json.dumps({"nhs_number": nhs, "preferred_language": "en-" + "a" * 5000}),
    ]
    parsed = parse_extract("\n".join(lines), "ndjson")
    assert [p.preferred_language for p in parsed.profiles] == [longest]
    assert [e.split(":")[0] for e in parsed.errors] == ["line 2", "line 3"]
    assert all("preferred_language" in e and "35" in e for e in parsed.errors)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"nhs_number": "%s", "repeat_medicines": NaN}', "repeat_medicines"),
        ('{"nhs_number": "%s", "efi_deficits": Infinity}', "efi_deficits"),
        ('{"nhs_number": "%s", "efi_deficits": 1e400}', "efi_deficits"),
        ('{"nhs_number": "%s", "repeat_medicines": ' + str(2**70) + "}", "repeat_medicines"),
        ('{"nhs_number": "%s", "repeat_medicines": ' + "9" * 5000 + "}", "not valid JSON"),
        ('{"nhs_number": "%s", "conditions": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested"),
        ('{"nhs_number": "%s", "conditions": [[["copd"]]]}', "conditions"),
        ('{"nhs_number": "%s", "preferred_language": "\\ud800"}', "not UTF-8 text"),
        ('{"nhs_number": "%s", "conditions": ["copd", "\\udfff"]}', "not UTF-8 text"),
        ('{"nhs_number": "%s", "practice_ods": "L85\\u0000001"}', "NUL"),
        ('{"nhs_number": "%s", "on_caseload": "maybe"}', "on_caseload"),
        ('{"nhs_number": "%s", "birth_date": "0001-01-01"}', "birth_date"),
        ('{"nhs_number": "%s", "birth_date": "9999-12-31"}', "birth_date"),
        ('{"nhs_number": "%s", "deprivation_quintile": "3.5"}', "deprivation_quintile"),
        ('{"nhs_number": "%s", "practice_ods": "L85001L85001X"}', "practice_ods"),
        ('{"nhs_number": ["%s"]}', "nhs_number"),
    ],
)
def test_hostile_ndjson_lines_are_row_errors(line: str, reason: str) -> None:
    good, bad = next(NHS_NUMBERS), next(NHS_NUMBERS)
    text = json.dumps({"nhs_number": good}) + "\n" + line.replace("%s", bad)
    parsed = parse_extract(text, "ndjson")
    assert [p.nhs_number for p in parsed.profiles] == [good]
    [error] = parsed.errors
    assert error.startswith("line 2: ")
    assert reason in error
    assert bad not in error
    error.encode("utf-8")  # always text a response can carry


def test_columns_a_profile_does_not_have_may_hold_anything() -> None:
    nhs = next(NHS_NUMBERS)
    lines = [
        json.dumps({"nhs_number": nhs, "name": "Zo\udceb", "\ud800": "\x00", "n": float("nan")}),
        f"nhs_number,name,preferred_language\n{nhs},Zo\udceb \x00,pa\n",
    ]
    assert [p.nhs_number for p in parse_extract(lines[0], "ndjson").profiles] == [nhs]
    [profile] = parse_extract(lines[1], "csv").profiles
    assert (profile.nhs_number, profile.preferred_language) == (nhs, "pa")


def test_a_condition_that_is_not_a_code_refuses_its_line_and_is_not_repeated() -> None:
    nhs = next(NHS_NUMBERS)
    text = json.dumps(
        {"nhs_number": nhs, "conditions": ["gout", "Mrs Smith, 1 High St", "x" * 131_072]}
    )
    parsed = parse_extract(text, "ndjson")
    [error] = parsed.errors
    assert "not a code" in error
    assert "Smith" not in error and "gout" not in error
    assert len(error) < 300
    assert parsed.profiles == [] and parsed.warnings == []


def test_one_line_s_error_is_kept_short() -> None:
    nhs = next(NHS_NUMBERS)
    text = json.dumps({"nhs_number": nhs, "conditions": list(range(100_000))})
    [error] = parse_extract(text, "ndjson").errors
    assert error.startswith("line 1: conditions.0: ")
    assert len(error) <= len("line 1: ") + 303


def test_a_line_in_another_encoding_fails_alone() -> None:
    first, latin, last = next(NHS_NUMBERS), next(NHS_NUMBERS), next(NHS_NUMBERS)
    body = (
        json.dumps({"nhs_number": first}).encode()
        + b"\n"
        + f'{{"nhs_number": "{latin}", "preferred_language": "caf\xe9"}}'.encode("latin-1")
        + b"\n"
        + json.dumps({"nhs_number": last, "preferred_language": "cy"}).encode()
    )
    parsed = parse_extract(decode_extract(body), "ndjson")
    assert [p.nhs_number for p in parsed.profiles] == [first, last]
    assert parsed.errors == ["line 2: not UTF-8 text"]

    csv_body = (
        f"nhs_number,preferred_language\n{first},en\n".encode()
        + f"{latin},caf\xe9\n".encode("latin-1")
        + f"{last},cy\n".encode()
    )
    parsed = parse_extract(decode_extract(csv_body), "csv")
    assert [p.nhs_number for p in parsed.profiles] == [first, last]
    assert parsed.errors == ["line 3: not UTF-8 text"]


def test_byte_order_marks_of_utf8_and_utf16_are_read() -> None:
    nhs = next(NHS_NUMBERS)
    text = f"nhs_number,preferred_language\r\n{nhs},pa\r\n"
    for body in (
        codecs.BOM_UTF8 + text.encode("utf-8"),
        codecs.BOM_UTF16_LE + text.encode("utf-16-le"),
        codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
    ):
        parsed = parse_extract(decode_extract(body), "csv")
        assert [(p.nhs_number, p.preferred_language) for p in parsed.profiles] == [(nhs, "pa")]
        assert parsed.errors == []
    with pytest.raises(NotText):
        decode_extract(codecs.BOM_UTF16_LE + b"\x00\xd8")  # a lone surrogate in UTF-16


def test_a_header_longer_than_the_csv_reader_takes_is_one_error() -> None:
    nhs = next(NHS_NUMBERS)
    for header in ("nhs_number," + "h" * 131_073, "x" * 131_000):
        parsed = parse_extract(f"{header}\n{nhs},1\n", "csv")
        assert parsed.profiles == []
        [error] = parsed.errors
        assert error.startswith("line 1: ")
        assert "h" * 100 not in error and "x" * 100 not in error


def test_a_cell_longer_than_the_csv_reader_takes_fails_its_row_only() -> None:
    first, second = next(NHS_NUMBERS), next(NHS_NUMBERS)
    text = (
        "nhs_number,conditions,preferred_language\n"
        f"{first},copd,en\n"
        f"{next(NHS_NUMBERS)},{'x' * 140_000},en\n"
        f'{second},"diabetes",pa\n'
    )
    parsed = parse_extract(text, "csv")
    assert [p.nhs_number for p in parsed.profiles] == [first, second]
    [error] = parsed.errors
    assert error.startswith("line 3: malformed CSV")


def test_csv_cells_of_the_wrong_type_are_row_errors() -> None:
    good = next(NHS_NUMBERS)
    text = (
        "nhs_number,repeat_medicines,efi_deficits,birth_date,on_caseload,deprivation_quintile\n"
        f"{good},3,4,1950-01-01,true,2\n"
        f"{next(NHS_NUMBERS)},abc,,,,\n"
        f"{next(NHS_NUMBERS)},{10**30},,,,\n"
        f"{next(NHS_NUMBERS)},,1.5,,,\n"
        f"{next(NHS_NUMBERS)},,,1950-02-30,,\n"
        f"{next(NHS_NUMBERS)},,,,perhaps,\n"
        f"{next(NHS_NUMBERS)},,,,,NaN\n"
        f"{next(NHS_NUMBERS)},,,,,\x00\n"
    )
    parsed = parse_extract(text, "csv")
    assert [p.nhs_number for p in parsed.profiles] == [good]
    assert [e.split(":")[0] for e in parsed.errors] == [f"line {n}" for n in range(3, 10)]


def test_ndjson_lines_end_at_newlines_only() -> None:
    """A JSON string may hold U+2028 or a form feed: it neither splits the line nor shifts
    the numbers of the lines after it."""
    first, second = next(NHS_NUMBERS), next(NHS_NUMBERS)
    text = (
        json.dumps({"nhs_number": first, "note": "a\u2028b\x0cc\x1ed"}, ensure_ascii=False)
        + "\r\n{bad\r\n"
        + json.dumps({"nhs_number": second})
    )
    parsed = parse_extract(text, "ndjson")
    assert [p.nhs_number for p in parsed.profiles] == [first, second]
    assert parsed.errors == ["line 2: not valid JSON"]

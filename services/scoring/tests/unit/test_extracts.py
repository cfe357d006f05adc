"""Profile extracts: NDJSON and CSV, bad lines reported by number and never fatal."""

import json

from scoring.service_layer.extracts import parse_extract

from ..support import high_risk, new_nhs_number


def test_ndjson_good_and_bad_lines() -> None:
    good_a, good_b, bad = new_nhs_number(), new_nhs_number(), "9434765918"
    lines = [
        json.dumps(high_risk(good_a)),
        "",  # blank lines are skipped, not errors
        "{not json",
        json.dumps({"nhs_number": bad}),
        json.dumps([1, 2]),
        json.dumps({"nhs_number": good_b, "efi_deficits": 40}),
        json.dumps({"nhs_number": good_b, "conditions": ["diabetes", "gout"]}),
        json.dumps({"practice_ods": "L85001"}),
        json.dumps({"nhs_number": good_b, "birth_date": "1950-13-01"}),
        json.dumps({"nhs_number": good_b, "deprivation_quintile": 0}),
        json.dumps({"nhs_number": good_b, "conditions": ["Diabetes ", "copd"]}),
    ]
    parsed = parse_extract("\n".join(lines), "ndjson")

    assert [p.nhs_number for p in parsed.profiles] == [good_a, good_b]
    assert parsed.profiles[1].conditions == ["copd", "diabetes"]  # normalised
    assert [e.split(":")[0] for e in parsed.errors] == [
        "line 3",
        "line 4",
        "line 5",
        "line 6",
        "line 7",
        "line 8",
        "line 9",
        "line 10",
    ]
    assert "not valid JSON" in parsed.errors[0]
    assert "nhs_number" in parsed.errors[1]
    assert "efi_deficits" in parsed.errors[3]
    assert "gout" in parsed.errors[4]
    assert "Field required" in parsed.errors[5]


def test_errors_never_echo_nhs_numbers_or_values() -> None:
    bad = "9434765918"
    lines = [
        json.dumps({"nhs_number": bad}),
        json.dumps({"nhs_number": new_nhs_number(), "birth_date": "1850-01-01"}),
        json.dumps({"nhs_number": new_nhs_number(), "repeat_medicines": "many"}),
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
    first, second = new_nhs_number(), new_nhs_number()
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

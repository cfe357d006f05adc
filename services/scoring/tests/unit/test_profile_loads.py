"""GP extracts with the new fields: stored as given, re-loads change nothing, an older extract
never overwrites a newer one, and extract problems are reported by line."""

import codecs
import json
from datetime import date, timedelta

from ensemble_contracts.topics import SCORE_CHANGES
from scoring.adapters.repository import PatientRepository
from scoring.service_layer.extracts import parse_extract

from ..support import NHS_NUMBERS, Kit, high_risk, moderate_risk, profiles, published, scores

RICH = {
    "bmi": 34.2,
    "efi": 0.19,
    "pam_level": 1,
    "smoking": "Current",
    "lives_alone": True,
    "socially_isolated": False,
    "is_carer": True,
    "as_of": "2026-11-01",
}


def test_the_new_fields_are_read_from_ndjson_and_csv() -> None:
    first, second = next(NHS_NUMBERS), next(NHS_NUMBERS)
    ndjson = parse_extract(json.dumps({"nhs_number": first, **RICH}), "ndjson")
    csv = parse_extract(
        "nhs_number,bmi,efi,pam_level,smoking,lives_alone,socially_isolated,is_carer,as_of\r\n"
        f"{second},34.2,0.19,1,current,yes,no,1,2026-11-01\r\n",
        "csv",
    )
    for parsed in (ndjson, csv):
        [profile] = parsed.profiles
        assert (profile.bmi, profile.efi, profile.pam_level, profile.smoking) == (
            34.2,
            0.19,
            1,
            "current",
        )
        assert (profile.lives_alone, profile.socially_isolated, profile.is_carer) == (
            True,
            False,
            True,
        )
        assert profile.as_of == date(2026, 11, 1)
        assert parsed.errors == []


def test_bad_values_of_the_new_fields_are_line_errors_naming_the_field() -> None:
    nhs = next(NHS_NUMBERS)
    bad: list[dict[str, object]] = [
        {"bmi": 4},
        {"bmi": "NaN"},
        {"efi": 1.5},
        {"pam_level": 5},
        {"smoking": "sometimes"},
        {"lives_alone": "perhaps"},
        {"as_of": "1980-01-01"},
        {"as_of": "2026-13-01"},
    ]
    lines = [json.dumps({"nhs_number": next(NHS_NUMBERS), **fields}) for fields in bad]
    parsed = parse_extract("\n".join([json.dumps({"nhs_number": nhs}), *lines]), "ndjson")
    assert [p.nhs_number for p in parsed.profiles] == [nhs]
    assert [e.split(":")[0] for e in parsed.errors] == [f"line {n}" for n in range(2, 10)]
    for error, fields in zip(parsed.errors, bad, strict=True):
        assert next(iter(fields)) in error


def test_an_as_of_after_the_day_of_the_load_refuses_its_line_only() -> None:
    today = date(2026, 11, 23)
    good, future = next(NHS_NUMBERS), next(NHS_NUMBERS)
    text = "\n".join(
        [
            json.dumps({"nhs_number": good, "as_of": today.isoformat()}),
            json.dumps({"nhs_number": future, "as_of": (today + timedelta(1)).isoformat()}),
        ]
    )
    parsed = parse_extract(text, "ndjson", today=today)
    assert [p.nhs_number for p in parsed.profiles] == [good]
    assert parsed.errors == ["line 2: as_of: Value error, as_of is after the day of the load"]


def test_duplicate_nhs_numbers_refuse_every_line_of_that_patient() -> None:
    twice, once = next(NHS_NUMBERS), next(NHS_NUMBERS)
    text = "\n".join(
        json.dumps(line)
        for line in (
            {"nhs_number": twice, "bmi": 30},
            {"nhs_number": once},
            {"nhs_number": twice.replace("", " ").strip(), "bmi": 31},  # spaced: the same number
        )
    )
    parsed = parse_extract(text, "ndjson")
    assert [p.nhs_number for p in parsed.profiles] == [once]
    assert parsed.errors == [
        "line 1: the NHS number of line 3 again: none of its lines load",
        "line 3: the NHS number of line 1 again: none of its lines load",
    ]
    assert twice not in " ".join(parsed.errors)


def test_unknown_condition_codes_are_kept_and_reported_as_warnings() -> None:
    nhs, other = next(NHS_NUMBERS), next(NHS_NUMBERS)
    text = (
        "nhs_number,conditions\n"
        f"{nhs},diabetes;Gout;C10..;44054006\n"
        f"{other},copd;9434765919\n"  # a code that could be an NHS number is not repeated
    )
    parsed = parse_extract(codecs.BOM_UTF8.decode() + text, "csv")
    assert [p.conditions for p in parsed.profiles] == [
        ["44054006", "c10..", "diabetes", "gout"],
        ["9434765919", "copd"],
    ]
    assert parsed.errors == []
    assert parsed.warnings == [
        "line 2: condition code(s) kept but not known to scoring: 44054006, c10.., gout",
        "line 3: condition code(s) kept but not known to scoring: (a 10-digit code)",
    ]


def test_loading_the_same_extract_again_changes_nothing(kit: Kit) -> None:
    nhs, other = next(NHS_NUMBERS), next(NHS_NUMBERS)
    extract = profiles(high_risk(nhs, **RICH), moderate_risk(other))
    first = kit.execute(extract)
    assert (first.loaded, first.changed, first.unchanged, first.older) == (2, 2, 0, 0)
    stored = kit.read(lambda session: PatientRepository(session).get(nhs))
    kit.clock.advance(hours=1)
    again = kit.execute(extract)
    assert (again.loaded, again.changed, again.unchanged, again.older) == (2, 0, 2, 0)
    assert len(scores(kit, nhs)) == 1 and len(scores(kit, other)) == 1
    assert len(published(kit, SCORE_CHANGES, nhs)) == 1
    after = kit.read(lambda session: PatientRepository(session).get(nhs))
    assert stored is not None and after is not None
    assert after.updated_at == stored.updated_at
    assert (after.bmi, after.efi, after.smoking, after.as_of) == (
        34.2,
        0.19,
        "current",
        date(2026, 11, 1),
    )


def test_an_older_extract_never_overwrites_a_newer_one(kit: Kit) -> None:
    nhs = next(NHS_NUMBERS)
    kit.execute(profiles(moderate_risk(nhs, as_of="2026-11-10")))
    older = kit.execute(profiles({"nhs_number": nhs, "efi_deficits": 13, "as_of": "2026-11-09"}))
    assert (older.changed, older.older) == (0, 1)
    newer = kit.execute(profiles({"nhs_number": nhs, "efi_deficits": 13, "as_of": "2026-11-11"}))
    assert (newer.changed, newer.older) == (1, 0)
    bands = [(e.previous_band, e.band) for e in published(kit, SCORE_CHANGES, nhs)]
    assert bands == [(None, "moderate"), ("moderate", "high")]
    patient = kit.read(lambda session: PatientRepository(session).get(nhs))
    assert patient is not None and patient.as_of == date(2026, 11, 11)
    # The same day's extract may correct it; a line without as_of is as of the load day.
    same_day = kit.execute(profiles({"nhs_number": nhs, "efi_deficits": 2, "as_of": "2026-11-11"}))
    assert same_day.changed == 1
    undated = kit.execute(profiles({"nhs_number": nhs, "efi_deficits": 3}))
    assert undated.changed == 1
    patient = kit.read(lambda session: PatientRepository(session).get(nhs))
    assert patient is not None and patient.as_of == kit.clock().date()


def test_a_newer_extract_that_changes_nothing_moves_as_of_on_without_a_rescore(kit: Kit) -> None:
    nhs = next(NHS_NUMBERS)
    kit.execute(profiles(moderate_risk(nhs, as_of="2026-11-01")))
    done = kit.execute(profiles(moderate_risk(nhs, as_of="2026-11-05")))
    assert (done.changed, done.unchanged) == (0, 1)
    assert len(scores(kit, nhs)) == 1
    stale = kit.execute(profiles(moderate_risk(nhs, repeat_medicines=9, as_of="2026-11-03")))
    assert stale.older == 1

"""Saved cohorts: definitions as data (refused with a line-numbered reason), evaluated per
practice (that practice's token or staff), exported as CSV, membership changes published on
scoring.cohort-membership.v1, and the worklist's cohort filter."""

import csv
import io
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from ensemble_contracts.hospital import EncounterEventType
from ensemble_contracts.scoring import CohortEventType
from ensemble_contracts.topics import COHORT_MEMBERSHIP
from ensemble_devkit.testkit import tokens
from scoring.adapters.cohort_store import load_cohorts
from scoring.domain.cohorts import CohortFileError, Facts, read_cohort
from scoring.domain.model import HospitalUse, PatientProfile
from scoring.service_layer.cohorts import saved_cohorts
from scoring.service_layer.commands import RefreshCohorts

from ..support import NHS_NUMBERS, Kit, encounter, load, published, scoring_kit

PRACTICE = "L85001"
TODAY = date(2026, 6, 1)
WEBINAR = {"obesity_anxiety_frailty", "risk_in_two_domains", "high_demand_low_complexity"}


def facts(profile: PatientProfile | None = None, **more: Any) -> Facts:
    base: dict[str, Any] = {
        "profile": profile,
        "use": HospitalUse(),
        "band": "low",
        "score": 0,
        "domains": (),
        "today": TODAY,
    }
    return Facts(**(base | more))


# --- definitions -----------------------------------------------------------------------------


def test_the_webinar_cohorts_ship_as_data() -> None:
    assert set(load_cohorts()) >= WEBINAR


def test_a_definition_naming_an_unknown_field_is_refused_with_its_line() -> None:
    text = (
        "format = 1\n"
        'name = "weight"\n'
        'title = "Weight"\n'
        "when = [\n"
        '    { field = "obese", equals = true },\n'
        '    { field = "bmii", at_least = 30 },\n'
        "]\n"
    )
    with pytest.raises(CohortFileError) as refused:
        read_cohort(text)
    assert refused.value.problems == ["line 6: unknown field 'bmii' (did you mean 'bmi'?)"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{ field = "anxiety", at_least = 1 }', "line 4: field 'anxiety' takes equals"),
        ('{ field = "bmi", equals = "big" }', "line 4: must be a number"),
        ('{ field = "band", at_least = "extreme" }', "line 4: must be one of low"),
        ('{ field = "bmi" }', "line 4: a criterion takes one comparison"),
    ],
)
def test_a_comparison_a_field_cannot_take_is_refused(line: str, expected: str) -> None:
    text = f'format = 1\nname = "c"\ntitle = "C"\nwhen = [{line}]\n'
    with pytest.raises(CohortFileError) as refused:
        read_cohort(text)
    assert refused.value.problems[0].startswith(expected)


def test_unknown_keys_and_toml_errors_are_refused() -> None:
    with pytest.raises(CohortFileError, match=r"line 5: unknown key 'colour'"):
        read_cohort(
            'format = 1\nname = "c"\ntitle = "C"\n'
            'when = [{ field = "frail", equals = true }]\ncolour = 1\n'
        )
    with pytest.raises(CohortFileError, match="not valid TOML"):
        read_cohort("format = = 1\n")


def test_a_bad_file_in_the_cohorts_folder_is_named(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text(
        'format = 1\nname = "x"\ntitle = "X"\nwhen = [{ field = "nope", equals = true }]\n'
    )
    with pytest.raises(CohortFileError, match=r"mine.toml: line 4: unknown field 'nope'"):
        load_cohorts(str(tmp_path))


# --- evaluation ------------------------------------------------------------------------------


def test_obesity_anxiety_and_frailty_needs_all_three() -> None:
    cohort = load_cohorts()["obesity_anxiety_frailty"]
    all_three = PatientProfile(bmi=32.0, conditions=frozenset({"anxiety"}), efi_deficits=6)
    assert cohort.includes(facts(all_three))
    coded = PatientProfile(conditions=frozenset({"anxiety", "obesity"}), efi=0.2)
    assert cohort.includes(facts(coded))
    assert not cohort.includes(facts(PatientProfile(bmi=32.0, efi_deficits=6)))  # no conditions
    assert not cohort.includes(facts(None))  # nothing known: not a member


def test_risk_in_two_domains_and_high_demand_low_complexity() -> None:
    cohorts = load_cohorts()
    assert cohorts["risk_in_two_domains"].includes(facts(domains=("age", "physical")))
    assert not cohorts["risk_in_two_domains"].includes(facts(domains=("physical",)))
    demand = cohorts["high_demand_low_complexity"]
    few_medicines = PatientProfile(repeat_medicines=5)
    assert demand.includes(facts(few_medicines, use=HospitalUse(ae_attendances=3)))
    assert not demand.includes(facts(PatientProfile(repeat_medicines=6), use=HospitalUse(0, 4)))
    assert not demand.includes(facts(few_medicines, use=HospitalUse(ae_attendances=2)))
    assert not demand.includes(facts(PatientProfile(), use=HospitalUse(ae_attendances=9)))


# --- on a store ------------------------------------------------------------------------------


@pytest.fixture
def kit(tmp_path: Any) -> AsyncIterator[Kit]:  # type: ignore[misc]
    saved_cohorts.cache_clear()
    kit = scoring_kit(
        f"sqlite:///{tmp_path / 'scoring.db'}",
        practice_tokens=tokens("practice", PRACTICE, "L85002"),
    )
    yield kit
    kit.dispose()


def refresh(kit: Kit) -> tuple[int, int]:
    command, joined, left = RefreshCohorts(limit=2), 0, 0
    while (done := kit.execute(command)).last is not None:
        joined, left = joined + done.joined, left + done.left
        command = RefreshCohorts(done.last, 2, command.correlation_id)
    return joined, left


def frequent_attender(kit: Kit, medicines: int = 2) -> str:
    nhs = next(NHS_NUMBERS)
    load(kit, {"nhs_number": nhs, "practice_ods": PRACTICE, "repeat_medicines": medicines})
    for n in range(3):
        at = kit.clock() - timedelta(days=10 + n)
        kit.consume(encounter(nhs, EncounterEventType.AE_ATTENDANCE, f"AE{n}", event_at=at))
    return nhs


def test_membership_changes_are_published_once_each(kit: Kit) -> None:
    member, other = frequent_attender(kit), frequent_attender(kit, medicines=8)
    assert refresh(kit) == (2, 0)
    (joined,) = published(kit, COHORT_MEMBERSHIP, member)
    assert (joined.event_type, joined.cohort) == (
        CohortEventType.JOINED,
        "high_demand_low_complexity",
    )
    assert (joined.practice_ods, joined.key) == (PRACTICE, member)
    # 8 medicines: not low complexity, but points in two domains (medicines, hospital use).
    assert [e.cohort for e in published(kit, COHORT_MEMBERSHIP, other)] == ["risk_in_two_domains"]
    assert refresh(kit) == (0, 0)  # nothing changed: nothing published

    load(kit, {"nhs_number": member, "repeat_medicines": 6})  # 6: no longer fewer than 6
    assert refresh(kit) == (1, 1)  # and 6 medicines score: now risk in two domains
    latest = {(e.event_type, e.cohort) for e in published(kit, COHORT_MEMBERSHIP, member)[1:]}
    assert latest == {
        (CohortEventType.LEFT, "high_demand_low_complexity"),
        (CohortEventType.JOINED, "risk_in_two_domains"),
    }


@pytest.fixture
async def practice(kit: Kit) -> AsyncIterator[httpx.AsyncClient]:
    async with kit.client("practice", PRACTICE) as client:
        yield client


async def test_a_practice_reads_and_exports_its_cohort(
    kit: Kit, practice: httpx.AsyncClient
) -> None:
    member = frequent_attender(kit)
    elsewhere = next(NHS_NUMBERS)
    load(kit, {"nhs_number": elsewhere, "practice_ods": "L85002", "repeat_medicines": 1})
    url = f"/v1/practices/{PRACTICE}/cohorts/high_demand_low_complexity"
    answer = await practice.get(url)
    assert answer.status_code == 200, answer.text
    assert [p["nhs_number"] for p in answer.json()["patients"]] == [member]

    exported = await practice.get(url, params={"format": "csv"})
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["nhs_number"], r["band"]) for r in rows] == [(member, "low")]

    assert (
        await practice.get("/v1/practices/L85002/cohorts/risk_in_two_domains")
    ).status_code == 403
    assert (await practice.get(f"/v1/practices/{PRACTICE}/cohorts/nope")).status_code == 404


async def test_the_worklist_filters_by_cohort(kit: Kit, practice: httpx.AsyncClient) -> None:
    member, other = frequent_attender(kit), frequent_attender(kit, medicines=9)
    refresh(kit)
    found = await practice.get(
        f"/v1/practices/{PRACTICE}/patients", params={"cohort": "high_demand_low_complexity"}
    )
    assert found.status_code == 200, found.text
    assert [p["nhs_number"] for p in found.json()["patients"]] == [member]
    assert other not in {p["nhs_number"] for p in found.json()["patients"]}
    unknown = await practice.get(f"/v1/practices/{PRACTICE}/patients", params={"cohort": "x"})
    assert unknown.status_code == 400
    assert "unknown cohort" in unknown.text


def test_the_admin_tool_checks_a_cohort_file_with_line_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from scoring.config import Settings
    from scoring.entrypoints.admin_cli import main

    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text(
        'format = 1\nname = "g"\ntitle = "G"\nwhen = [{ field = "frail", equals = true }]\n'
    )
    bad.write_text(
        'format = 1\nname = "b"\ntitle = "B"\n\nwhen = [{ field = "fraill", equals = true }]\n'
    )
    settings = Settings(database_url=f"sqlite:///{tmp_path / 's.db'}")
    assert main(["cohort", "check", str(good)], settings=settings) == 0
    assert "g is a valid cohort" in capsys.readouterr().out
    assert main(["cohort", "check", str(bad)], settings=settings) == 1
    assert "line 5: unknown field 'fraill' (did you mean 'frail'?)" in capsys.readouterr().err
    assert main(["--json", "cohort", "list"], settings=settings) == 0
    assert "high_demand_low_complexity" in capsys.readouterr().out

"""audit_detail: what a route adds to its request's audit line (the guard writes the line)."""

import pytest

from ensemble_runtime.audit import GUARD_FIELDS, audit_detail, collecting_details


def test_details_collect_per_request_and_later_calls_add_and_override() -> None:
    with collecting_details() as details:
        audit_detail(action="referrals.list", referrals=3)
        audit_detail(referrals=2, by_patient=True)
    assert details.fields() == {"action": "referrals.list", "referrals": 2, "by_patient": 1}
    assert type(details.fields()["by_patient"]) is int  # a flag is logged as 0 or 1
    with collecting_details() as fresh:
        pass
    assert fresh.fields() == {}


def test_outside_a_request_nothing_is_recorded_but_a_bad_detail_still_fails() -> None:
    audit_detail(action="referrals.list", referrals=1)
    with pytest.raises(ValueError):
        audit_detail(referrals=-1)
    with collecting_details() as details:
        pass
    assert details.fields() == {}


@pytest.mark.parametrize(
    "action", ["9990000018", "Referrals.List", "referrals list", "a" * 101, "", "referrals."]
)
def test_an_action_is_a_dotted_name_never_a_value(action: str) -> None:
    with collecting_details() as details, pytest.raises(ValueError):
        audit_detail(action=action)
    assert details.fields() == {}


@pytest.mark.parametrize("name", sorted(GUARD_FIELDS))
def test_a_route_cannot_overwrite_what_the_guard_writes(name: str) -> None:
    with collecting_details(), pytest.raises(ValueError):
        audit_detail(None, **{name: 1})


@pytest.mark.parametrize("count", [-1, 1.5, "3", None])
def test_a_count_is_a_non_negative_integer(count: object) -> None:
    with collecting_details(), pytest.raises(ValueError):
        audit_detail(referrals=count)  # type: ignore[arg-type]

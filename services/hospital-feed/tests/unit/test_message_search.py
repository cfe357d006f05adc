"""The message browser's pure rules: the keyed NHS number hash, the search filter's checks,
working hours and when a sender is quiet."""

from datetime import UTC, datetime, timedelta

import pytest

from hospital_feed.domain.message_search import (
    SearchRefused,
    SearchUnavailable,
    displayable,
    is_quiet,
    message_hmac,
    nhs_number_hmac,
    parse_working_hours,
)
from hospital_feed.service_layer.message_filters import message_filter

from ..samples import RCB_A01, adt

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
HOURS = parse_working_hours("Mon-Fri 08:00-18:00", "Europe/London")


def test_the_hash_is_keyed_and_reads_the_number_as_the_parser_does() -> None:
    plain = nhs_number_hmac(KEY, "9990000018")
    assert plain == nhs_number_hmac(KEY, "999 000 0018") != nhs_number_hmac(OTHER_KEY, "9990000018")
    assert "9990000018" not in plain and len(plain) == 64
    # PID-3 of an ITK message: the NHS repetition, second after the MRN.
    assert message_hmac(KEY, RCB_A01) == plain
    # Also from a message refused for another reason, so staff can find it to fix it.
    assert message_hmac(KEY, adt(admit_at="not a time", nhs="9990000018")) == plain
    assert message_hmac(None, RCB_A01) is None  # no key: no hash at all
    assert message_hmac(KEY, "not hl7") is None
    assert message_hmac(KEY, adt(pid3="RCB123^^^RCB^MR")) is None  # no NHS number


def test_a_search_filter_is_checked_and_carries_only_the_hash() -> None:
    wanted = message_filter(
        KEY, sender=" rcb ", trigger="a01", ack_code="ae", nhs_number="999 000 0018"
    )
    assert (wanted.sender, wanted.trigger, wanted.ack_code) == ("RCB", "A01", "AE")
    assert wanted.nhs_number_hmac == nhs_number_hmac(KEY, "9990000018")
    assert "9990000018" not in repr(wanted)
    assert message_filter(KEY, control_id="  ", status="") == message_filter(KEY)
    refusals = [
        {"ack_code": "ZZ"},
        {"status": "lost"},
        {"control_id": "A\rB"},
        {"control_id": "x" * 201},
        {"nhs_number": "1" * 21},
        {"received_from": datetime(2026, 1, 1)},  # no offset
        {
            "received_from": datetime(2026, 1, 2, tzinfo=UTC),
            "received_to": datetime(2026, 1, 1, tzinfo=UTC),
        },
    ]
    for fields in refusals:
        with pytest.raises(SearchRefused) as refused:
            message_filter(KEY, **fields)  # type: ignore[arg-type]
        assert "1111" not in str(refused.value) and "A\rB" not in str(refused.value)
    with pytest.raises(SearchUnavailable):
        message_filter(None, nhs_number="9990000018")


def test_working_time_counts_only_the_working_hours() -> None:
    friday_evening = datetime(2026, 12, 4, 17, 30, tzinfo=UTC)  # GMT in December
    monday_morning = datetime(2026, 12, 7, 8, 45, tzinfo=UTC)
    assert HOURS.seconds_between(friday_evening, monday_morning) == 75 * 60
    assert not is_quiet(HOURS, friday_evening, monday_morning, 90)
    assert is_quiet(HOURS, friday_evening, monday_morning, 60)
    assert not is_quiet(HOURS, friday_evening, monday_morning, 0)  # 0: never
    # British Summer Time: 08:00 in London is 07:00 UTC.
    summer = datetime(2026, 7, 6, 7, 0, tzinfo=UTC)
    assert HOURS.seconds_between(summer, summer + timedelta(hours=1)) == 3600
    # Silent for months: counted over the last 31 days only, still quiet by any threshold.
    assert HOURS.seconds_between(summer - timedelta(days=400), summer) > 200 * 3600


def test_working_hours_settings_are_checked() -> None:
    weekend = parse_working_hours("Sat,Sun 09:00-13:00", "Europe/London")
    assert weekend.days == {5, 6}
    for text, zone in [
        ("Mon-Fri", "Europe/London"),
        ("Fri-Mon 08:00-18:00", "Europe/London"),
        ("Mon-Fri 18:00-08:00", "Europe/London"),
        ("Mon-Fri 25:00-26:00", "Europe/London"),
        ("Mon-Fri 08:00-18:00", "Mars/Olympus"),
    ]:
        with pytest.raises(ValueError, match="working hours"):
            parse_working_hours(text, zone)


def test_text_with_a_lone_surrogate_is_displayable() -> None:
    assert displayable("A\ud800B") == "A\ufffdB"
    assert displayable("MSH|^~\\&|\r") == "MSH|^~\\&|\r"

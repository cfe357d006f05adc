from datetime import UTC, datetime, time

from scheduling.domain.coaching import Booking, Coach, choose_slot, slots

NINE_TO_FIVE = {"mon": [(time(9), time(17))], "sun": [(time(9), time(17))]}


def test_slots_follow_the_coachs_own_clock_across_a_dst_change() -> None:
    london = Coach("L", frozenset({"en"}), "Europe/London", NINE_TO_FIVE)
    # 2026-10-25 is the Sunday UK clocks go back: 09:00 BST is 08:00 UTC, 09:00 GMT is 09:00 UTC.
    saturday = datetime(2026, 10, 24, 0, 0, tzinfo=UTC)
    starts = [s for s, _ in slots(london, saturday, 30, 2)]
    assert starts[0] == datetime(2026, 10, 25, 9, 0, tzinfo=UTC)
    assert len([s for s in starts if s.day == 25]) == 16
    mumbai = Coach("M", frozenset({"hi"}), "Asia/Kolkata", NINE_TO_FIVE)
    monday = datetime(2026, 10, 26, 0, 0, tzinfo=UTC)
    assert next(slots(mumbai, monday, 30, 1))[0] == datetime(2026, 10, 26, 3, 30, tzinfo=UTC)


def test_slots_respect_lead_time() -> None:
    london = Coach("L", frozenset({"en"}), "Europe/London", NINE_TO_FIVE)
    earliest = datetime(2026, 11, 23, 10, 10, tzinfo=UTC)
    assert next(slots(london, earliest, 30, 1))[0] == datetime(2026, 11, 23, 10, 30, tzinfo=UTC)


def test_language_first_then_english_then_earliest_and_least_loaded() -> None:
    punjabi = Coach("P", frozenset({"pa", "en"}), "Europe/London", NINE_TO_FIVE)
    english = Coach("E", frozenset({"en"}), "Europe/London", NINE_TO_FIVE)
    monday = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    assert choose_slot([english, punjabi], "pa", [], monday).coach_id == "P"  # type: ignore[union-attr]
    fallback = choose_slot([english, punjabi], "sw", [], monday)
    assert fallback is not None and fallback.language == "en"
    busy = [
        Booking(
            "E", datetime(2026, 11, 23, 9, 0, tzinfo=UTC), datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
        )
    ]
    choice = choose_slot([english, punjabi], "en", busy, monday)
    assert choice is not None and (choice.coach_id, choice.starts_at.hour) == ("P", 9)
    assert choose_slot([], "en", [], monday) is None

"""The message browser on SQLite and PostgreSQL: every search filter, paging, statistics,
a resubmission's one commit, bulk reruns and rehashing."""

from datetime import UTC, datetime, timedelta

from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS
from hospital_feed.adapters.message_browser import channel_statistics, search_messages
from hospital_feed.service_layer.message_browser import (
    RehashNhsNumbers,
    ReprocessMatching,
    ResubmitMessage,
    ShowMessage,
    StaffAction,
)
from hospital_feed.service_layer.message_filters import message_filter

from ..samples import RCB_A01, adt
from ..support import feed_kit, receive, stored

KEY = b"an-integration-search-key-32-chars-long"
STAFF = StaffAction("staff", "api")


def test_search_statistics_and_corrections_on_each_store(database_url: str) -> None:
    kit = feed_kit(database_url, message_search_key=KEY.decode())
    try:
        receive(kit, RCB_A01)
        kit.clock.advance(hours=1)
        receive(kit, adt(control_id="BAD-1", visit="V2", admit_at="2026-11-22"))
        receive(kit, adt(control_id="HELD-1", nhs="9999999999", visit="V3"))
        kit.clock.advance(hours=1)
        receive(
            kit, adt("A03", control_id="RVJ-1", facility="RVJ", discharge_at="202611231000"), "RVJ"
        )
        first, bad, held, other = (m.id or 0 for m in stored(kit))

        def ids(before: int = 0, limit: int = 100, **fields: object) -> list[int]:
            wanted = message_filter(KEY, **fields)  # type: ignore[arg-type]
            return [m["id"] for m in kit.read(search_messages, wanted, before, limit)]

        assert ids() == [other, held, bad, first]
        assert ids(limit=2) == [other, held] and ids(before=held) == [bad, first]
        assert ids(control_id="BAD-1") == [bad]
        assert ids(nhs_number="9990000018") == [other, bad, first]
        assert ids(nhs_number="9999999999") == [held]
        assert ids(sender="RVJ") == [other]
        assert ids(trigger="A03") == [other]
        assert ids(ack_code="AE") == [bad]
        assert ids(status="held") == [held]
        start = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # the kit's clock, an hour on
        assert ids(received_from=start, received_to=start + timedelta(hours=1)) == [held, bad]

        shown = kit.execute(ShowMessage(bad, STAFF))
        assert shown is not None and shown.raw == stored(kit)[1].raw

        fixed = adt(control_id="BAD-1", visit="V2", admit_at="202611221000")
        done = kit.execute(ResubmitMessage(bad, fixed, STAFF, "fixed PV1-44"))
        assert done is not None and (done.status, done.ack_code) == ("accepted", "AA")
        assert [e.source_message_id for e in kit.published(HOSPITAL_ENCOUNTERS)] == [
            "RCB0000001",
            "RVJ-1",
            "BAD-1",
        ]
        assert ids(status="resubmitted") == [bad]

        rerun = kit.execute(ReprocessMatching(message_filter(KEY), STAFF))
        assert (rerun.counts, rerun.processed, rerun.next_after) == ({"held": 1}, 1, None)

        rcb, rvj = kit.read(channel_statistics, ["RCB", "RVJ"])
        assert (rcb["received"], rcb["accepted"], rcb["held"], rcb["resubmitted"]) == (3, 2, 1, 1)
        assert rcb["resubmissions"] == 1
        assert rcb["last_message_at"] == "2026-11-23T10:00:00+00:00"
        assert (rvj["received"], rvj["accepted"]) == (1, 1)
        assert rvj["last_message_at"] == "2026-11-23T11:00:00+00:00"

        done_hash = kit.execute(RehashNhsNumbers(0, 2))
        assert (done_hash.updated, done_hash.next_after) == (2, first + 1)
        assert ids(nhs_number="9990000018")[-1] == first
    finally:
        kit.dispose()

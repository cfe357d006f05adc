"""Raw message retention on SQLite and PostgreSQL: old settled texts are cut to their
header, their rows, ACKs and resend detection stay; held and rejected messages keep theirs."""

from ensemble_runtime.retention import Retention
from hospital_feed.adapters.message_retention import header_only, raw_message_retention
from hospital_feed.service import DEFINITION
from hospital_feed.service_layer.message_browser import DiscardMessage, ShowMessage, StaffAction

from ..samples import RCB_A01, adt
from ..support import FeedKit, feed_kit, receive, stored

STAFF = StaffAction("staff", "api")


def ack_without_control_id(kit: FeedKit, message_id: int) -> list[str]:
    """The ACK the browser shows, less its own MSH-10 (new for every rebuild)."""
    shown = kit.execute(ShowMessage(message_id, STAFF))
    assert shown is not None
    msh, *rest = shown.ack.split("\r")
    fields = msh.split("|")
    return ["|".join(fields[:9] + fields[10:]), *rest]


def retention_of(kit: FeedKit) -> Retention:
    (component,) = raw_message_retention(kit.runtime)
    assert isinstance(component, Retention)
    return component


async def test_old_settled_texts_are_cut_and_the_rest_kept(database_url: str) -> None:
    kit = feed_kit(database_url, raw_message_retention_days=30, retention_batch_size=2)
    try:
        receive(kit, RCB_A01)  # accepted
        receive(kit, adt(control_id="BAD-1", visit="V2", admit_at="2026-11-22"))  # rejected
        receive(kit, adt(control_id="HELD-1", nhs="9999999999", visit="V3"))  # held
        receive(kit, adt(control_id="GONE-1", nhs="9999999999", visit="V4"))  # held, discarded
        receive(kit, adt(control_id="RVJ-1", facility="RVJ", visit="V5"), "RVJ")  # accepted
        kit.execute(DiscardMessage(stored(kit)[3].id or 0, "a test feed", STAFF))
        accepted, rejected, held, discarded, other = stored(kit)
        assert discarded.status == "discarded"
        acks = {m.id: ack_without_control_id(kit, m.id or 0) for m in (accepted, discarded)}
        kit.clock.advance(days=31)
        receive(kit, adt(control_id="NEW-1", visit="V6"))  # recent: kept whole
        recent = stored(kit)[-1]

        assert await retention_of(kit).sweep() == {"hl7_messages": 3}
        after = {m.id: m for m in stored(kit)}
        for cut in (accepted, discarded, other):
            kept = after[cut.id]
            assert kept.raw == header_only(cut.raw) and "PID" not in kept.raw
            assert (kept.status, kept.ack_code, kept.control_id) == (
                cut.status,
                cut.ack_code,
                cut.control_id,
            )
            assert (kept.content_sha256, kept.nhs_number_hmac) == (
                cut.content_sha256,
                cut.nhs_number_hmac,
            )
        for whole in (rejected, held, recent):  # not handled yet, or not old: untouched
            assert after[whole.id].raw == whole.raw
        for message_id, ack in acks.items():  # the browser still shows the same answer
            assert ack_without_control_id(kit, message_id or 0) == ack

        assert await retention_of(kit).sweep() == {"hl7_messages": 0}  # done once
        count = len(stored(kit))
        assert receive(kit, RCB_A01).split("\r")[1].startswith("MSA|AA")  # still a resend
        assert len(stored(kit)) == count
    finally:
        kit.dispose()


async def test_raw_messages_kept_for_ever_when_the_age_is_zero(database_url: str) -> None:
    kit = feed_kit(database_url, raw_message_retention_days=0)
    try:
        receive(kit, RCB_A01)
        kit.clock.advance(days=3650)
        assert await retention_of(kit).sweep() == {}
        assert stored(kit)[0].raw == RCB_A01
        assert await retention_of(kit).count() == {"hl7_messages": 1}
    finally:
        kit.dispose()


def test_the_component_is_in_the_service_definition() -> None:
    assert raw_message_retention in DEFINITION.components

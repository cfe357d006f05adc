"""The staff message browser through its JSON API: search, show (audited), resubmit,
discard, bulk reprocess, channel statistics; staff only, and no NHS number in a log."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select
from structlog.testing import capture_logs

from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS
from hospital_feed.adapters.message_browser import MessageAudit
from hospital_feed.domain.message_search import nhs_number_hmac
from hospital_feed.service_layer.message_browser import RehashNhsNumbers

from ..samples import RCB_A01, adt
from ..support import FeedKit, feed_kit, msa, receive, stored

KEY = "a-test-search-key-of-32-characters-or-more"
PATIENT = "9990000018"


@pytest.fixture
def keyed(tmp_path: Path) -> Iterator[FeedKit]:
    kit = feed_kit(f"sqlite:///{tmp_path / 'feed.db'}", message_search_key=KEY)
    yield kit
    kit.dispose()


def audit_rows(kit: FeedKit) -> list[tuple[int, str, str, str]]:
    def query(session: Session) -> list[tuple[int, str, str, str]]:
        rows = session.exec(select(MessageAudit).order_by(col(MessageAudit.id))).all()
        return [(r.message_id, r.action, r.actor, r.channel) for r in rows]

    return kit.read(query)


def rejected(control_id: str, **fields: Any) -> str:
    """An admission the feed answers AE: PV1-44 is not a timestamp."""
    return adt(control_id=control_id, admit_at="2026-11-22 10:00", **fields)


async def test_staff_find_messages_by_any_field_newest_first(keyed: FeedKit) -> None:
    receive(keyed, RCB_A01)
    receive(keyed, adt(control_id="C-2", nhs="9990000026", visit="V2"))
    receive(keyed, rejected("C-3"))
    receive(keyed, adt("A03", control_id="C-4", visit="V9", discharge_at="202611231000"), "RVJ")
    ids = [m.id for m in stored(keyed)]
    assert stored(keyed)[0].nhs_number_hmac == nhs_number_hmac(KEY.encode(), PATIENT)

    async with keyed.client("staff", "staff") as staff:
        newest = (await staff.get("/v1/staff/messages")).json()
        by_control_id = (await staff.get("/v1/staff/messages", params={"control_id": "C-3"})).json()
        page = (await staff.get("/v1/staff/messages", params={"limit": 2})).json()
        rest = await staff.get("/v1/staff/messages", params={"before": page["next_before"]})
        by_patient = await staff.post("/v1/staff/messages/search", json={"nhs_number": PATIENT})
        both = await staff.post(
            "/v1/staff/messages/search",
            json={"nhs_number": "999 000 0018", "status": "rejected", "ack_code": "AE"},
        )
        by_sender = await staff.get("/v1/staff/messages", params={"sender": "rvj"})
        by_trigger = await staff.get("/v1/staff/messages", params={"trigger": "A03"})
        in_range = await staff.get(
            "/v1/staff/messages",
            params={"received_from": "2026-11-23T08:00:00Z", "received_to": "2026-11-23T10:00Z"},
        )
        later = await staff.get("/v1/staff/messages", params={"received_from": "2026-11-24T00:00Z"})
    assert [m["id"] for m in newest["messages"]] == ids[::-1]
    assert newest["next_before"] is None
    (found,) = by_control_id["messages"]
    assert (found["control_id"], found["status"], found["ack_code"]) == ("C-3", "rejected", "AE")
    assert "raw" not in found  # a listing never carries the message itself
    assert [m["id"] for m in page["messages"]] == ids[:1:-1] and page["next_before"] == ids[2]
    assert [m["id"] for m in rest.json()["messages"]] == ids[1::-1]
    assert [m["control_id"] for m in by_patient.json()["messages"]] == ["C-4", "C-3", "RCB0000001"]
    assert [m["control_id"] for m in both.json()["messages"]] == ["C-3"]
    assert [m["control_id"] for m in by_sender.json()["messages"]] == ["C-4"]
    assert [m["control_id"] for m in by_trigger.json()["messages"]] == ["C-4"]
    assert len(in_range.json()["messages"]) == 4  # the kit's clock: 2026-11-23 09:00 UTC
    assert later.json()["messages"] == []


async def test_search_refusals_are_clear_4xx_and_staff_only(keyed: FeedKit, tmp_path: Path) -> None:
    async with keyed.client("staff", "staff") as staff:
        bad_ack = await staff.get("/v1/staff/messages", params={"ack_code": "ZZ"})
        no_offset = await staff.get("/v1/staff/messages", params={"received_from": "2026-11-23"})
        unknown_field = await staff.post("/v1/staff/messages/search", json={"nhs": PATIENT})
    assert bad_ack.status_code == 422 and "ack_code is one of" in bad_ack.json()["detail"]
    assert no_offset.status_code == 422
    assert unknown_field.status_code == 422
    for kind, principal in [("practice", "L85001"), ("sender", "RCB")]:
        async with keyed.client(kind, principal) as other:
            assert (await other.get("/v1/staff/messages")).status_code == 401
            assert (await other.get("/v1/staff/messages/1")).status_code == 401
            assert (await other.get("/v1/staff/channels")).status_code == 401
    unkeyed = feed_kit(f"sqlite:///{tmp_path / 'unkeyed.db'}")
    try:
        async with unkeyed.client("staff", "staff") as staff:
            off = await staff.post("/v1/staff/messages/search", json={"nhs_number": PATIENT})
        assert off.status_code == 409 and "MESSAGE_SEARCH_KEY" in off.json()["detail"]
    finally:
        unkeyed.dispose()


async def test_showing_a_message_gives_its_raw_text_and_ack_and_is_audited(keyed: FeedKit) -> None:
    sent = receive(keyed, rejected("C-9"))
    (message,) = stored(keyed)
    with capture_logs() as logs:
        async with keyed.client("staff", "staff") as staff:
            shown = await staff.get(f"/v1/staff/messages/{message.id}")
            missing = await staff.get("/v1/staff/messages/999")
    assert missing.status_code == 404
    body = shown.json()
    assert body["raw"] == rejected("C-9")
    assert (body["raw_escaped"], body["raw_charset"]) == (False, "utf-8")
    # The ACK as sent, bar its own MSH-7/MSH-10: the same MSA and ERR.
    assert body["ack"].split("\r")[1:] == sent.split("\r")[1:]
    assert msa(body["ack"]).startswith("MSA|AE|C-9|PV1-44")
    assert body["audit"] == [
        {
            "action": "viewed",
            "actor": "staff",
            "channel": "api",
            "at": body["audit"][0]["at"],
            "related_message_id": None,
        }
    ]
    assert audit_rows(keyed) == [(message.id, "viewed", "staff", "api")]
    audit = [e for e in logs if e["event"] == "audit" and e.get("action") == "messages.view"]
    assert audit and audit[0]["principal"] == "staff"
    assert not any(PATIENT in str(event) for event in logs)


async def test_a_rejected_message_is_resubmitted_corrected_as_a_new_message(keyed: FeedKit) -> None:
    receive(keyed, rejected("C-5"))
    (original,) = stored(keyed)
    corrected = adt(control_id="C-5", admit_at="202611221000")
    async with keyed.client("staff", "staff") as staff:
        done = await staff.post(
            f"/v1/staff/messages/{original.id}/resubmit",
            json={"text": corrected, "note": "PV1-44 was not a timestamp"},
        )
        again = await staff.post(
            f"/v1/staff/messages/{original.id}/resubmit", json={"text": corrected + "ZX1|\r"}
        )
        shown = (await staff.get(f"/v1/staff/messages/{original.id}")).json()
    assert done.status_code == 200, done.text
    result = done.json()
    assert (result["original_id"], result["status"], result["ack_code"]) == (
        original.id,
        "accepted",
        "AA",
    )
    assert msa(result["ack"]) == "MSA|AA|C-5|"
    kept, new = stored(keyed)
    assert (kept.id, kept.raw, kept.status, kept.ack_code) == (
        original.id,
        original.raw,
        "resubmitted",
        "AE",
    )
    assert (kept.closed_by, kept.closed_reason) == ("staff", "PV1-44 was not a timestamp")
    assert (new.id, new.resubmitted_from, new.sender, new.raw) == (
        result["message_id"],
        original.id,
        "RCB",
        corrected,
    )
    assert new.nhs_number_hmac == kept.nhs_number_hmac is not None
    (event,) = keyed.published(HOSPITAL_ENCOUNTERS)
    assert (event.source_message_id, event.nhs_number) == ("C-5", PATIENT)
    assert again.status_code == 409 and "resubmitted" in again.json()["detail"]
    assert shown["resubmissions"] == [new.id]
    assert [row[1] for row in audit_rows(keyed)] == ["resubmitted", "viewed"]


async def test_resubmission_refusals(keyed: FeedKit) -> None:
    receive(keyed, RCB_A01)
    receive(keyed, rejected("C-6"))
    accepted, refused = stored(keyed)
    async with keyed.client("staff", "staff") as staff:
        of_accepted = await staff.post(
            f"/v1/staff/messages/{accepted.id}/resubmit", json={"text": RCB_A01 + "ZX1|\r"}
        )
        unchanged = await staff.post(
            f"/v1/staff/messages/{refused.id}/resubmit", json={"text": refused.raw}
        )
        already_received = await staff.post(
            f"/v1/staff/messages/{refused.id}/resubmit", json={"text": RCB_A01}
        )
        empty = await staff.post(f"/v1/staff/messages/{refused.id}/resubmit", json={"text": ""})
        # Staff cannot make one trust's feed speak for another: the rules still apply.
        other_trust = await staff.post(
            f"/v1/staff/messages/{refused.id}/resubmit",
            json={"text": adt(control_id="C-6", facility="RVJ")},
        )
    assert (
        of_accepted.status_code == 409 and "only rejected or held" in of_accepted.json()["detail"]
    )
    assert unchanged.status_code == 409 and "unchanged" in unchanged.json()["detail"]
    assert already_received.status_code == 409
    assert empty.status_code == 422
    assert other_trust.status_code == 200
    assert msa(other_trust.json()["ack"]).startswith("MSA|AR|C-6|")
    assert [(m.status, m.resubmitted_from) for m in stored(keyed)] == [
        ("accepted", None),
        ("resubmitted", None),
        ("rejected", refused.id),
    ]


async def test_discard_keeps_who_why_and_when_and_ends_reprocessing(keyed: FeedKit) -> None:
    receive(keyed, adt(nhs="9999999999", control_id="H-1"))  # held: a placeholder number
    (held,) = stored(keyed)
    async with keyed.client("staff", "staff") as staff:
        no_reason = await staff.post(f"/v1/staff/messages/{held.id}/discard", json={"reason": ""})
        done = await staff.post(
            f"/v1/staff/messages/{held.id}/discard", json={"reason": "a test patient"}
        )
        rerun = await staff.post(f"/v1/messages/{held.id}/reprocess")
        twice = await staff.post(f"/v1/staff/messages/{held.id}/discard", json={"reason": "again"})
    assert no_reason.status_code == 422
    assert done.status_code == 200 and done.json()["status"] == "discarded"
    assert done.json()["closed_by"] == "staff" and done.json()["closed_at"] is not None
    (kept,) = stored(keyed)
    assert (kept.status, kept.closed_reason, kept.ack_code) == ("discarded", "a test patient", "AA")
    assert rerun.status_code == 409
    assert twice.status_code == 409
    assert audit_rows(keyed) == [(held.id, "discarded", "staff", "api")]


async def test_bulk_reprocess_reruns_only_rejected_and_held_in_bounded_calls(
    keyed: FeedKit,
) -> None:
    receive(keyed, RCB_A01)
    for n in range(3):
        receive(keyed, rejected(f"R-{n}"))
    receive(keyed, adt(nhs="9999999999", control_id="H-1"))
    receive(keyed, rejected("R-OTHER", facility="RVJ"), "RVJ")
    async with keyed.client("staff", "staff") as staff:
        first = (
            await staff.post("/v1/staff/messages/reprocess", json={"sender": "RCB", "limit": 2})
        ).json()
        second = (
            await staff.post(
                "/v1/staff/messages/reprocess",
                json={"sender": "RCB", "limit": 2, "after": first["next_after"]},
            )
        ).json()
        too_many = await staff.post("/v1/staff/messages/reprocess", json={"limit": 501})
    assert first == {"counts": {"rejected": 2}, "processed": 2, "next_after": stored(keyed)[2].id}
    assert second == {
        "counts": {"held": 1, "rejected": 1},
        "processed": 2,
        "next_after": stored(keyed)[4].id,
    }
    assert too_many.status_code == 422
    rerun = [m for m in stored(keyed) if m.reprocessed_at is not None]
    assert [m.control_id for m in rerun] == ["R-0", "R-1", "R-2", "H-1"]  # never RVJ's, never AA
    assert [row[1] for row in audit_rows(keyed)] == ["reprocessed"] * 4


async def test_channel_statistics_per_sender(keyed: FeedKit) -> None:
    receive(keyed, RCB_A01)
    receive(keyed, RCB_A01.replace("RCB0000001", "RCB0000002"))  # the same event again
    receive(keyed, rejected("C-7"))
    receive(keyed, adt(nhs="9999999999", control_id="H-1"))
    refused = stored(keyed)[2]
    keyed.clock.advance(minutes=5)
    async with keyed.client("staff", "staff") as staff:
        await staff.post(
            f"/v1/staff/messages/{refused.id}/resubmit",
            json={"text": adt(control_id="C-7", visit="V77", admit_at="202611221000")},
        )
        channels = (await staff.get("/v1/staff/channels")).json()["channels"]
    rcb, rvj = channels
    assert rcb == {
        "sender": "RCB",
        "received": 4,
        "accepted": 2,
        "rejected": 0,
        "held": 1,
        "duplicate": 1,
        "resubmitted": 1,
        "discarded": 0,
        "resubmissions": 1,
        "last_message_at": "2026-11-23T09:00:00+00:00",  # staff corrections aside
    }
    assert (rvj["sender"], rvj["received"], rvj["last_message_at"]) == ("RVJ", 0, None)


def test_rehash_gives_messages_stored_before_the_key_their_hash(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'feed.db'}"
    before = feed_kit(url)
    try:
        receive(before, RCB_A01)
        assert stored(before)[0].nhs_number_hmac is None
    finally:
        before.dispose()
    after = feed_kit(url, message_search_key=KEY)
    try:
        done = after.execute(RehashNhsNumbers(0, 1000))
        assert (done.updated, done.next_after) == (1, None)
        assert stored(after)[0].nhs_number_hmac == nhs_number_hmac(KEY.encode(), PATIENT)
    finally:
        after.dispose()

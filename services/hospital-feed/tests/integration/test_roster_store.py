"""Rosters, their audited uploads and unrouted alerts on SQLite and PostgreSQL, on a store
built by the migrations."""

from collections.abc import Iterator
from itertools import islice
from typing import Any
from uuid import uuid4

import pytest

from ensemble_devkit.synthetic import test_nhs_numbers as valid_numbers
from ensemble_runtime.db import create_db_engine
from ensemble_runtime.migrations import migrate
from hospital_feed.adapters.rosters import roster_page, roster_uploads, unrouted_alerts
from hospital_feed.adapters.unit_of_work import HospitalFeedUnitOfWork
from hospital_feed.domain.rosters import RosterMode, parse_roster
from hospital_feed.service import DEFINITION
from hospital_feed.service_layer.access import AddUser
from hospital_feed.service_layer.rosters import UnknownRecipient, UploadRoster

from ..support import FeedKit, alerts, feed_kit
from ..unit.test_alerts import encounter

A, B, C = "9434765919", "9990000018", "9990000026"


@pytest.fixture
def kit(database_url: str) -> Iterator[FeedKit]:
    engine = create_db_engine(database_url)
    migrate(engine, DEFINITION.migrations)  # the tables as the migrations make them
    engine.dispose()
    made = feed_kit(database_url)
    made.execute(AddUser("COACH1", "coach"))
    yield made
    made.dispose()


def upload(
    kit: FeedKit, text: str, mode: RosterMode, recipient: str | None = "COACH1"
) -> dict[str, Any]:
    parsed = parse_roster(text, recipient=recipient, max_rows=10_000)
    return kit.execute(UploadRoster(parsed, mode, "staff", "staff", recipient)).answer()


def test_uploads_change_the_roster_and_each_is_audited(kit: FeedKit) -> None:
    assert upload(kit, f"{A}\n{B}", RosterMode.REPLACE)["added"] == 2
    assert upload(kit, f"{B}\n{C}", RosterMode.ADD)["added"] == 1
    assert upload(kit, f"{A}", RosterMode.REMOVE)["removed"] == 1
    page = kit.read(roster_page, "COACH1", "", 1)
    assert (page["count"], [e["nhs_number"] for e in page["entries"]]) == (2, [B])
    rest = kit.read(roster_page, "COACH1", page["next_after"], 10)
    assert ([e["nhs_number"] for e in rest["entries"]], rest["next_after"]) == ([C], None)
    newest, *older = kit.read(roster_uploads, None, 10)
    assert [u["mode"] for u in [newest, *older]] == ["remove", "add", "replace"]
    assert [u["mode"] for u in kit.read(roster_uploads, newest["upload_id"], 10)] == [
        "add",
        "replace",
    ]
    assert {u["recipients"][0] for u in older} == {"COACH1"}


def test_a_large_roster_is_replaced_and_removed_in_one_go(kit: FeedKit) -> None:
    numbers = list(islice(valid_numbers(start=500_000), 3000))
    assert upload(kit, "\n".join(numbers), RosterMode.REPLACE)["added"] == 3000
    kept = [*numbers[1000:], A]
    replaced = upload(kit, "\n".join(kept), RosterMode.REPLACE)
    assert (replaced["added"], replaced["removed"], replaced["unchanged"]) == (1, 1000, 2000)
    assert upload(kit, "\n".join(kept), RosterMode.REMOVE)["removed"] == 2001
    assert kit.read(roster_page, "COACH1", "", 10)["count"] == 0


def test_only_known_recipients_get_a_roster(kit: FeedKit) -> None:
    # L85001 has an env token in the kit, COACH1 a user in the store, NOBODY1 neither.
    text = f"L85001,{A}\nCOACH1,{A}\nNOBODY1,{A}\n"
    answer = upload(kit, text, RosterMode.ADD, recipient=None)
    assert sorted(answer["recipients"]) == ["COACH1", "L85001"]
    assert [r["line"] for r in answer["rejected"]] == [3]
    with pytest.raises(UnknownRecipient):
        upload(kit, A, RosterMode.ADD, recipient="NOBODY1")

    def listed(uow: HospitalFeedUnitOfWork) -> list[str]:
        return uow.rosters.recipients_of(A)

    assert kit.run(listed) == ["COACH1", "L85001"]


def test_roster_alerts_and_retractions_reach_every_recipient(kit: FeedKit) -> None:
    upload(kit, A, RosterMode.ADD)
    kit.consume(encounter(nhs_number=A, practice_ods="L85001", visit_number="V7"))
    kit.consume(
        encounter(
            nhs_number=A,
            event_type="encounter.admission_cancelled",
            trigger_event="A11",
            practice_ods="L85001",
            visit_number="V7",
        )
    )
    assert [(a.practice_ods, a.kind, a.status, a.recipient_reason) for a in alerts(kit)] == [
        ("L85001", "admitted", "retracted", "registered"),
        ("COACH1", "admitted", "retracted", "roster"),
        ("L85001", "admission_cancelled", "active", "registered"),
        ("COACH1", "admission_cancelled", "active", "roster"),
    ]


def test_an_unrouted_event_is_kept_once_on_either_store(kit: FeedKit) -> None:
    event_id = uuid4()

    def record(uow: HospitalFeedUnitOfWork) -> bool:
        new = uow.unrouted.record(
            {
                "event_id": event_id,
                "kind": "admitted",
                "sending_facility": "RCB",
                "reason": "no_registered_practice",
                "nhs_number": A,
                "event_at": None,
                "recorded_at": kit.clock(),
            }
        )
        uow.commit()
        return new

    assert kit.run(record) is True
    assert kit.run(record) is False
    shown = kit.read(unrouted_alerts, 5)
    assert (shown["count"], shown["newest"][0]["event_id"]) == (1, str(event_id))
    assert A not in str(shown)

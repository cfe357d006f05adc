"""Alerts projected at intake (`alerts_at_intake`, the default): each encounter's alerts commit
in the transaction that stores its message, the event still goes to Kafka as before, and the
alerts consumer finds it in its inbox. What a practice is told is exactly what the consumer
would have told it."""

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS
from hospital_feed.service_layer import handlers
from hospital_feed.service_layer.commands import ReceiveHl7

from ..samples import adt
from ..support import FeedKit, alerts, feed_kit, msa, receive

# One patient's stay, told and corrected: admit, transfer, cancel the admission, admit again,
# discharge, cancel the discharge; and another practice's patient in A&E.
STAY = [
    adt("A01", control_id="S1"),
    adt("A02", control_id="S2", location="WARD 9^BAY 1^BED 2^RCB"),
    adt("A11", control_id="S3"),
    adt("A01", control_id="S4", visit="V00124", admit_at="202611221100", evn6="202611221100"),
    adt("A03", control_id="S5", visit="V00124", discharge_at="202611231000"),
    adt("A13", control_id="S6", visit="V00124", evn6="202611231030"),
    adt("A04", control_id="S7", nhs="9990000026", practice="L85002", patient_class="E"),
]


@pytest.fixture
def consumer_kit(tmp_path: Path) -> Iterator[FeedKit]:
    kit = feed_kit(f"sqlite:///{tmp_path / 'consumer.db'}", alerts_at_intake=False)
    yield kit
    kit.dispose()


def told(kit: FeedKit) -> list[tuple[Any, ...]]:
    """What each recipient sees, without ids and creation times."""
    return [
        (
            a.practice_ods,
            a.nhs_number,
            a.kind,
            a.status,
            a.visit_number,
            a.location,
            a.event_at,
            a.emergency,
            a.disposition,
            a.recipient_reason,
            a.encounter_event_id,
            a.retracted_by_event_id,
        )
        for a in alerts(kit)
    ]


def test_the_alert_is_committed_with_the_message(kit: FeedKit) -> None:
    assert msa(receive(kit, adt("A01", control_id="C1"))) == "MSA|AA|C1|"
    [alert] = alerts(kit)  # before any consumer ran
    assert (alert.practice_ods, alert.kind, alert.status) == ("L85001", "admitted", "active")
    [event] = kit.published(HOSPITAL_ENCOUNTERS)  # still published, for every other consumer
    assert alert.encounter_event_id == event.event_id
    assert kit.consume(event) == ["duplicate"]
    assert len(alerts(kit)) == 1


def test_a_practice_is_told_what_the_consumer_would_have_told_it(
    kit: FeedKit, consumer_kit: FeedKit
) -> None:
    for raw in STAY:
        assert msa(receive(kit, raw)).startswith("MSA|AA|")
        assert msa(receive(consumer_kit, raw)).startswith("MSA|AA|")
    assert alerts(consumer_kit) == []  # off: nothing until the Kafka hop
    events = consumer_kit.published(HOSPITAL_ENCOUNTERS)
    assert set(consumer_kit.consume(*events)) == {"processed"}
    # The same events, apart from their ids; so the same alerts, apart from the ids.
    ids = {
        mine.event_id: theirs.event_id
        for mine, theirs in zip(kit.published(HOSPITAL_ENCOUNTERS), events, strict=True)
    }
    assert len(ids) == len(events) == 7

    def renamed(row: tuple[Any, ...]) -> tuple[Any, ...]:
        return (*row[:-2], ids[row[-2]], ids.get(row[-1]))

    assert [renamed(row) for row in told(kit)] == told(consumer_kit)
    assert {kind for _, _, kind, *_ in told(kit)} >= {"admitted", "admission_cancelled"}


def test_messages_committed_together_each_commit_their_alerts(kit: FeedKit) -> None:
    async def together() -> list[str]:
        commands = [
            ReceiveHl7("RCB", adt("A01", nhs=nhs, control_id=f"G{index}", visit=f"V{index}"))
            for index, nhs in enumerate(("9990000018", "9990000026", "9990000034"))
        ]
        return await asyncio.gather(*(kit.execute_async(c) for c in commands))

    acks = asyncio.run(together())
    assert all(msa(ack).startswith("MSA|AA|") for ack in acks)
    assert sorted(a.nhs_number for a in alerts(kit)) == ["9990000018", "9990000026", "9990000034"]
    assert set(kit.consume(*kit.published(HOSPITAL_ENCOUNTERS))) == {"duplicate"}


def test_a_projection_that_fails_at_intake_is_left_to_the_consumer(
    kit: FeedKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(uow: object, event: object) -> None:
        raise KeyError("a bug in the projection")

    monkeypatch.setattr(handlers, "project_alert", broken)  # intake's, not the consumer's
    assert msa(receive(kit, adt("A01", control_id="B1"))) == "MSA|AA|B1|"  # stored all the same
    assert alerts(kit) == []
    [event] = kit.published(HOSPITAL_ENCOUNTERS)
    assert kit.consume(event) == ["processed"]  # not in the inbox: the consumer projects it
    assert [a.kind for a in alerts(kit)] == ["admitted"]

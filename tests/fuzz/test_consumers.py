"""Every consumer of every service, through the runtime's own batch path (validate, apply in
one transaction, apply singly after a failure, dead-letter): each delivered record ends up
applied (processed, ignored or a duplicate: in the inbox) or dead-lettered with a classified
error, never both, never neither; a record that is not a valid event is refused at
validation; a dead-lettered event leaves nothing behind; nothing hangs or escapes.

The events come from each topic's model (field by field, plausible and hostile values), so
a new subscription or event field is fuzzed without touching this file.
"""

import asyncio
import contextlib
import itertools
import json
import uuid
from collections.abc import Iterator, Sequence
from typing import Any, cast

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import exc as sa_exc

from ensemble_devkit.service_map import load_definitions
from ensemble_devkit.testkit import ServiceKit
from ensemble_runtime.consumer import RejectedEvent
from ensemble_runtime.definition import ServiceDefinition, Subscription

from .harness import DeadLetters, FakeMessage, Offsets, record
from .report import CRASH, HANG, Stats
from .strategies import dump_json, model_dicts, raw_json_bodies, weighted
from .support import NHS_POOL, Loop, bearer, fuzz_settings, fuzz_target, timeout_for

# One attempt: a failing event is dead-lettered at once (retries only add sleeping).
CONSUMER_SETTINGS = {"consumer_max_attempts": 1, "consumer_retry_base_seconds": 0.01}
SUBSCRIPTIONS = [(d, s) for d in load_definitions() for s in d.subscriptions]
BATCH_TIMEOUT = 60.0  # a batch the runtime cannot finish in this is a hang (e.g. endless waits)


def payloads(
    subscription: Subscription[Any, Any], nhs_numbers: Sequence[str] = NHS_POOL
) -> st.SearchStrategy[bytes]:
    """Event values for the topic: mostly from its model, sometimes not JSON at all."""
    topic = subscription.topic
    events = model_dicts(topic.value, nhs_numbers, topic.event_types, hostility=40)
    return weighted(
        (16, st.builds(dump_json, events, st.booleans())),
        (1, raw_json_bodies()),
        (1, st.binary(max_size=100)),
    )


def with_new_id(value: bytes, counter: Iterator[int]) -> bytes:
    """The value with an event_id never used before, if it is a JSON object with one."""
    try:
        parsed = json.loads(value)
    except (ValueError, RecursionError):
        return value
    if not isinstance(parsed, dict) or "event_id" not in parsed:
        return value
    parsed["event_id"] = str(uuid.UUID(int=(0xF022 << 112) + next(counter)))
    return dump_json(parsed, ascii_only=True)


def _carries_id(value: bytes) -> bool:
    try:
        parsed = json.loads(value)
    except (ValueError, RecursionError):
        return False
    return isinstance(parsed, dict) and "event_id" in parsed


def table_counts(kit: ServiceKit[Any, Any], tables: list[str]) -> dict[str, int]:
    with kit.service.engine.connect() as connection:
        return {
            name: connection.execute(sa.text(f'SELECT count(*) FROM "{name}"')).scalar_one()
            for name in tables
        }


def last_outbox_id(kit: ServiceKit[Any, Any]) -> int:
    with kit.service.engine.connect() as connection:
        return int(
            connection.execute(sa.text("SELECT coalesce(max(id), 0) FROM outbox")).scalar_one()
        )


def published_since(kit: ServiceKit[Any, Any], after: int) -> list[str]:
    """Payloads staged in the outbox after row `after`."""
    with kit.service.engine.connect() as connection:
        query = sa.text("SELECT payload FROM outbox WHERE id > :after")
        return [str(p) for p in connection.execute(query, {"after": after}).scalars()]


def seed(kit: ServiceKit[Any, Any], loop: Loop, nhs_numbers: Sequence[str] = NHS_POOL) -> None:
    """What the consumers expect to find: profiles to score, coaches to book."""

    async def run() -> None:
        staff = bearer("staff", "staff")
        async with kit.client() as http:
            if kit.definition.name == "scoring":
                lines = [
                    json.dumps(
                        {
                            "nhs_number": nhs,
                            "practice_ods": "L85001",
                            "birth_date": "1938-05-04",
                            "conditions": ["diabetes", "copd", "chd", "heart_failure"],
                            "repeat_medicines": 12,
                            "efi_deficits": 10,
                            "deprivation_quintile": 1,
                            "preferred_language": "pa",
                        }
                    )
                    for nhs in nhs_numbers
                ]
                response = await http.post("/v1/profiles", content="\n".join(lines), headers=staff)
                assert response.status_code == 200, response.text
            if kit.definition.name == "scheduling":
                every_day = {
                    d: [["00:00", "24:00"]]
                    for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
                }
                coaches = [
                    {
                        "coach_id": f"c{n}",
                        "display_name": f"Coach {n}",
                        "languages": languages,
                        "timezone": "Europe/London",
                        "weekly_hours": every_day,
                    }
                    for n, languages in enumerate([["en"], ["en", "pa"], ["hi", "ur"]])
                ]
                response = await http.post("/v1/coaches", json=coaches, headers=staff)
                assert response.status_code == 200, response.text

    loop.run(run())


def classify(error: BaseException | str, package: str) -> str:
    """'clean' for a verdict of the service (RejectedEvent or its own exception classes);
    otherwise what kind of failure a valid event met."""
    if isinstance(error, str):
        return "validation"
    if isinstance(error, RejectedEvent) or type(error).__module__.split(".")[0] == package:
        return "clean"
    if isinstance(error, sa_exc.SQLAlchemyError):
        return "store error on a valid event"
    if isinstance(error, ValidationError):
        return "invalid event produced by a handler"
    return "unexpected error on a valid event"


def fuzz_consumer(
    kit: ServiceKit[Any, Any],
    loop: Loop,
    stats: Stats,
    subscription: Subscription[Any, Any],
    letters: DeadLetters,
    nhs_numbers: Sequence[str] = NHS_POOL,
    examples: int | None = None,
) -> None:
    """Feed batches of generated records to one subscription and check every record's fate."""
    package = kit.definition.unit_of_work.__module__.split(".")[0]
    model = subscription.topic.value
    group = subscription.group
    offsets = Offsets()
    tables = sorted(sa.inspect(kit.service.engine).get_table_names())
    ids_made = itertools.count(1)
    sent: list[bytes] = []  # earlier values, to deliver again (a redelivery or a resend)

    @fuzz_settings(examples)
    @given(
        batch=st.lists(payloads(subscription, nhs_numbers), min_size=1, max_size=3),
        again=st.integers(0, 4),
        renumber=st.booleans(),
    )
    def case(batch: list[bytes], again: int, renumber: bool) -> None:
        if renumber:  # hypothesis repeats drawn ids often: half the batches get new ones
            batch = [with_new_id(value, ids_made) for value in batch]
        values = [*batch, sent[-1]] if again == 4 and sent else batch
        records = tuple(record(subscription.topic.name, offsets.take(), v) for v in values)
        events: dict[int, Any] = {}
        for r in records:
            with contextlib.suppress(ValidationError):
                events[r.offset] = model.model_validate_json(r.value)
        # Ids the value carries (without one, each parse makes a new one): checked one by one.
        by_offset = {r.offset: r for r in records}
        ids = {o: str(e.event_id) for o, e in events.items() if _carries_id(by_offset[o].value)}
        repeated = {i for i in ids.values() if list(ids.values()).count(i) > 1}
        seen_before = {
            o: kit.run(lambda uow, e=events[o]: uow.inbox.seen(group, e.event_id)) for o in ids
        }
        outbox_before = last_outbox_id(kit)
        counts_before = table_counts(kit, tables)
        message = FakeMessage(records)
        with stats.case(values):
            try:
                loop.run(
                    asyncio.wait_for(
                        kit.runtime.consumers.process_batch(subscription, cast(Any, message)),
                        BATCH_TIMEOUT,
                    )
                )
            except TimeoutError:
                stats.violation(HANG, f"batch not done in {BATCH_TIMEOUT} s", values)
                return
            except Exception as error:
                stats.violation(CRASH, f"{type(error).__name__}: {error}"[:300], values)
                return
        sent.extend(batch)
        if not message.acked:
            stats.violation(CRASH, "batch not acknowledged", values)
        counts_after = table_counts(kit, tables)
        staged = published_since(kit, outbox_before)
        lettered = {letter.source_offset for letter in letters.letters}
        for r in records:
            mine = [letter for letter in letters.letters if letter.source_offset == r.offset]
            event = events.get(r.offset)
            if len(mine) > 1:
                stats.violation("dead-lettered twice", f"{len(mine)} letters", r.value)
            if event is None:
                if not mine or mine[0].error_type != "ValidationError" or mine[0].attempts != 0:
                    detail = f"letters: {[m.error_type for m in mine]}"
                    stats.violation("invalid event not refused at validation", detail, r.value)
                stats.note("refused at validation")
                continue
            if mine:
                failure = letters.errors.get(r.offset, mine[0].error)
                verdict = classify(failure, package)
                stats.note(f"dead-lettered: {mine[0].error_type}")
                if verdict != "clean":
                    detail = f"{type(failure).__name__}: {mine[0].error[:200]}"
                    stats.violation(verdict, detail, r.value)
            if r.offset not in ids or ids[r.offset] in repeated:
                continue
            applied = kit.run(lambda uow, e=event: uow.inbox.seen(group, e.event_id))
            if not mine:
                if not applied:
                    stats.violation("event lost", "neither applied nor dead-lettered", r.value)
                elif seen_before[r.offset]:
                    stats.note("duplicate")
                else:
                    handled = event.event_type in subscription.handlers
                    stats.note("processed" if handled else "ignored")
                continue
            if applied and not seen_before[r.offset]:
                stats.violation("partial commit", "dead-lettered but in the inbox", r.value)
            if any(ids[r.offset] in payload for payload in staged):
                stats.violation(
                    "partial commit", "dead-lettered but its effects published", r.value
                )
        applied_here = counts_after.get("inbox", 0) - counts_before.get("inbox", 0)
        fresh = [
            r
            for r in records
            if r.offset in events and r.offset not in lettered and r.offset not in ids
        ]
        if fresh and applied_here < len(fresh):
            detail = f"{len(fresh)} records without event_id applied, inbox grew {applied_here}"
            stats.violation("event lost", detail, values)
        if all(r.offset in lettered for r in records) and counts_after != counts_before:
            stats.violation(
                "partial commit", "every record dead-lettered, yet rows changed", values
            )
        letters.clear()

    case()


@pytest.mark.parametrize(
    ("definition", "subscription"), SUBSCRIPTIONS, ids=[s.group for _, s in SUBSCRIPTIONS]
)
@timeout_for(per_case=0.5)
def test_every_event_is_applied_or_dead_lettered_cleanly(
    definition: ServiceDefinition[Any, Any],
    subscription: Subscription[Any, Any],
    database_url: str,
    loop: Loop,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    letters = DeadLetters()
    letters.install(monkeypatch)
    name = f"consumer-{subscription.group}"
    with fuzz_target(name, definition, database_url, **CONSUMER_SETTINGS) as (kit, stats):
        seed(kit, loop)
        fuzz_consumer(kit, loop, stats, subscription, letters)

"""Retention of raw messages: old texts cut down to their header, their rows kept.

The decision: a message past `HOSPITAL_FEED_RAW_MESSAGE_RETENTION_DAYS` keeps its row, so the
message browser still finds it (sender, MSH-10, trigger, ACK code, status, dates, the NHS
number's hash) and shows the ACK it got, and a resend of the same bytes or a repeat of the
same business event is still recognised (`content_sha256`, `published_key`, `visit_key`).
Only the clinical content goes: `raw` keeps its MSH segment and first EVN, what the ACK is
rebuilt from (`service_layer/message_browser.show_message`), and nothing else.

Only HL7 v2 texts are cut (a stored FHIR resource is kept whole for now: its cut form is
still to be decided), and only settled messages: accepted, duplicate, and those staff closed
(resubmitted, discarded). A held or rejected message keeps its text until staff handle it,
since reprocess, resubmit and discard need it; so does a message in any status not listed.

After a search key change, `rehash` cannot hash the NHS number of a cut message again: such
messages are then no longer found by NHS number (by everything else they are).

The sweep walks `hl7_messages` by id, a bounded slice at a time (retention.py); a slice
whose rows are all newer than the cutoff ends it (ids follow arrival).
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlmodel import Session

from ensemble_runtime.definition import Component
from ensemble_runtime.retention import Found, age_of, retention_component, setting_name
from ensemble_runtime.service import ServiceRuntime
from hospital_feed.adapters.orm import MessageStatus
from hospital_feed.adapters.repository import MESSAGES
from hospital_feed.domain.stored_text import restored, storable

SETTLED = (
    MessageStatus.ACCEPTED,
    MessageStatus.DUPLICATE,
    MessageStatus.RESUBMITTED,
    MessageStatus.DISCARDED,
)
KEPT_SEGMENTS = ("MSH", "EVN")  # what parse_header reads to answer
SEGMENT_END = re.compile(r"\r\n|\n|\r")  # as the parser splits (domain/hl7_message.py)
FRAMING = "\ufeff\x0b\x1c \t\r\n"


def is_hl7v2(raw: str) -> bool:
    """Whether the text is an ER7 message (MSH first): only those are cut. A FHIR resource
    (hospital-feed stores those too) or a frame too broken to have an MSH is kept whole."""
    return raw.lstrip(FRAMING).startswith("MSH")


def header_only(raw: str) -> str:
    """The message's first MSH and first EVN segments, `\\r`-separated: what `parse_header`
    reads to answer, nothing about the patient. A text already cut is returned unchanged."""
    segments = [segment for segment in SEGMENT_END.split(raw.strip(FRAMING)) if segment.strip()]
    kept = [
        next((segment for segment in segments if segment.startswith(name)), None)
        for name in KEPT_SEGMENTS
    ]
    return "\r".join(segment for segment in kept if segment is not None)


_CUT = (
    update(MESSAGES)
    .where(
        MESSAGES.c.id == bindparam("message_id"),
        MESSAGES.c.status.in_([status.value for status in SETTLED]),
        MESSAGES.c.received_at < bindparam("cutoff"),
    )
    .values(raw=bindparam("header"), raw_escaped=bindparam("escaped"))
)


@dataclass
class RawMessageRetention:
    """The retention policy of `hl7_messages.raw` (see the module docstring)."""

    max_age: timedelta | None
    table: str = "hl7_messages"

    def find(self, session: Session, cutoff: datetime, after: Any | None, limit: int) -> Found:
        """The next slice by id: (id, header form, escaped) of its settled, old, uncut rows."""
        slice_ = session.execute(
            select(MESSAGES.c.id, MESSAGES.c.received_at)
            .where(MESSAGES.c.id > (after or 0))
            .order_by(MESSAGES.c.id)
            .limit(limit)
        ).all()
        if not slice_:
            return Found([], None)
        first, last = slice_[0][0], slice_[-1][0]
        texts = session.execute(
            select(MESSAGES.c.id, MESSAGES.c.raw, MESSAGES.c.raw_escaped).where(
                MESSAGES.c.id.between(first, last),
                MESSAGES.c.status.in_([status.value for status in SETTLED]),
                MESSAGES.c.received_at < cutoff,
            )
        ).all()
        keys = []
        for message_id, raw, escaped in texts:  # a text already cut is short: cheap to read
            text = restored(raw, escaped)
            header = header_only(text)
            if is_hl7v2(text) and header != text:
                keys.append((message_id, *storable(header)))
        done = len(slice_) < limit or all(at >= cutoff for _, at in slice_)
        return Found(keys, None if done else last)

    def prune(self, session: Session, keys: Sequence[Any], cutoff: datetime) -> int:
        pruned = 0
        for message_id, header, escaped in keys:
            values = {"message_id": message_id, "header": header, "escaped": escaped}
            done = session.execute(_CUT, {**values, "cutoff": cutoff})
            pruned += int(getattr(done, "rowcount", 0) or 0)
        return pruned


def raw_message_retention(runtime: ServiceRuntime[Any, Any]) -> list[Component]:
    """The definition's component: raw message retention on the runtime's schedule."""
    settings = runtime.settings
    name = setting_name(settings, "raw_message_retention_days")
    age = age_of(settings.raw_message_retention_days * 24, name)
    return [retention_component(runtime, [RawMessageRetention(age)])]

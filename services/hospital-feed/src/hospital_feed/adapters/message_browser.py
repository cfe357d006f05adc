"""The message browser's store: the audit of what staff did with stored messages, the rows
its commands change, and its read models (search, channel statistics).

Searches never load the raw text: only showing one message does, and that is a command
(`service_layer/message_browser.py`) because every view of a raw message is audited.
"""

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Engine, Table, bindparam, case, func, update
from sqlalchemy import select as core_select  # more columns than sqlmodel's select types
from sqlmodel import Field, Session, SQLModel, col, select
from sqlmodel.sql.expression import SelectOfScalar

from ensemble_runtime.db import UtcDateTime, core_sql
from hospital_feed.adapters.orm import Hl7Message, MessageStatus
from hospital_feed.domain.message_search import MessageFilter


class MessageAudit(SQLModel, table=True):
    """One thing staff did with a stored message: viewed its raw text, resubmitted it
    corrected, discarded it, reran it. Who, which message, when, through what; never the
    message's content or the reason given (that stays on the message)."""

    __tablename__ = "message_audit"

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(index=True)
    action: str = Field(max_length=20)  # viewed, resubmitted, discarded, reprocessed
    actor: str = Field(max_length=100)  # the staff principal, or the user of a session
    channel: str = Field(max_length=10)  # api, page, cli
    at: datetime = Field(sa_type=UtcDateTime)  # the unit of work's clock
    # The message a resubmission created.
    related_message_id: int | None = None


R = TypeVar("R")
MESSAGES = cast(Table, Hl7Message.__table__)  # type: ignore[attr-defined]
_SET_HMAC = (
    update(MESSAGES)
    .where(MESSAGES.c.id == bindparam("message_id"))
    .values(nhs_number_hmac=bindparam("digest"))
)
# What a listing shows of a message: never `raw`.
LISTED = (
    col(Hl7Message.id),
    col(Hl7Message.sender),
    col(Hl7Message.sending_facility),
    col(Hl7Message.control_id),
    col(Hl7Message.trigger),
    col(Hl7Message.status),
    col(Hl7Message.ack_code),
    col(Hl7Message.error_code),
    col(Hl7Message.error),
    col(Hl7Message.received_at),
    col(Hl7Message.reprocessed_at),
    col(Hl7Message.event_id),
    col(Hl7Message.resubmitted_from),
    col(Hl7Message.closed_at),
    col(Hl7Message.closed_by),
    col(Hl7Message.content_format),
)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _matching(query: Any, wanted: MessageFilter) -> Any:
    """`query` narrowed to the messages `wanted` describes."""
    equal = {
        col(Hl7Message.sender): wanted.sender,
        col(Hl7Message.control_id): wanted.control_id,
        col(Hl7Message.trigger): wanted.trigger,
        col(Hl7Message.ack_code): wanted.ack_code,
        col(Hl7Message.status): wanted.status,
        col(Hl7Message.nhs_number_hmac): wanted.nhs_number_hmac,
    }
    for column, value in equal.items():
        if value is not None:
            query = query.where(column == value)
    if wanted.received_from is not None:
        query = query.where(col(Hl7Message.received_at) >= wanted.received_from)
    if wanted.received_to is not None:
        query = query.where(col(Hl7Message.received_at) < wanted.received_to)
    return query


def listed_view(row: Any) -> dict[str, Any]:
    """One message as a search lists it (metadata only)."""
    return {
        "id": row.id,
        "sender": row.sender,
        "sending_facility": row.sending_facility,
        "control_id": row.control_id,
        "trigger": row.trigger,
        "status": row.status,
        "ack_code": row.ack_code,
        "error_code": row.error_code,
        "error": row.error,
        "received_at": _iso(row.received_at),
        "reprocessed_at": _iso(row.reprocessed_at),
        "event_id": str(row.event_id) if row.event_id else None,
        "resubmitted_from": row.resubmitted_from,
        "closed_at": _iso(row.closed_at),
        "closed_by": row.closed_by,
        "content_format": row.content_format,  # hl7v2, or fhir-json (a FHIR Encounter)
    }


def search_messages(
    session: Session, wanted: MessageFilter, before: int, limit: int
) -> list[dict[str, Any]]:
    """Messages matching `wanted`, newest first, with ids below `before` (0: from the
    newest), at most `limit`: page on with `before=<the last id>`."""
    query = _matching(core_select(*LISTED), wanted)
    if before:
        query = query.where(col(Hl7Message.id) < before)
    rows = session.execute(query.order_by(col(Hl7Message.id).desc()).limit(limit)).all()
    return [listed_view(row) for row in rows]


def last_received(session: Session, sender: str) -> datetime | None:
    """When the sender's newest message arrived (staff corrections aside): one indexed
    read (ix_hl7_messages_sender_received)."""
    moment: datetime | None = session.exec(
        select(func.max(col(Hl7Message.received_at))).where(
            Hl7Message.sender == sender, col(Hl7Message.resubmitted_from).is_(None)
        )
    ).one()
    return moment


CHANNEL_STATUSES = tuple(status.value for status in MessageStatus)


def channel_statistics(session: Session, senders: Sequence[str]) -> list[dict[str, Any]]:
    """Per sender: messages received from it (staff corrections aside), how many of its
    stored messages are in each status now (corrections included: `resubmissions` of them),
    and when its last message arrived. Every sender in `senders` is listed, silent or not."""
    from_sender = col(Hl7Message.resubmitted_from).is_(None)
    rows = session.execute(
        core_select(
            col(Hl7Message.sender),
            col(Hl7Message.status),
            func.count(),
            func.sum(case((from_sender, 1), else_=0)),
            # Typed, so every store gives back an aware datetime (a CASE loses the type).
            func.max(
                case((from_sender, col(Hl7Message.received_at)), else_=None),
                type_=UtcDateTime(),
            ),
        ).group_by(col(Hl7Message.sender), col(Hl7Message.status))
    ).all()
    channels: dict[str, dict[str, Any]] = {sender: _empty_channel(sender) for sender in senders}
    for sender, status, count, received, last in rows:
        channel = channels.setdefault(sender, _empty_channel(sender))
        channel[status] = channel.get(status, 0) + int(count)
        channel["received"] += int(received or 0)
        channel["resubmissions"] += int(count) - int(received or 0)
        if last is not None and (channel["last"] is None or last > channel["last"]):
            channel["last"] = last
    return [
        {name: value for name, value in channel.items() if name != "last"}
        | {"last_message_at": _iso(channel["last"])}
        for _, channel in sorted(channels.items())
    ]


def _empty_channel(sender: str) -> dict[str, Any]:
    counts = dict.fromkeys(CHANNEL_STATUSES, 0)
    return {"sender": sender, "received": 0, **counts, "resubmissions": 0, "last": None}


class BrowserRepository:
    """What the message browser's commands read and write (on the unit of work)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, message_id: int) -> Hl7Message | None:
        return self._session.get(Hl7Message, message_id)

    def resubmissions(self, message_id: int) -> list[int]:
        """The ids of the corrections staff made of this message, oldest first."""
        found = self._session.exec(
            select(Hl7Message.id)
            .where(Hl7Message.resubmitted_from == message_id)
            .order_by(col(Hl7Message.id))
        ).all()
        return [message_id for message_id in found if message_id is not None]

    def rerunnable(
        self, wanted: MessageFilter, statuses: Sequence[str], after: int, limit: int
    ) -> list[int]:
        """Ids above `after` of messages matching `wanted` in one of `statuses`, oldest
        first, at most `limit`."""
        query: SelectOfScalar[int | None] = _matching(select(Hl7Message.id), wanted)
        query = query.where(col(Hl7Message.status).in_(list(statuses)))
        query = query.where(col(Hl7Message.id) > after)
        found = self._session.exec(query.order_by(col(Hl7Message.id)).limit(limit)).all()
        return [message_id for message_id in found if message_id is not None]

    def texts_after(self, after: int, limit: int) -> list[tuple[int, str, bool]]:
        """(id, stored raw, escaped) of messages above `after`, in id order."""
        rows = self._session.exec(
            select(Hl7Message.id, Hl7Message.raw, Hl7Message.raw_escaped)
            .where(col(Hl7Message.id) > after)
            .order_by(col(Hl7Message.id))
            .limit(limit)
        ).all()
        return [(int(i), raw, escaped) for i, raw, escaped in rows if i is not None]

    def set_nhs_number_hmac(self, values: Sequence[tuple[int, str | None]]) -> None:
        """Replace the NHS number hashes of these messages (id, hash), in one statement."""
        if values:
            rows = [{"message_id": i, "digest": digest} for i, digest in values]
            core_sql(self._session).execute(_SET_HMAC, rows)

    def audit(
        self,
        message_id: int,
        action: str,
        actor: str,
        channel: str,
        at: datetime,
        related_message_id: int | None = None,
    ) -> None:
        self._session.add(
            MessageAudit(
                message_id=message_id,
                action=action,
                actor=actor[:100],
                channel=channel,
                at=at,
                related_message_id=related_message_id,
            )
        )

    def add(self, message: Hl7Message) -> None:
        """Stage a changed message; flushed now, so constraints speak here."""
        self._session.add(message)
        self._session.flush()


def read_store(engine: Engine, query: Callable[..., R], *args: Any) -> R:
    """Run one of these read models on `engine` in a session of its own (the CLI's reads;
    the service reads through `ServiceRuntime.read`)."""
    with Session(engine) as session:
        return query(session, *args)


def audit_trail(session: Session, message_id: int) -> list[dict[str, Any]]:
    """What staff did with one message, oldest first."""
    rows = session.exec(
        select(MessageAudit)
        .where(MessageAudit.message_id == message_id)
        .order_by(col(MessageAudit.id))
    ).all()
    return [
        {
            "action": row.action,
            "actor": row.actor,
            "channel": row.channel,
            "at": _iso(row.at),
            "related_message_id": row.related_message_id,
        }
        for row in rows
    ]

"""hospital-feed's own test helpers: its kit settings and readers of its tables.

Everything generic (store, clock, outbox, inbox, HTTP client) comes from `ServiceKit`.
"""

from typing import Any

from sqlmodel import Session, col, select

from ensemble_devkit.testkit import ServiceKit, tokens
from hospital_feed.adapters.orm import Hl7Message, PracticeAlert
from hospital_feed.adapters.unit_of_work import HospitalFeedUnitOfWork
from hospital_feed.config import Settings
from hospital_feed.service import DEFINITION
from hospital_feed.service_layer.commands import ReceiveHl7

FeedKit = ServiceKit[Settings, HospitalFeedUnitOfWork]
TOKENS = {
    "sender_tokens": tokens("sender", "RCB", "RVJ"),
    "practice_tokens": tokens("practice", "L85001", "L85002"),
    "staff_tokens": tokens("staff", "staff"),
}


def feed_kit(database_url: str, **settings: Any) -> FeedKit:
    return ServiceKit(DEFINITION, database_url, **(TOKENS | settings))


def receive(kit: FeedKit, raw: str, sender: str = "RCB") -> str:
    """One message from an authenticated sender, as HTTP and MLLP hand it in: the ACK."""
    return kit.execute(ReceiveHl7(sender, raw))


def stored(kit: FeedKit) -> list[Hl7Message]:
    def query(session: Session) -> list[Hl7Message]:
        return list(session.exec(select(Hl7Message).order_by(col(Hl7Message.id))))

    return kit.read(query)


def alerts(kit: FeedKit) -> list[PracticeAlert]:
    def query(session: Session) -> list[PracticeAlert]:
        return list(session.exec(select(PracticeAlert).order_by(col(PracticeAlert.alert_id))))

    return kit.read(query)


def msa(ack: str) -> str:
    """The MSA segment of an ACK."""
    return next(segment for segment in ack.split("\r") if segment.startswith("MSA|"))

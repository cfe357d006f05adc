"""Where reminders leave the system: a gateway to SMS or email.

`NotificationGateway` is the boundary a real provider (GOV.UK Notify, an SMS aggregator)
implements; it looks the patient's contact up by NHS number on its side. `MailFileGateway`
stands in for it locally: one JSON line per message in an outbox file, with the event id as
the idempotency key (a crash after writing and before the consumer commits repeats a line
with the same key; a real gateway dedupes on it).
"""

import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Message:
    idempotency_key: str  # the reminder event's id
    nhs_number: str  # the gateway finds the patient's phone or address from it
    channel: str  # "sms" or "email": the patient's choice, when a provider knows it
    language: str
    text: str


class NotificationGateway(Protocol):
    def send(self, message: Message) -> None: ...


class MailFileGateway:
    """Appends each message to a local file (JSON lines)."""

    _lock = threading.Lock()

    def __init__(self, path: Path) -> None:
        self._path = path

    def send(self, message: Message) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(asdict(message), ensure_ascii=False)
        with self._lock, self._path.open("a", encoding="utf-8") as out:
            out.write(line + "\n")


class NoGateway:
    """Reminders switched off at the edge: the events are still published."""

    def send(self, message: Message) -> None:
        """Nothing leaves."""

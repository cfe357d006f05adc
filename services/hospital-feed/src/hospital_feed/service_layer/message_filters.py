"""What staff search stored messages by, checked once for the API, the page and the CLI.

The NHS number searched for is hashed here, under the deployment's key, and goes no
further: the filter carries only its hash, and nothing here logs.
"""

from datetime import datetime

from ensemble_contracts.limits import EARLIEST, LATEST
from hospital_feed.adapters.orm import MessageStatus
from hospital_feed.domain.message_search import (
    MessageFilter,
    SearchRefused,
    SearchUnavailable,
    nhs_number_hmac,
)
from hospital_feed.domain.nhs_number import normalise
from hospital_feed.domain.stored_text import single_line

ACK_CODES = ("AA", "AE", "AR", "CA", "CE", "CR")
STATUSES = tuple(status.value for status in MessageStatus)
MAX_NHS_NUMBER = 20  # what a PID-3 might hold where a number should be, held or not


def _text(value: str | None, name: str, limit: int, upper: bool = False) -> str | None:
    if value is None or not value.strip():
        return None
    cleaned = value.strip()
    if single_line(cleaned) != cleaned:
        raise SearchRefused(f"{name} holds control characters")
    if len(cleaned) > limit:
        raise SearchRefused(f"{name} is longer than {limit} characters")
    return cleaned.upper() if upper else cleaned


def _moment(value: datetime | None, name: str) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise SearchRefused(f"{name} needs a UTC offset")
    if not EARLIEST <= value < LATEST:
        raise SearchRefused(f"{name} is out of range")
    return value


def message_filter(
    key: bytes | None,
    *,
    sender: str | None = None,
    control_id: str | None = None,
    trigger: str | None = None,
    ack_code: str | None = None,
    status: str | None = None,
    received_from: datetime | None = None,
    received_to: datetime | None = None,
    nhs_number: str | None = None,
) -> MessageFilter:
    """The filter of these (optional) fields; SearchRefused names a bad one (never with its
    value), SearchUnavailable when an NHS number is given and there is no search key."""
    ack = _text(ack_code, "ack_code", 2, upper=True)
    if ack is not None and ack not in ACK_CODES:
        raise SearchRefused(f"ack_code is one of {', '.join(ACK_CODES)}")
    chosen_status = _text(status, "status", 20)
    if chosen_status is not None and chosen_status not in STATUSES:
        raise SearchRefused(f"status is one of {', '.join(STATUSES)}")
    since, until = _moment(received_from, "received_from"), _moment(received_to, "received_to")
    if since is not None and until is not None and until <= since:
        raise SearchRefused("received_to is after received_from")
    digest = None
    number = _text(nhs_number, "nhs_number", MAX_NHS_NUMBER + 10)
    if number is not None:
        number = normalise(number)
        if len(number) > MAX_NHS_NUMBER:
            raise SearchRefused(f"nhs_number is longer than {MAX_NHS_NUMBER} characters")
        if key is None:
            raise SearchUnavailable(
                "search by NHS number is off here: HOSPITAL_FEED_MESSAGE_SEARCH_KEY is not set"
            )
        digest = nhs_number_hmac(key, number)
    return MessageFilter(
        sender=_text(sender, "sender", 50, upper=True),
        control_id=_text(control_id, "control_id", 200),
        trigger=_text(trigger, "trigger", 10, upper=True),
        ack_code=ack,
        status=chosen_status,
        received_from=since,
        received_to=until,
        nhs_number_hmac=digest,
    )

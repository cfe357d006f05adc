"""The message browser's rules: how an NHS number is matched, what a search may ask, and
when a sender counts as quiet.

NHS numbers are matched by a keyed hash, never stored in the clear beside the message's
metadata: HMAC-SHA256 under a per-deployment key. A plain SHA-256 would not do: there are
only about 10^9 ten-digit numbers, so anyone with a copy of the table could hash them all in
minutes and read the column back as NHS numbers. Without the key, the column is noise.
"""

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hospital_feed.domain.fhir_encounter import encounter_nhs_number
from hospital_feed.domain.hl7_message import AdtMessage, patient_nhs_number
from hospital_feed.domain.nhs_number import normalise

MIN_KEY_LENGTH = 32  # characters of the search key: e.g. `openssl rand -base64 32`
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(
    r"^\s*([A-Za-z]{3}(?:\s*[-,]\s*[A-Za-z]{3})*)\s+(\d{2}:\d{2})-(\d{2}:\d{2})\s*$"
)
# Working time is counted over at most this span back: a sender silent for longer is quiet
# by any threshold, and the count stays a few dozen steps.
_LOOKBACK = timedelta(days=31)


def nhs_number_hmac(key: bytes, nhs_number: str) -> str:
    """The keyed hash of an NHS number as the parser reads it (spaces removed)."""
    number = normalise(nhs_number).encode("utf-8", "surrogatepass")
    return hmac.new(key, number, hashlib.sha256).hexdigest()


def message_hmac(key: bytes | None, raw: str, parsed: AdtMessage | None = None) -> str | None:
    """The keyed hash of a message's PID-3 NHS number: what its row is searched by. None
    without a key or a number. `parsed`: the message's parse, if intake has one (its number is
    the same; only a message the parser refused is read again). Never raises: a search column
    must not cost a sender its ACK."""
    if key is None:
        return None
    if parsed is not None:
        return nhs_number_hmac(key, parsed.nhs_number) if parsed.nhs_number else None
    try:
        number = patient_nhs_number(raw) or encounter_nhs_number(raw)  # HL7 v2, or FHIR JSON
    except Exception:  # a parser bug: the message is judged (and answered) all the same
        return None
    return nhs_number_hmac(key, number) if number else None


@dataclass(frozen=True)
class MessageFilter:
    """What staff search stored messages by; every part is optional and they all apply.

    `nhs_number_hmac` is the keyed hash of the number searched for, never the number."""

    sender: str | None = None
    control_id: str | None = None  # MSH-10, exactly
    trigger: str | None = None  # e.g. A01
    ack_code: str | None = None  # AA, AE, AR
    status: str | None = None  # accepted, rejected, held, duplicate, resubmitted, discarded
    received_from: datetime | None = None  # at or after
    received_to: datetime | None = None  # before
    nhs_number_hmac: str | None = None


class SearchRefused(ValueError):
    """A search staff cannot make (the text says why, never with the value)."""


class SearchUnavailable(Exception):
    """Search by NHS number is off: this deployment has no search key."""


_SURROGATE = re.compile("[\ud800-\udfff]")


def displayable(text: str) -> str:
    """Stored text fit for JSON and HTML: a lone surrogate (which no encoder takes) shown as
    U+FFFD. For reading only: the stored text itself stays as it was."""
    return _SURROGATE.sub("\ufffd", text)


@dataclass(frozen=True)
class WorkingHours:
    """When a quiet sender matters: e.g. Mon-Fri 08:00-18:00 in Europe/London."""

    days: frozenset[int]  # Monday 0 .. Sunday 6
    start: time
    end: time
    zone: ZoneInfo

    def seconds_between(self, since: datetime, until: datetime) -> float:
        """Working seconds in [since, until): only time inside the working hours counts, so
        a feed silent over the weekend is not quiet on Monday at 08:01."""
        since = max(since, until - _LOOKBACK)
        total = 0.0
        day: date = since.astimezone(self.zone).date()
        last = until.astimezone(self.zone).date()
        while day <= last:
            if day.weekday() in self.days:
                opens = datetime.combine(day, self.start, tzinfo=self.zone)
                closes = datetime.combine(day, self.end, tzinfo=self.zone)
                overlap = min(closes, until) - max(opens, since)
                total += max(overlap.total_seconds(), 0.0)
            day += timedelta(days=1)
        return total


def parse_working_hours(text: str, zone: str) -> WorkingHours:
    """`Mon-Fri 08:00-18:00` or `Mon,Wed,Fri 09:00-17:00` in an IANA zone; ValueError
    naming what is wrong."""
    match = _HOURS.match(text)
    if match is None:
        raise ValueError("working hours: expected e.g. 'Mon-Fri 08:00-18:00'")
    days: set[int] = set()
    for part in match.group(1).lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if first not in _DAYS or (last and last not in _DAYS):
            raise ValueError("working hours: days are Mon, Tue, Wed, Thu, Fri, Sat, Sun")
        low, high = _DAYS.index(first), _DAYS.index(last or first)
        if high < low:
            raise ValueError("working hours: a day range runs forwards, e.g. Mon-Fri")
        days.update(range(low, high + 1))
    try:
        start, end = time.fromisoformat(match.group(2)), time.fromisoformat(match.group(3))
        where = ZoneInfo(zone)
    except (ValueError, KeyError) as error:  # 25:00, or an unknown zone
        raise ValueError(f"working hours: {type(error).__name__}: a bad time or zone") from None
    if end <= start:
        raise ValueError("working hours: the end is after the start, within one day")
    return WorkingHours(frozenset(days), start, end, where)


def is_quiet(hours: WorkingHours, last_seen: datetime, now: datetime, quiet_minutes: int) -> bool:
    """A sender is quiet once it has sent nothing for `quiet_minutes` of working time."""
    return quiet_minutes > 0 and hours.seconds_between(last_seen, now) >= quiet_minutes * 60

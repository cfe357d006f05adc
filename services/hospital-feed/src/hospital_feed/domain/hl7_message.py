"""HL7 v2 ER7 parsing for ADT messages as NHS trusts send them (ITK HL7 v2.4 profile).

Own splitting rather than python-hl7: we need only a few fields, must tolerate what real
feeds do, and want every failure mapped to an ACK code. Copes with `\\r`, `\\n` or `\\r\\n`
segment ends, a UTF-8 BOM (or MLLP framing bytes) around the message, Z-segments anywhere,
escape sequences (`A\\T\\E` -> "A&E"), missing EVN (v2.3), minute-precision and `+hhmm`
datetimes, and the several ways PID-3 carries the NHS number.

Names, addresses and birth dates are never parsed: nothing here needs them, so nothing
here can leak them into a log line.

The work is bounded whatever arrives: at most MAX_SEGMENTS segments, MAX_FIELDS fields in a
segment and MAX_REPETITIONS repetitions in a field that is read (more is refused AR), and
each field read is split and unescaped once, so a 1 MiB message of delimiters is answered in
a fraction of a second.
"""

import contextlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from ensemble_contracts.limits import EARLIEST, LATEST
from hospital_feed.domain.nhs_number import normalise

# Offsetless HL7 timestamps from English trusts are UK local time (GMT or BST).
LOCAL_TIME = ZoneInfo("Europe/London")
_SEGMENT_END = re.compile(r"\r\n|\n|\r")
_DATETIME = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.\d+)?([+-]\d{4})?$")
_FRAMING = "\ufeff\x0b\x1c \t\r\n"
_ODS_CODE = re.compile(r"^[A-Z0-9]{3,10}$")
# An ADT message has tens of segments and no segment in v2.x has 100 fields; these bounds
# are far above any real feed and keep a hostile message cheap to refuse.
MAX_SEGMENTS = 1000
MAX_FIELDS = 200
MAX_REPETITIONS = 100
# MSH-12 of a header whose fields sit where they should (see Header.confirmed).
_VERSION = re.compile(r"^2\.\d{1,2}(\.\d{1,2})?$")
_MAX_MSH_FIELDS = 30  # v2.8 has 28 MSH fields; more means segment ends are missing


class Hl7Error(Exception):
    """The message cannot be accepted.

    `ack_code` AR: unreadable, unsupported or not allowed; AE: understood but content invalid.
    `error_code` is from HL7 table 0357. `text` must never contain patient data.
    """

    def __init__(self, ack_code: str, error_code: str, text: str) -> None:
        super().__init__(text)
        self.ack_code = ack_code
        self.error_code = error_code
        self.text = text


@dataclass(frozen=True)
class Header:
    sending_application: str
    sending_facility: str  # MSH-4: the trust's ODS code, e.g. RCB
    receiving_application: str
    receiving_facility: str
    control_id: str  # MSH-10
    processing_id: str  # MSH-11: P production, T training, D debug
    version: str  # MSH-12
    message_type: str  # MSH-9.1, e.g. ADT
    trigger: str  # MSH-9.2 (or EVN-1 on old feeds), e.g. A01
    structure: str  # MSH-9.3, e.g. ADT_A01
    # True when the MSH is well formed: valid separator and four distinct encoding
    # characters, a plausible field count and an HL7 v2 version id in MSH-12. Only then are
    # its fields known to come from the MSH and not from a later segment (e.g. PID) that a
    # wrong segment end ran into it, so only then may they be logged.
    confirmed: bool = False


@dataclass(frozen=True)
class AdtMessage:
    """The parts of an ADT message that matter to practices. No names, by design."""

    header: Header
    nhs_number: str | None  # as sent (spaces removed); may be invalid or a placeholder
    practice_ods: str | None  # PD1-3 XON-3 (or XON-10)
    patient_class: str | None  # PV1-2
    location: str | None  # PV1-3
    admission_type: str | None  # PV1-4
    visit_number: str | None  # PV1-19
    discharge_disposition: str | None  # PV1-36
    recorded_at: datetime | None  # EVN-2
    occurred_at: datetime | None  # EVN-6
    admitted_at: datetime | None  # PV1-44
    discharged_at: datetime | None  # PV1-45
    died_at: datetime | None = None  # PID-29 (patient death date and time)
    death_indicator: str | None = None  # PID-30: Y the patient died, N not (HL7 table 0136)
    # MRG-1 (A40 merge): the retired patient's NHS number, read as PID-3 is.
    merged_from_nhs_number: str | None = None


class _Segments:
    """Field access by HL7 position, after unescaping; each field is parsed once."""

    def __init__(self, raw: str, header_only: bool = False) -> None:
        lines = [line for line in _SEGMENT_END.split(raw.strip(_FRAMING)) if line.strip()]
        if lines and lines[0][:3] in ("FHS", "BHS"):
            raise Hl7Error("AR", "200", "batch envelopes (FHS/BHS) are not accepted here")
        if not lines or not lines[0].startswith("MSH") or len(lines[0]) < 8:
            raise Hl7Error("AR", "100", "message does not start with an MSH segment")
        if header_only:  # the MSH and the first EVN (trigger of old feeds): enough to answer
            lines = [lines[0], *[line for line in lines[1:] if line.startswith("EVN")][:1]]
        if len(lines) > MAX_SEGMENTS:
            raise Hl7Error("AR", "100", f"too many segments (more than {MAX_SEGMENTS})")
        self.field_sep = lines[0][3]
        if self.field_sep.isalnum() or self.field_sep.isspace():
            raise Hl7Error("AR", "100", "MSH-1 is not a field separator")
        # MSH-2 may carry fewer than four characters: fall back to the standard ones.
        declared = lines[0][4:].split(self.field_sep, 1)[0]
        encoding = declared + "^~\\&"[len(declared) :] if len(declared) < 4 else declared
        self.component: str = encoding[0]
        self.repetition: str = encoding[1]
        self.escape: str = encoding[2]
        self.subcomponent: str = encoding[3]
        self.segments: dict[str, list[list[str]]] = {}
        for line in lines:
            fields = line.split(self.field_sep, MAX_FIELDS)
            if len(fields) > MAX_FIELDS:
                raise Hl7Error(
                    "AR", "102", f"too many fields in a segment (more than {MAX_FIELDS})"
                )
            name = fields[0].strip()
            if name == "MSH":  # MSH-1 is the separator itself
                fields = ["MSH", self.field_sep, *fields[1:]]
            self.segments.setdefault(name, []).append(fields)
        if len(self.segments["MSH"]) > 1:
            raise Hl7Error("AR", "100", "more than one message in one request")
        self.encoding_confirmed = _well_formed_encoding(self.field_sep, declared)
        self._parsed: dict[tuple[str, int], list[list[str]]] = {}

    def has(self, segment: str) -> bool:
        return segment in self.segments

    def field_count(self, segment: str) -> int:
        occurrences = self.segments.get(segment)
        return len(occurrences[0]) if occurrences else 0

    def field(self, segment: str, position: int) -> str:
        """The raw (still escaped) field of the first such segment; "" when absent."""
        occurrences = self.segments.get(segment)
        if not occurrences or position >= len(occurrences[0]):
            return ""
        return occurrences[0][position]

    def repetitions(self, segment: str, position: int) -> list[list[str]]:
        """Non-empty repetitions of a field, each split into unescaped components."""
        key = (segment, position)
        if key not in self._parsed:
            raw = self.field(segment, position)
            reps = raw.split(self.repetition, MAX_REPETITIONS)
            if len(reps) > MAX_REPETITIONS:
                raise Hl7Error(
                    "AR", "102", f"{segment}-{position} has more than {MAX_REPETITIONS} repetitions"
                )
            self._parsed[key] = [
                [self.unescape(c).strip() for c in rep.split(self.component)]
                for rep in reps
                if rep.strip()
            ]
        return self._parsed[key]

    def component_of(self, segment: str, position: int, index: int = 0) -> str:
        reps = self.repetitions(segment, position)
        return reps[0][index] if reps and index < len(reps[0]) else ""

    def unescape(self, value: str) -> str:
        """`\\F\\` and friends; `\\Xhh..\\` as bytes; formatting sequences dropped.

        Split rather than a regex callback: linear, and quick even for a field made of
        nothing but escape sequences.
        """
        if self.escape not in value:
            return value
        replacements = {
            "F": self.field_sep,
            "S": self.component,
            "T": self.subcomponent,
            "R": self.repetition,
            "E": self.escape,
            ".br": "\n",
        }
        parts = value.split(self.escape)
        if len(parts) % 2 == 0:  # an unpaired escape character: the tail is literal
            parts[-2:] = [parts[-2] + self.escape + parts[-1]]
        out = []
        for index, part in enumerate(parts):
            if index % 2 == 0:
                out.append(part)
            elif part in replacements:
                out.append(replacements[part])
            elif part.startswith("X") and len(part) % 2 == 1:  # \Xhhhh\: hex bytes
                with contextlib.suppress(ValueError):  # not hex: dropped
                    out.append(bytes.fromhex(part[1:]).decode("latin-1"))
            # formatting (\H\, \N\, ...) and unknown sequences: dropped
        return "".join(out)


def _well_formed_encoding(field_sep: str, declared: str) -> bool:
    """MSH-2: four (v2.7+: five) distinct delimiters, none alphanumeric or the separator."""
    return (
        len(declared) in (4, 5)
        and len(set(declared)) == len(declared)
        and field_sep not in declared
        and not any(char.isalnum() or char.isspace() for char in declared)
    )


UTF8 = "utf-8"
LATIN1 = "iso-8859-1"


def decode_body(body: bytes) -> tuple[str, str]:
    """The text and the charset it was read with: UTF-8, else ISO 8859-1 (MSH-18 of older
    engines), which maps every byte, so any body decodes and `text.encode(charset)` gives
    back the bytes as sent."""
    try:
        return body.decode(UTF8), UTF8
    except UnicodeDecodeError:
        return body.decode("latin-1"), LATIN1


def decode(body: bytes) -> str:
    """ITK feeds are UTF-8; older engines send ISO 8859-1 (MSH-18), which always decodes."""
    return decode_body(body)[0]


def parse_datetime(value: str, field: str = "a date/time field") -> datetime | None:
    """HL7 TS `YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ]` as UTC; no offset means UK local time.

    A local time that occurs twice (clocks going back) is read as the first (BST) one.
    Moments outside the contracts' plausible range (1900-2199) are refused, naming `field`.
    """
    value = value.strip()
    if not value:
        return None
    match = _DATETIME.match(value)
    if not match:
        raise Hl7Error("AE", "102", f"{field} is not an HL7 timestamp")
    year, month, day, hour, minute, second, offset = match.groups()
    try:
        moment = datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
        )
        if offset:
            sign = 1 if offset[0] == "+" else -1
            minutes = sign * (int(offset[1:3]) * 60 + int(offset[3:5]))
            utc = moment.replace(tzinfo=UTC) - timedelta(minutes=minutes)
        else:
            utc = moment.replace(tzinfo=LOCAL_TIME).astimezone(UTC)
    except (ValueError, OverflowError) as error:  # month 13, or year 1/9999 shifted out
        raise Hl7Error("AE", "102", f"{field} is not a valid date/time") from error
    if not EARLIEST <= utc < LATEST:
        raise Hl7Error("AE", "102", f"{field} is outside the plausible range 1900-2199")
    return utc


def parse_header(raw: str) -> Header:
    """Just the MSH (and EVN-1), for answering even a message whose body cannot be
    understood: too many segments, several messages, a broken PID."""
    return _header(_Segments(raw, header_only=True))


def _header(segments: _Segments) -> Header:
    version = segments.component_of("MSH", 12)
    return Header(
        sending_application=segments.component_of("MSH", 3),
        sending_facility=segments.component_of("MSH", 4).upper(),
        receiving_application=segments.component_of("MSH", 5),
        receiving_facility=segments.component_of("MSH", 6),
        control_id=segments.unescape(segments.field("MSH", 10)).strip(),
        processing_id=segments.component_of("MSH", 11),
        version=version or "2.4",
        message_type=segments.component_of("MSH", 9, 0).upper(),
        trigger=(segments.component_of("MSH", 9, 1) or segments.component_of("EVN", 1)).upper(),
        structure=segments.component_of("MSH", 9, 2),
        confirmed=(
            segments.encoding_confirmed
            and segments.field_count("MSH") <= _MAX_MSH_FIELDS
            and _VERSION.match(version) is not None
        ),
    )


def _nhs_number(segments: _Segments, segment: str = "PID", position: int = 3) -> str | None:
    """PID-3 repetition `n^^^NHS^NH`, `n^^^NHS^HN` or `n^^^NHS` (authority may be `NHS&...`);
    MRG-1 (the retired patient of a merge) is read the same way."""
    for rep in segments.repetitions(segment, position):
        authority = rep[3].upper() if len(rep) > 3 else ""
        kind = rep[4].upper() if len(rep) > 4 else ""
        if authority.startswith("NHS") or kind in ("NH", "HN"):
            return normalise(rep[0]) or None
    return None


def _practice(segments: _Segments) -> str | None:
    """PD1-3 XON `name^^ODSCODE`; some feeds put the code in XON-10. Empty reps skipped."""
    for rep in segments.repetitions("PD1", 3):
        for index in (2, 9):
            if index < len(rep) and _ODS_CODE.match(rep[index].upper()):
                return rep[index].upper()
    return None


def patient_nhs_number(raw: str) -> str | None:
    """PID-3's NHS number as `parse_adt` reads it, also from a message it would refuse for
    another reason (a bad timestamp): what staff search a message by. None when unreadable."""
    try:
        return _nhs_number(_Segments(raw))
    except Hl7Error:
        return None


def _first(segments: _Segments, segment: str, position: int) -> str | None:
    return segments.component_of(segment, position) or None


def parse_adt(raw: str) -> AdtMessage:
    """Parse an ADT message or raise Hl7Error saying how to answer it."""
    segments = _Segments(raw)
    header = _header(segments)
    if not header.control_id:
        raise Hl7Error("AR", "101", "MSH-10 (message control id) is missing")
    if not header.sending_facility:
        raise Hl7Error("AR", "101", "MSH-4 (sending facility) is missing")
    if not header.version.startswith("2."):
        raise Hl7Error("AR", "203", "MSH-12 is not an HL7 version 2 version id")
    if header.message_type != "ADT":
        raise Hl7Error("AR", "200", "unsupported message type: only ADT is accepted")
    if not header.trigger:
        raise Hl7Error("AR", "201", "no trigger event in MSH-9 or EVN-1")
    if not segments.has("PID"):
        raise Hl7Error("AE", "100", "required segment PID is missing")
    if not segments.repetitions("PID", 3):
        raise Hl7Error("AE", "101", "PID-3 (patient identifier list) is empty")
    location = next(iter(segments.repetitions("PV1", 3)), [])
    return AdtMessage(
        header=header,
        nhs_number=_nhs_number(segments),
        practice_ods=_practice(segments),
        patient_class=_first(segments, "PV1", 2),
        location=" ".join(part for part in location if part) or None,
        admission_type=_first(segments, "PV1", 4),
        visit_number=_first(segments, "PV1", 19),
        discharge_disposition=_first(segments, "PV1", 36),
        recorded_at=parse_datetime(segments.component_of("EVN", 2), "EVN-2"),
        occurred_at=parse_datetime(segments.component_of("EVN", 6), "EVN-6"),
        admitted_at=parse_datetime(segments.component_of("PV1", 44), "PV1-44"),
        discharged_at=parse_datetime(segments.component_of("PV1", 45), "PV1-45"),
        died_at=parse_datetime(segments.component_of("PID", 29), "PID-29"),
        death_indicator=(_first(segments, "PID", 30) or "").upper() or None,
        merged_from_nhs_number=_nhs_number(segments, "MRG", 1),
    )

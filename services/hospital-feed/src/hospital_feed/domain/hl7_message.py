"""HL7 v2 ER7 parsing for ADT messages as NHS trusts send them (ITK HL7 v2.4 profile).

Own splitting rather than python-hl7: we need only a few fields, must tolerate what real
feeds do, and want every failure mapped to an ACK code. Copes with `\\r`, `\\n` or `\\r\\n`
segment ends, a UTF-8 BOM (or MLLP framing bytes) around the message, Z-segments anywhere,
escape sequences (`A\\T\\E` -> "A&E"), missing EVN (v2.3), minute-precision and `+hhmm`
datetimes, and the several ways PID-3 carries the NHS number.

Names, addresses and birth dates are never parsed: nothing here needs them, so nothing
here can leak them into a log line.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hospital_feed.domain.nhs_number import normalise

# Offsetless HL7 timestamps from English trusts are UK local time (GMT or BST).
LOCAL_TIME = ZoneInfo("Europe/London")
_SEGMENT_END = re.compile(r"\r\n|\n|\r")
_DATETIME = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.\d+)?([+-]\d{4})?$")
_FRAMING = "\ufeff\x0b\x1c \t\r\n"
_ODS_CODE = re.compile(r"^[A-Z0-9]{3,10}$")


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


class _Segments:
    """Field access by HL7 position, after unescaping."""

    def __init__(self, raw: str) -> None:
        lines = [line for line in _SEGMENT_END.split(raw.strip(_FRAMING)) if line.strip()]
        if lines and lines[0][:3] in ("FHS", "BHS"):
            raise Hl7Error("AR", "200", "batch envelopes (FHS/BHS) are not accepted here")
        if not lines or not lines[0].startswith("MSH") or len(lines[0]) < 8:
            raise Hl7Error("AR", "100", "message does not start with an MSH segment")
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
            fields = line.split(self.field_sep)
            name = fields[0].strip()
            if name == "MSH":  # MSH-1 is the separator itself
                fields = ["MSH", self.field_sep, *fields[1:]]
            self.segments.setdefault(name, []).append(fields)
        if len(self.segments["MSH"]) > 1:
            raise Hl7Error("AR", "100", "more than one message in one request")

    def has(self, segment: str) -> bool:
        return segment in self.segments

    def field(self, segment: str, position: int) -> str:
        """The raw (still escaped) field of the first such segment; "" when absent."""
        occurrences = self.segments.get(segment)
        if not occurrences or position >= len(occurrences[0]):
            return ""
        return occurrences[0][position]

    def repetitions(self, segment: str, position: int) -> list[list[str]]:
        """Non-empty repetitions of a field, each split into unescaped components."""
        raw = self.field(segment, position)
        return [
            [self.unescape(c).strip() for c in rep.split(self.component)]
            for rep in raw.split(self.repetition)
            if rep.strip()
        ]

    def component_of(self, segment: str, position: int, index: int = 0) -> str:
        reps = self.repetitions(segment, position)
        return reps[0][index] if reps and index < len(reps[0]) else ""

    def unescape(self, value: str) -> str:
        if self.escape not in value:
            return value
        e = re.escape(self.escape)
        replacements = {
            "F": self.field_sep,
            "S": self.component,
            "T": self.subcomponent,
            "R": self.repetition,
            "E": self.escape,
            ".br": "\n",
        }

        def replace(match: re.Match[str]) -> str:
            code = match.group(1)
            if code in replacements:
                return replacements[code]
            if code.startswith("X") and len(code) % 2 == 1:  # \Xhhhh\: hex bytes
                try:
                    return bytes.fromhex(code[1:]).decode("latin-1")
                except ValueError:
                    return ""
            return ""  # formatting (\H\, \N\, ...) and unknown sequences: drop them

        return re.sub(f"{e}([^{e}]*){e}", replace, value)


def decode(body: bytes) -> str:
    """ITK feeds are UTF-8; older engines send ISO 8859-1 (MSH-18), which always decodes."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("latin-1")


def parse_datetime(value: str) -> datetime | None:
    """HL7 TS `YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ]` as UTC; no offset means UK local time.

    A local time that occurs twice (clocks going back) is read as the first (BST) one.
    """
    value = value.strip()
    if not value:
        return None
    match = _DATETIME.match(value)
    if not match:
        raise Hl7Error("AE", "102", "a date/time field is not an HL7 timestamp")
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
    except ValueError as error:
        raise Hl7Error("AE", "102", "a date/time field is out of range") from error
    if offset:
        sign = 1 if offset[0] == "+" else -1
        minutes = sign * (int(offset[1:3]) * 60 + int(offset[3:5]))
        return moment.replace(tzinfo=UTC) - timedelta(minutes=minutes)
    return moment.replace(tzinfo=LOCAL_TIME).astimezone(UTC)


def parse_header(raw: str) -> Header:
    """Just the MSH, for answering even a message whose body cannot be understood."""
    return _header(_Segments(raw))


def _header(segments: _Segments) -> Header:
    return Header(
        sending_application=segments.component_of("MSH", 3),
        sending_facility=segments.component_of("MSH", 4).upper(),
        receiving_application=segments.component_of("MSH", 5),
        receiving_facility=segments.component_of("MSH", 6),
        control_id=segments.unescape(segments.field("MSH", 10)).strip(),
        processing_id=segments.component_of("MSH", 11),
        version=segments.component_of("MSH", 12) or "2.4",
        message_type=segments.component_of("MSH", 9, 0).upper(),
        trigger=(segments.component_of("MSH", 9, 1) or segments.component_of("EVN", 1)).upper(),
        structure=segments.component_of("MSH", 9, 2),
    )


def _nhs_number(segments: _Segments) -> str | None:
    """PID-3 repetition `n^^^NHS^NH`, `n^^^NHS^HN` or `n^^^NHS` (authority may be `NHS&...`)."""
    for rep in segments.repetitions("PID", 3):
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
        recorded_at=parse_datetime(segments.component_of("EVN", 2)),
        occurred_at=parse_datetime(segments.component_of("EVN", 6)),
        admitted_at=parse_datetime(segments.component_of("PV1", 44)),
        discharged_at=parse_datetime(segments.component_of("PV1", 45)),
    )

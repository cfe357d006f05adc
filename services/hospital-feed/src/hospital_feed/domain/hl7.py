"""HL7 v2 ER7 parsing for ADT messages as NHS trusts send them (ITK HL7 v2.4 profile).

Copes with real feeds: `\\r`, `\\n` or `\\r\\n` segment ends, a UTF-8 BOM, Z-segments anywhere,
escape sequences, missing EVN (v2.3), minute-precision and offset datetimes, and the several
ways PID-3 carries the NHS number. Names are never parsed: nothing here needs them.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

LOCAL_TIME = ZoneInfo("Europe/London")
_SEGMENT_END = re.compile(r"\r\n|\n|\r")
_DATETIME = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.\d+)?([+-]\d{4})?$")


class Hl7Error(Exception):
    """The message cannot be accepted. `ack_code` AR: unreadable/unsupported; AE: bad content."""

    def __init__(self, ack_code: str, error_code: str, text: str) -> None:
        super().__init__(text)
        self.ack_code = ack_code
        self.error_code = error_code  # HL7 table 0357
        self.text = text


@dataclass(frozen=True)
class Header:
    sending_application: str
    sending_facility: str
    receiving_application: str
    receiving_facility: str
    control_id: str
    version: str
    message_type: str
    trigger: str


@dataclass(frozen=True)
class AdtMessage:
    header: Header
    nhs_number: str | None
    practice_ods: str | None
    patient_class: str | None
    location: str | None
    admission_type: str | None
    visit_number: str | None
    discharge_disposition: str | None
    event_at: datetime | None
    admitted_at: datetime | None
    discharged_at: datetime | None


class _Segments:
    """Field access by HL7 position, after unescaping."""

    def __init__(self, raw: str) -> None:
        text = raw.lstrip("\ufeff").strip()
        lines = [line for line in _SEGMENT_END.split(text) if line.strip()]
        if not lines or not lines[0].startswith("MSH") or len(lines[0]) < 8:
            raise Hl7Error("AR", "100", "message does not start with an MSH segment")
        self.field_sep = lines[0][3]
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
            if fields[0] == "MSH":  # MSH-1 is the separator itself
                fields = ["MSH", self.field_sep, *fields[1:]]
            self.segments.setdefault(fields[0], []).append(fields)

    def has(self, segment: str) -> bool:
        return segment in self.segments

    def field(self, segment: str, position: int) -> str:
        occurrences = self.segments.get(segment)
        if not occurrences or position >= len(occurrences[0]):
            return ""
        return occurrences[0][position]

    def repetitions(self, segment: str, position: int) -> list[list[str]]:
        raw = self.field(segment, position)
        return [
            [self.unescape(c) for c in rep.split(self.component)]
            for rep in raw.split(self.repetition)
            if rep
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
            if code.startswith("X") and len(code) % 2 == 1:
                try:
                    return bytes.fromhex(code[1:]).decode("latin-1")
                except ValueError:
                    return ""
            return ""

        return re.sub(f"{e}([^{e}]*){e}", replace, value)


def parse_datetime(value: str) -> datetime | None:
    """HL7 TS: YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ]; no offset means UK local time."""
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
    segments = _Segments(raw)
    return _header(segments)


def _header(segments: _Segments) -> Header:
    message_type = segments.component_of("MSH", 9, 0)
    trigger = segments.component_of("MSH", 9, 1) or segments.field("EVN", 1)
    return Header(
        sending_application=segments.component_of("MSH", 3),
        sending_facility=segments.component_of("MSH", 4),
        receiving_application=segments.component_of("MSH", 5),
        receiving_facility=segments.component_of("MSH", 6),
        control_id=segments.unescape(segments.field("MSH", 10)),
        version=segments.component_of("MSH", 12) or "2.4",
        message_type=message_type,
        trigger=trigger,
    )


def _nhs_number(segments: _Segments) -> str | None:
    for rep in segments.repetitions("PID", 3):
        identifier = rep[0].replace(" ", "")
        authority = rep[3] if len(rep) > 3 else ""
        kind = rep[4] if len(rep) > 4 else ""
        if authority.upper().startswith("NHS") or kind.upper() in ("NH", "HN"):
            return identifier or None
    return None


def _practice(segments: _Segments) -> str | None:
    for rep in segments.repetitions("PD1", 3):  # XON: name^^ODS code (XON-3), or XON-10
        for index in (2, 9):
            if index < len(rep) and rep[index].strip():
                return rep[index].strip().upper()
    return None


def parse_adt(raw: str) -> AdtMessage:
    segments = _Segments(raw)
    header = _header(segments)
    if not header.control_id:
        raise Hl7Error("AR", "101", "MSH-10 (message control id) is missing")
    if not header.sending_facility:
        raise Hl7Error("AR", "101", "MSH-4 (sending facility) is missing")
    if header.message_type != "ADT":
        raise Hl7Error("AR", "200", f"unsupported message type {header.message_type or '(none)'}")
    if not header.trigger:
        raise Hl7Error("AR", "201", "no trigger event in MSH-9 or EVN-1")
    if not segments.has("PID"):
        raise Hl7Error("AE", "100", "required segment PID is missing")
    first_location = next(iter(segments.repetitions("PV1", 3)), [])
    return AdtMessage(
        header=header,
        nhs_number=_nhs_number(segments),
        practice_ods=_practice(segments),
        patient_class=segments.field("PV1", 2).strip() or None,
        location=" ".join(part for part in first_location if part) or None,
        admission_type=segments.component_of("PV1", 4) or None,
        visit_number=segments.component_of("PV1", 19) or None,
        discharge_disposition=segments.component_of("PV1", 36) or None,
        event_at=parse_datetime(segments.component_of("EVN", 6))
        or parse_datetime(segments.component_of("EVN", 2)),
        admitted_at=parse_datetime(segments.component_of("PV1", 44)),
        discharged_at=parse_datetime(segments.component_of("PV1", 45)),
    )

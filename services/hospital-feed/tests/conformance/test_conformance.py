"""Every field hospital-feed reads, from every message of the corpus, compared with
python-hl7's parse of the same message.

python-hl7 (`hl7.parse`) does the splitting (segments, fields, repetitions, components,
subcomponents) and the unescaping (`Message.unescape`); the test then applies hospital-feed's
reading rules (which PID-3 repetition is the NHS number, which PD1-3 component the practice,
how PV1-3 is rendered) to python-hl7's tree, and compares with what `parse_header` and
`parse_adt` give, field by field.

Where hospital-feed deliberately differs from python-hl7, the comparison says so:

- **Segment ends and framing**: python-hl7 splits segments on CR only and keeps a UTF-8 BOM;
  hospital-feed also takes LF and CRLF (older engines, files) and drops a BOM, blank lines
  and MLLP framing bytes. python-hl7 is given the message as a CR-only engine would send it.
- **Formatting escapes**: `\\.br\\` is a line break, `\\n` for us (python-hl7: `\\r`, a
  segment end once re-encoded); highlighting `\\H\\`/`\\N\\` is dropped (python-hl7: `_`).
  Passed to python-hl7's `unescape` as its application map, so the rest is compared as is.
- **Blanks around values** are trimmed (feeds pad fixed-width fields); python-hl7 keeps them.
- **Codes we compare case-blind**: MSH-4, MSH-9 and EVN-1 are upper-cased (engines that send
  `adt^a01` mean ADT^A01), as PD1-3's ODS code is before matching.
- **Fractions of a second** are dropped: the contracts carry whole seconds.
- **Timestamps without an offset** are UK local time (converted to UTC); python-hl7 gives a
  naive datetime, read here as Europe/London.
- **`""` (HL7's explicit null)** is read literally by both (a finding: hospital-feed then
  publishes `""` as a PV1-36 disposition, and answers a `""` timestamp AE; see the report).
"""

import re
from datetime import datetime
from typing import Any

import hl7
import pytest
from hl7.datatypes import parse_datetime

from hospital_feed.domain.hl7_message import LOCAL_TIME, parse_adt, parse_header
from hospital_feed.domain.nhs_number import normalise

from .corpus import CORPUS, Sample

ODS_CODE = re.compile(r"^[A-Z0-9]{3,10}$")
# Our readings of the formatting escapes (see the module docstring), for python-hl7.
OUR_FORMATTING = {".br": "\n", "H": "", "N": ""}


def for_python_hl7(text: str) -> str:
    """The same message as a CR-only engine would send it."""
    lines = re.split(r"\r\n|\n|\r", text.lstrip("\ufeff"))
    return "\r".join(line for line in lines if line.strip()) + "\r"


class Theirs:
    """python-hl7's parse, read with hospital-feed's rules."""

    def __init__(self, text: str) -> None:
        self.message = hl7.parse(for_python_hl7(text))

    def _unescaped(self, raw: str) -> str:
        return str(self.message.unescape(raw, app_map=OUR_FORMATTING)).strip()

    def field(self, segment: str, position: int) -> str:
        """The whole field of the first such segment, unescaped ("" when absent)."""
        try:
            found = self.message.segment(segment)
        except KeyError:
            return ""
        return self._unescaped(str(found[position])) if position < len(found) else ""

    def repetitions(self, segment: str, position: int) -> list[list[str]]:
        """Non-blank repetitions, each as its unescaped components (a component keeps its
        subcomponents, as ours does: no field we read is a subcomponent)."""
        try:
            found = self.message.segment(segment)
        except KeyError:
            return []
        if position >= len(found):
            return []
        reps = []
        for rep in found[position]:
            if not str(rep).strip():
                continue
            parts = rep if isinstance(rep, hl7.Repetition) else [rep]
            reps.append([self._unescaped(str(part)) for part in parts])
        return reps

    def component(self, segment: str, position: int, index: int = 0) -> str:
        reps = self.repetitions(segment, position)
        return reps[0][index] if reps and index < len(reps[0]) else ""

    def moment(self, segment: str, position: int) -> datetime | None:
        value = self.component(segment, position)
        if not value:
            return None
        parsed: datetime = parse_datetime(value).replace(microsecond=0)
        # Aware datetimes compare as instants: ours are UTC, python-hl7's keep their offset.
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=LOCAL_TIME)

    def nhs_number(self) -> str | None:
        for rep in self.repetitions("PID", 3):
            authority = rep[3].upper() if len(rep) > 3 else ""
            kind = rep[4].upper() if len(rep) > 4 else ""
            if authority.startswith("NHS") or kind in ("NH", "HN"):
                return normalise(rep[0]) or None
        return None

    def practice(self) -> str | None:
        for rep in self.repetitions("PD1", 3):
            for index in (2, 9):
                if index < len(rep) and ODS_CODE.match(rep[index].upper()):
                    return rep[index].upper()
        return None


def header_fields(sample: Sample) -> tuple[dict[str, Any], dict[str, Any]]:
    ours = parse_header(sample.text)
    theirs = Theirs(sample.text)
    mine = {
        "MSH-3 sending_application": ours.sending_application,
        "MSH-4 sending_facility": ours.sending_facility,
        "MSH-5 receiving_application": ours.receiving_application,
        "MSH-6 receiving_facility": ours.receiving_facility,
        "MSH-9.1 message_type": ours.message_type,
        "MSH-9.2/EVN-1 trigger": ours.trigger,
        "MSH-9.3 structure": ours.structure,
        "MSH-10 control_id": ours.control_id,
        "MSH-11 processing_id": ours.processing_id,
        "MSH-12 version": ours.version,
    }
    other = {
        "MSH-3 sending_application": theirs.component("MSH", 3),
        "MSH-4 sending_facility": theirs.component("MSH", 4).upper(),
        "MSH-5 receiving_application": theirs.component("MSH", 5),
        "MSH-6 receiving_facility": theirs.component("MSH", 6),
        "MSH-9.1 message_type": theirs.component("MSH", 9, 0).upper(),
        "MSH-9.2/EVN-1 trigger": (
            theirs.component("MSH", 9, 1) or theirs.component("EVN", 1)
        ).upper(),
        "MSH-9.3 structure": theirs.component("MSH", 9, 2),
        "MSH-10 control_id": theirs.field("MSH", 10),
        "MSH-11 processing_id": theirs.component("MSH", 11),
        "MSH-12 version": theirs.component("MSH", 12) or "2.4",  # our default when absent
    }
    return mine, other


def adt_fields(sample: Sample) -> tuple[dict[str, Any], dict[str, Any]]:
    ours = parse_adt(sample.text)
    theirs = Theirs(sample.text)
    location = next(iter(theirs.repetitions("PV1", 3)), [])
    mine = {
        "PID-3 nhs_number": ours.nhs_number,
        "PD1-3 practice_ods": ours.practice_ods,
        "PV1-2 patient_class": ours.patient_class,
        "PV1-3 location": ours.location,
        "PV1-4 admission_type": ours.admission_type,
        "PV1-19 visit_number": ours.visit_number,
        "PV1-36 discharge_disposition": ours.discharge_disposition,
        "EVN-2 recorded_at": ours.recorded_at,
        "EVN-6 occurred_at": ours.occurred_at,
        "PV1-44 admitted_at": ours.admitted_at,
        "PV1-45 discharged_at": ours.discharged_at,
        "PID-29 died_at": ours.died_at,
        "PID-30 death_indicator": ours.death_indicator,
    }
    other = {
        "PID-3 nhs_number": theirs.nhs_number(),
        "PD1-3 practice_ods": theirs.practice(),
        "PV1-2 patient_class": theirs.component("PV1", 2) or None,
        "PV1-3 location": " ".join(part for part in location if part) or None,
        "PV1-4 admission_type": theirs.component("PV1", 4) or None,
        "PV1-19 visit_number": theirs.component("PV1", 19) or None,
        "PV1-36 discharge_disposition": theirs.component("PV1", 36) or None,
        "EVN-2 recorded_at": theirs.moment("EVN", 2),
        "EVN-6 occurred_at": theirs.moment("EVN", 6),
        "PV1-44 admitted_at": theirs.moment("PV1", 44),
        "PV1-45 discharged_at": theirs.moment("PV1", 45),
        "PID-29 died_at": theirs.moment("PID", 29),
        "PID-30 death_indicator": theirs.component("PID", 30).upper() or None,
    }
    return mine, other


SAMPLES = pytest.mark.parametrize("sample", CORPUS, ids=[s.name for s in CORPUS])


@SAMPLES
def test_the_header_reads_as_python_hl7_reads_it(sample: Sample) -> None:
    ours, theirs = header_fields(sample)
    assert ours == theirs
    assert ours["MSH-10 control_id"] and ours["MSH-4 sending_facility"]  # a real comparison


@SAMPLES
def test_every_adt_field_reads_as_python_hl7_reads_it(sample: Sample) -> None:
    ours, theirs = adt_fields(sample)
    assert ours == theirs
    assert ours["PID-3 nhs_number"] is not None  # every corpus message names its patient


def test_the_corpus_is_varied() -> None:
    """What the corpus covers, so a trimmed corpus fails rather than passes quietly."""
    texts = [sample.text for sample in CORPUS]
    versions = {parse_header(text).version for text in texts}
    assert {"2.3", "2.4", "2.5", "2.5.1"} <= versions
    assert {parse_header(text).trigger for text in texts} >= {
        "A01",
        "A02",
        "A03",
        "A04",
        "A05",
        "A08",
        "A11",
        "A13",
    }
    assert any("\r\n" in t for t in texts) and any("\r" not in t for t in texts)
    assert any(t.startswith("\ufeff") for t in texts)
    for escape in ("\\F\\", "\\S\\", "\\T\\", "\\R\\", "\\E\\", "\\X41\\", "\\.br\\", "\\H\\"):
        assert any(escape in t for t in texts), escape
    assert any("\nZ" in t or "\rZ" in t for t in texts)
    assert any("~~" in t for t in texts) and any('|""' in t for t in texts)
    assert any("&2.16.840" in t for t in texts)  # subcomponents
    assert any(t.startswith("MSH|*~") for t in texts)  # other encoding characters
    numbers = {parse_adt(t).nhs_number for t in texts}
    assert all(number and number.startswith("999") for number in numbers)


def test_the_deliberate_differences_are_what_the_docstring_says() -> None:
    """The formatting escapes, read by each parser on its own terms."""
    sample = next(s for s in CORPUS if s.name == "escapes_formatting")
    ours = parse_adt(sample.text).location
    theirs = hl7.parse(for_python_hl7(sample.text))
    default = " ".join(
        str(theirs.unescape(str(part))) for part in theirs.segment("PV1")[3][0] if str(part)
    )
    assert ours == "WARD\n7 BAY 2"
    assert default == "WARD\r7 _BAY_ 2"  # python-hl7's own reading
    # Our parser takes LF ends; python-hl7 reads an LF message as one segment.
    lf = next(s for s in CORPUS if s.name == "v251_a11_lf")
    assert len(hl7.parse(lf.text)) == 1 and parse_adt(lf.text).visit_number == "V00123"

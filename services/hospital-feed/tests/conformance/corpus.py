"""A synthetic corpus of ADT messages as hospital feeds send them (see README.md).

Each message is built segment by segment, fields by their HL7 position, so a reader can
check every value against the field it is meant to be in; `end` is the segment terminator
the sender uses. NHS numbers: the 999 test range. Names and addresses: made up.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Sample:
    name: str
    what: str  # which feed shape it stands for
    text: str  # the message exactly as it arrives


def seg(name: str, fields: dict[int, str]) -> str:
    """A segment with `fields` at their positions (1-based), the others empty."""
    values = [""] * (max(fields) + 1)
    values[0] = name
    for position, value in fields.items():
        values[position] = value
    return "|".join(values)


def msh(fields: dict[int, str], encoding: str = "^~\\&") -> str:
    """The MSH: MSH-1 is the `|` itself, MSH-2 the encoding characters, then MSH-3 on."""
    rest = seg("MSH", {1: encoding, **{n - 1: v for n, v in fields.items()}})
    return rest


def message(*segments: str, end: str = "\r", before: str = "") -> str:
    return before + end.join(segments) + end


def header(trigger: str, control_id: str, version: str = "2.4", **more: str) -> dict[int, str]:
    structure = {"A04": "ADT_A01", "A08": "ADT_A01", "A11": "ADT_A09", "A13": "ADT_A01"}
    fields = {
        3: "PAS",
        4: "RCB",
        5: "ENSEMBLE",
        6: "ENSEMBLE",
        7: "20261122101512+0000",
        9: f"ADT^{trigger}^{structure.get(trigger, f'ADT_{trigger}')}",
        10: control_id,
        11: "P",
        12: version,
    }
    return fields | {int(k.lstrip("f")): v for k, v in more.items()}


CORPUS = [
    Sample(
        "itk_v24_a01",
        "ITK v2.4 admission: MRN then NHS number in PID-3, PD1-3 practice, Z-segments, offsets",
        message(
            msh(header("A01", "RCB0000001", f15="AL", f16="NE")),
            seg("EVN", {1: "A01", 2: "20261122101500+0000", 6: "20261122100500+0000"}),
            seg(
                "PID",
                {
                    1: "1",
                    3: "RCB123456^^^RCB^MR~9990000018^^^NHS^NH",
                    5: "TEST^PATIENT^^^MRS",
                    7: "19410302",
                    8: "F",
                    11: "1 TEST STREET^^YORK^^YO1 1AA",
                },
            ),
            seg("ZU1", {1: "20261122", 2: "LOCAL"}),
            seg("PD1", {3: "TEST SURGERY^^L85001", 4: "G1234567^TEST^DOCTOR"}),
            seg(
                "PV1",
                {
                    1: "1",
                    2: "I",
                    3: "WARD 7^BAY 2^BED 4^RCB",
                    4: "21",
                    19: "V00123",
                    44: "20261122100500+0000",
                },
            ),
            seg("ZPD", {1: "UNKNOWN"}),
        ),
    ),
    Sample(
        "itk_v24_a03_crlf",
        "ITK v2.4 discharge with CRLF ends, +0100 offsets, PV1-36, PID-3 `^^^NHS` alone",
        message(
            msh(header("A03", "RCB0000099", f7="20261201163000+0100")),
            seg("EVN", {1: "A03", 2: "20261201163000+0100"}),
            seg("PID", {1: "1", 3: "9990000026^^^NHS", 5: "TEST^PATIENT", 8: "F"}),
            seg("PD1", {3: "TEST SURGERY^^L85001"}),
            seg(
                "PV1",
                {
                    2: "I",
                    3: "WARD 9^^^RCB",
                    4: "22",
                    19: "V00999",
                    36: "01",
                    44: "20261128090000+0100",
                    45: "20261201160000+0100",
                },
            ),
            end="\r\n",
        ),
    ),
    Sample(
        "v23_a04_lf_bom",
        "v2.3 A&E attendance: UTF-8 BOM, LF ends, no EVN, minute precision, HN type, \\T\\",
        message(
            msh(
                {
                    3: "EDIS",
                    4: "RCB",
                    7: "202607011015",
                    9: "ADT^A04",
                    10: "ED-77",
                    11: "P",
                    12: "2.3",
                }
            ),
            seg("PID", {1: "1", 3: "9990000034^^^NHS^HN", 5: "TEST^PATIENT", 8: "M"}),
            seg("PD1", {3: "~TEST PRACTICE^^L85002~"}),
            seg(
                "PV1",
                {2: "E", 3: "A\\T\\E^CUBE 3^^RCB", 4: "E", 19: "ED00042", 44: "202607011010"},
            ),
            end="\n",
            before="\ufeff",
        ),
    ),
    Sample(
        "v23_trigger_in_evn",
        "v2.3 transfer with MSH-9 `ADT` only (trigger in EVN-1) and a spaced NHS number",
        message(
            msh({3: "PAS", 4: "RCB", 7: "200612011200", 9: "ADT", 10: "OLD-1", 11: "P", 12: "2.3"}),
            seg("EVN", {1: "A02", 2: "200612011200"}),
            seg("PID", {3: "999 000 0042^^^NHS^NH", 5: "TEST^PATIENT"}),
            seg("PV1", {2: "I", 3: "WARD 2^^^RCB", 19: "V2"}),
        ),
    ),
    Sample(
        "v25_a02_subcomponents",
        "v2.5 transfer: HD components in MSH-4, OID subcomponents in PID-3, PV1-3 and PV1-19",
        message(
            msh(header("A02", "RVJ-A02-1", "2.5", f4="RVJ^1.2.826.0.1.1234^ISO")),
            seg("EVN", {1: "A02", 2: "20261203083000", 6: "20261203082500"}),
            seg(
                "PID",
                {3: "9990000050^^^NHS&2.16.840.1.113883.2.1.4.1&ISO^NH", 5: "TEST^PATIENT"},
            ),
            seg("PD1", {3: "PRACTICE^^L85003"}),
            seg(
                "PV1",
                {
                    2: "I",
                    3: "WARD 12^BAY 1^BED 2^RVJ&2.16.840.1&ISO",
                    19: "V555^^^RVJ&2.16.840.1&ISO^VN",
                },
            ),
        ),
    ),
    Sample(
        "v251_a08_xon10_fraction",
        "v2.5.1 update: practice in PD1-3 XON-10, fractions of a second in EVN-2",
        message(
            msh(header("A08", "RCB-A08-7", "2.5.1")),
            seg("EVN", {1: "A08", 2: "20261201120000.1234+0000"}),
            seg("PID", {3: "9990000069^^^NHS^NH", 5: "TEST^PATIENT"}),
            seg("PD1", {3: "THE SURGERY^^^^^^^^^L85001"}),
            seg("PV1", {2: "O", 19: "V808"}),
        ),
    ),
    Sample(
        "v251_a11_lf",
        "v2.5.1 admission cancelled, LF ends",
        message(
            msh(header("A11", "RCB-A11-1", "2.5.1")),
            seg("EVN", {1: "A11", 2: "20261122120000+0000", 6: "20261122115500+0000"}),
            seg("PID", {3: "9990000018^^^NHS^NH", 5: "TEST^PATIENT"}),
            seg("PD1", {3: "TEST SURGERY^^L85001"}),
            seg("PV1", {2: "I", 3: "WARD 7^BAY 2^BED 4^RCB", 19: "V00123"}),
            end="\n",
        ),
    ),
    Sample(
        "epic_a01",
        "Epic-style admission: EPI MRN first, an all-caret repetition, long CSN, ZPV",
        message(
            msh(
                {
                    3: "EPIC",
                    4: "RVJ",
                    5: "ENSEMBLE",
                    6: "ENSEMBLE",
                    7: "20261122101500",
                    9: "ADT^A01^ADT_A01",
                    10: "894562",
                    11: "P",
                    12: "2.5.1",
                    18: "UNICODE UTF-8",
                }
            ),
            seg(
                "EVN",
                {
                    1: "A01",
                    2: "20261122101500",
                    4: "ADT_EVENT",
                    5: "12345^TEST^USER^^^^^^EPIC",
                    6: "20261122100000",
                },
            ),
            seg(
                "PID",
                {
                    1: "1",
                    3: "E1234567^^^EPI^MR~9990000077^^^NHS^NH~^^^^^",
                    5: "TEST^EPIC^A^^^^L",
                    7: "19500101",
                    8: "M",
                    13: "^PRN^PH^^^01234^567890",
                },
            ),
            seg("PD1", {3: "TEST PRACTICE^L^^^^^^^^L85002"}),
            seg(
                "PV1",
                {
                    1: "1",
                    2: "I",
                    3: "RVJ 5W^5012^01^RVJ^^^^^^^DEPID",
                    4: "3",
                    10: "MED",
                    19: "200012345678",
                    44: "20261122100000",
                },
            ),
            seg("ZPV", {1: "1", 2: "EPIC^FLAG", 3: "Y"}),
        ),
    ),
    Sample(
        "epic_a03_death",
        "Epic-style discharge of a patient who died: PID-29/30, PV1-36, PV1-45",
        message(
            msh(
                {
                    3: "EPIC",
                    4: "RVJ",
                    7: "20261124040000",
                    9: "ADT^A03^ADT_A03",
                    10: "894999",
                    11: "P",
                    12: "2.5.1",
                }
            ),
            seg("EVN", {1: "A03", 2: "20261124040000"}),
            seg(
                "PID",
                {
                    1: "1",
                    3: "E1234567^^^EPI^MR~9990000077^^^NHS^NH",
                    5: "TEST^EPIC",
                    29: "20261124031500",
                    30: "Y",
                },
            ),
            seg("PD1", {3: "TEST PRACTICE^L^^^^^^^^L85002"}),
            seg(
                "PV1",
                {
                    2: "I",
                    3: "RVJ 5W^5012^01^RVJ",
                    19: "200012345678",
                    36: "20",
                    44: "20261122100000",
                    45: "20261124031500",
                },
            ),
        ),
    ),
    Sample(
        "escapes_delimiters",
        "escape sequences for every delimiter and a hex byte in fields we read",
        message(
            msh(header("A01", "ESC\\T\\01")),
            seg("EVN", {1: "A01", 6: "20261122100000+0000"}),
            seg("PID", {3: "9990000085^^^NHS^NH", 5: "O\\E\\BRIEN^TEST"}),
            seg("PD1", {3: "SMITH \\T\\ JONES SURGERY^^L85001"}),
            seg(
                "PV1",
                {2: "I", 3: "A\\F\\B^C\\S\\D^E\\R\\F^G\\E\\H", 4: "21", 19: "V\\X41\\1"},
            ),
        ),
    ),
    Sample(
        "escapes_formatting",
        "formatting escapes (\\.br\\ \\H\\ \\N\\) where a free-text engine puts them",
        message(
            msh(header("A02", "FMT-1")),
            seg("EVN", {1: "A02", 2: "20261122100000+0000"}),
            seg("PID", {3: "9990000093^^^NHS^NH"}),
            seg("PV1", {2: "I", 3: "WARD\\.br\\7^\\H\\BAY\\N\\ 2", 19: "V3"}),
        ),
    ),
    Sample(
        "repetitions_and_nulls",
        'empty repetitions, `""` (HL7\'s explicit null) and empty fields',
        message(
            msh(header("A01", "REP-1")),
            seg("EVN", {1: "A01", 2: "", 6: "20261122100000+0000"}),
            seg("PID", {3: "~RCB99^^^RCB^MR~~9990000107^^^NHS^NH~", 5: "TEST^PATIENT"}),
            seg("PD1", {3: "~~TEST SURGERY^^L85003"}),
            seg("PV1", {2: '""', 3: "WARD 1", 4: "", 19: "V11~V12", 36: '""'}),
        ),
    ),
    Sample(
        "other_encoding_characters",
        "MSH-2 `*~\\$`: `*` separates components, `$` subcomponents",
        message(
            msh(
                {
                    3: "PAS",
                    4: "RCB",
                    7: "20261122101512",
                    9: "ADT*A01*ADT_A01",
                    10: "ENC-1",
                    11: "P",
                    12: "2.4",
                },
                encoding="*~\\$",
            ),
            seg("EVN", {1: "A01", 6: "20261122100000"}),
            seg("PID", {3: "9990000115***NHS$2.16.840$ISO*NH"}),
            seg("PD1", {3: "SURGERY \\S\\ ONE**L85001"}),
            seg("PV1", {2: "I", 3: "WARD 1*BAY 1", 19: "V1"}),
        ),
    ),
    Sample(
        "z_segments_everywhere",
        "Z-segments before EVN, between PID and PD1, before PV1 and at the end",
        message(
            msh(header("A01", "Z-1")),
            seg("ZMS", {1: "LOCAL", 2: "A\\F\\B"}),
            seg("EVN", {1: "A01", 6: "20261122100000+0000"}),
            seg("PID", {3: "9990000123^^^NHS^NH"}),
            seg("ZPI", {1: "9990000999", 2: "NOT^THE^NHS^NUMBER"}),
            seg("PD1", {3: "TEST SURGERY^^L85002"}),
            seg("ZU1", {1: "X"}),
            seg("PV1", {2: "I", 3: "WARD 3", 19: "V33", 44: "20261122100000+0000"}),
            seg("ZU2", {1: "Y~Z"}),
        ),
    ),
    Sample(
        "v24_a13_lf_blank_lines",
        "v2.4 discharge cancelled, LF ends with blank lines between segments",
        message(
            msh(header("A13", "RCB-A13-1")),
            "",
            seg("EVN", {1: "A13", 2: "20261202090000+0000"}),
            seg("PID", {3: "9990000026^^^NHS^NH"}),
            "",
            seg("PD1", {3: "TEST SURGERY^^L85001"}),
            seg("PV1", {2: "I", 3: "WARD 9^^^RCB", 19: "V00999", 45: "20261201160000+0000"}),
            end="\n",
        ),
    ),
    Sample(
        "v25_a05_version_components",
        "v2.5 pre-admission with MSH-12 `2.5^GBR` (VID components)",
        message(
            msh(header("A05", "PRE-1", "2.5^GBR")),
            seg("EVN", {1: "A05", 2: "20261120090000"}),
            seg("PID", {3: "9990000131^^^NHS^NH"}),
            seg("PD1", {3: "TEST SURGERY^^L85001"}),
            seg("PV1", {2: "P", 19: "PRE1", 44: "20261130080000"}),
        ),
    ),
    Sample(
        "lower_case_codes",
        "an engine that sends MSH-4 and MSH-9 in lower case",
        message(
            msh(header("A01", "LC-1", f4="rcb", f9="adt^a01^adt_a01")),
            seg("EVN", {1: "a01", 6: "20261122100000+0000"}),
            seg("PID", {3: "M123^^^RCB^MR~9990000158^^^^HN"}),
            seg("PD1", {3: "TEST SURGERY^^l85001"}),
            seg("PV1", {2: "I", 3: "WARD 4", 19: "V44"}),
        ),
    ),
]

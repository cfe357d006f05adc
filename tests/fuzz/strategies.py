"""Hypothesis strategies: hostile values, JSON, values for any pydantic model or route
parameter, realistic ADT messages with mutations, MLLP byte streams and profile extracts.

Every strategy is built from what the code declares (route signatures, contract models),
so a new field, route or event type is fuzzed without touching this file.
"""

import csv
import enum
import functools
import io
import json
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

import annotated_types
from hypothesis import strategies as st
from pydantic import BaseModel

from .support import BAD_CHECK_DIGIT, NHS_POOL, PRACTICES

T = TypeVar("T")

# --- hostile primitives --------------------------------------------------------------------------

HOSTILE_STRINGS = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfffy",
    "\ufeff",
    "\u202e",
    "\u2028",
    "\x0b",
    "\x1c\r",
    "\r\n",
    "\\",
    '"',
    "'",
    "' OR 1=1 --",
    "%00",
    "%2F",
    "../..",
    "<script>",
    "null",
    "true",
    "[]",
    "{}",
    "NaN",
    "-Infinity",
    "1e309",
    "-0",
    "0x10",
    "9" * 40,
    "-9223372036854775809",
    "9223372036854775808",
    "2147483648",
    "-1",
    "🙂",
    "ÿ",
    "ÄÖÜß",
    "漢字",
    "9990000018",
    "999 000 0018",
    "1900-01-01",
    "0001-01-01T00:00:00",
    "9999-12-31T23:59:59Z",
    "2026-02-30",
)
HUGE_INTS = (2**31, 2**31 - 1, -(2**31) - 1, 2**63, 2**63 - 1, -(2**63) - 1, 2**64, 10**100)


@functools.cache
def long_text(max_size: int = 70_000) -> st.SearchStrategy[str]:
    """One character repeated: cheap to generate, expensive for the code under test."""
    return st.builds(
        lambda char, n: char * n,
        st.sampled_from(["x", "\u00e9", "9", "^", "|", "\\", "~", " ", "\x00", "[", "{", "🙂"]),
        st.integers(0, max_size),
    )


@functools.cache
def hostile_text(max_size: int = 70_000) -> st.SearchStrategy[str]:
    lone_surrogates = st.integers(0xD800, 0xDFFF).map(chr)
    return st.one_of(
        st.sampled_from(HOSTILE_STRINGS),
        st.text(max_size=40),
        st.text(st.characters(codec="utf-8"), max_size=10).flatmap(
            lambda t: lone_surrogates.map(lambda s: t + s)
        ),
        long_text(max_size),
    )


@functools.cache
def hostile_numbers() -> st.SearchStrategy[int | float]:
    return st.one_of(
        st.integers(),
        st.sampled_from(HUGE_INTS),
        st.integers(min_value=10**18, max_value=10**400),
        st.floats(allow_nan=True, allow_infinity=True),
    )


@functools.cache
def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(), st.booleans(), hostile_numbers(), hostile_text(max_size=5_000), st.text()
    )
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=5),
            st.dictionaries(
                st.one_of(st.text(max_size=10), hostile_text(100)), children, max_size=5
            ),
        ),
        max_leaves=max_leaves,
    )


def dump_json(value: Any, ascii_only: bool) -> bytes:
    """JSON as a careless client writes it: NaN allowed, lone surrogates passed through."""
    return json.dumps(value, allow_nan=True, ensure_ascii=ascii_only).encode(
        "utf-8", "surrogatepass"
    )


@functools.cache
def raw_json_bodies() -> st.SearchStrategy[bytes]:
    """Bodies no JSON parser should take, or that cost it dearly."""
    nested = st.builds(
        lambda open_, n, closed: (
            open_ * n + (b"" if not closed else (b"]" if open_ == b"[" else b"}") * n)
        ),
        st.sampled_from([b"[", b'{"a":']),
        st.integers(1, 200_000),
        st.booleans(),
    )
    return st.one_of(
        st.binary(max_size=200),
        nested,
        st.sampled_from(
            [
                b"",
                b"{",
                b"null",
                b"[]",
                b"NaN",
                b"[Infinity]",
                b'{"a":1e400}',
                b'"\\ud800"',
                b'{"\\u0000":1}',
                b"\xef\xbb\xbf{}",
                b"\xff\xfe{\x00}\x00",
                b'{"a":' + b"1" * 5000 + b"}",
                b'{"a":"' + b"\\u0000" * 10 + b'"}',
                b'{"a":1,"a":2}',
            ]
        ),
        st.integers(0, 400_000).map(lambda n: b'{"x":"' + b"a" * n + b'"}'),
    )


def weighted(*choices: tuple[int, st.SearchStrategy[T]]) -> st.SearchStrategy[T]:
    """One of the strategies, each as often as its weight says. (`one_of` cannot weigh: it
    keeps one of identical branches.)"""
    table = [index for index, (weight, _) in enumerate(choices) for _ in range(weight)]
    return st.sampled_from(table).flatmap(lambda index: choices[index][1])


# --- values for declared types -------------------------------------------------------------------

EARLIEST, LATEST = datetime(1900, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)
EDGE_DATETIMES = (
    "1900-01-01T00:00:00Z",
    "2199-12-31T23:59:59Z",
    "1899-12-31T23:59:59Z",
    "2200-01-01T00:00:00Z",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "2026-11-23T09:00:00",
    "2026-11-23T09:00:00+14:00",
    "2026-11-23T09:00:00-12:00",
    "2026-02-30T00:00:00Z",
    "2026-13-01T00:00:00Z",
    "2026-11-23",
    0,
    -1,
    10**12,
    1e20,
)
EDGE_DATES = (
    "1880-01-01",
    "1879-12-31",
    "1900-01-01",
    "2199-12-31",
    "0001-01-01",
    "9999-12-31",
    "2026-02-29",
    "1941-03-02",
    "19410302",
)
LANGUAGES = ("en", "pa", "hi", "ur", "en-GB", "pa-Guru-IN", "zz", "x-klingon", "e", "EN")
TIMEZONES = ("Europe/London", "Asia/Kolkata", "UTC", "America/St_Johns", "Mars/Base", "")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CLOCKS = ("00:00", "08:30", "17:00", "24:00", "23:59", "25:00", "9", "12:60", "")
UUID_POOL = (
    *(UUID(int=n) for n in (1, 2, 3, 65535)),
    UUID("6b8e3c1a-97a4-4a55-8a0e-3f1c7a2d9b11"),
)


def uuids() -> st.SearchStrategy[str]:
    """Mostly a few shared ids (so events refer to each other), sometimes new ones."""
    return st.one_of(st.sampled_from(UUID_POOL), st.uuids()).map(str)


def datetimes() -> st.SearchStrategy[Any]:
    plausible = st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
    ).map(lambda d: d.isoformat())
    return weighted((6, plausible), (1, st.sampled_from(EDGE_DATETIMES)))


def weekly_hours() -> st.SearchStrategy[Any]:
    span = st.lists(st.sampled_from(CLOCKS), min_size=0, max_size=3)
    return st.dictionaries(
        st.one_of(st.sampled_from(WEEKDAYS), st.sampled_from(["monday", "Mon", "funday", ""])),
        st.lists(span, max_size=3),
        max_size=8,
    )


def named(
    name: str, nhs_numbers: Sequence[str], event_types: Sequence[str]
) -> st.SearchStrategy[Any] | None:
    """Plausible values for fields whose meaning their name says."""
    if name == "nhs_number":
        spaced = [f"{n[:3]} {n[3:6]} {n[6:]}" for n in nhs_numbers]
        placeholders = [BAD_CHECK_DIGIT, "9999999999", "0000000000"]
        return st.sampled_from([*list(nhs_numbers) * 12, *placeholders * 2, *spaced * 2])
    if name in ("practice_ods", "ods"):
        return st.sampled_from([*PRACTICES * 3, "Y12345", "l85001", "RCB", "L850011234567"])
    if name == "sending_facility":
        return st.sampled_from(["RCB"] * 10 + ["RVJ", "RCB " * 4])
    if name == "event_type" and event_types:
        return st.sampled_from(event_types)
    if name == "producer":
        return st.sampled_from(["hospital-feed", "scoring", "referral", "scheduling"])
    if name in ("preferred_language", "language"):
        return st.sampled_from(LANGUAGES)
    if name == "languages":
        return st.lists(st.sampled_from(LANGUAGES), min_size=0, max_size=4)
    if name.endswith("timezone"):
        return st.sampled_from(TIMEZONES)
    if name == "weekly_hours":
        return weekly_hours()
    if name == "trigger_event":
        return st.sampled_from(["A01", "A02", "A03", "A04", "A11", "A13", "A08"])
    if name == "patient_class":
        return st.sampled_from(["I", "E", "O", "X"])
    if name == "schema_version":
        return st.sampled_from([1] * 6 + [2, 0, -1])
    if name == "event_id":  # mostly new; sometimes one seen before (a redelivery)
        return weighted((6, st.uuids().map(str)), (1, uuids()))
    if name.endswith("_id") and name not in ("coach_id", "source_message_id"):
        return uuids()
    if name == "coach_id":
        return st.sampled_from(["c1", "c2", "coach-3", "C1"])
    if name.endswith("_at"):
        return datetimes()
    return None


def hinted(name: str, nhs_numbers: Sequence[str] = NHS_POOL) -> st.SearchStrategy[Any]:
    found = named(name, nhs_numbers, ())
    assert found is not None, name
    return found


def _max_length(metadata: Sequence[Any]) -> int | None:
    for item in metadata:
        if isinstance(item, annotated_types.MaxLen):
            return int(item.max_length)
        inner = getattr(item, "max_length", None)
        if isinstance(inner, int):
            return inner
    return None


def bounded_text(max_length: int | None) -> st.SearchStrategy[str]:
    """Text of ordinary, boundary (max, max + 1) and long lengths."""
    ordinary = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=30)
    if max_length is None:
        return weighted((6, ordinary), (1, long_text(5_000)))
    edges = st.sampled_from([max_length, max_length, max_length + 1, max_length * 4]).flatmap(
        lambda n: st.sampled_from(["x", "\u00e9", "\\", "🙂"]).map(lambda c: c * n)
    )
    return weighted((8, ordinary), (1, edges))


def for_annotation(
    annotation: Any,
    name: str = "",
    metadata: Sequence[Any] = (),
    nhs_numbers: Sequence[str] = NHS_POOL,
    event_types: Sequence[str] = (),
    depth: int = 0,
    hostility: int = 10,
) -> st.SearchStrategy[Any]:
    """A JSON-ready value for a declared type: plausible mostly, hostile one time in
    `hostility`."""
    plausible = _plausible(annotation, name, metadata, nhs_numbers, event_types, depth, hostility)
    hostile = st.one_of(json_values(max_leaves=4), hostile_text(2_000))
    return weighted((hostility - 1, plausible), (1, hostile))


def _plausible(
    annotation: Any,
    name: str,
    metadata: Sequence[Any],
    nhs_numbers: Sequence[str],
    event_types: Sequence[str],
    depth: int,
    hostility: int,
) -> st.SearchStrategy[Any]:
    if (hint := named(name, nhs_numbers, event_types)) is not None:
        return hint

    def inner(item: Any, extra: Sequence[Any] = ()) -> st.SearchStrategy[Any]:
        return for_annotation(item, name, extra, nhs_numbers, event_types, depth + 1, hostility)

    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _plausible(
            arguments[0],
            name,
            [*metadata, *arguments[1:]],
            nhs_numbers,
            event_types,
            depth,
            hostility,
        )
    if origin in (typing.Union, types.UnionType):
        return st.one_of(
            *[
                _plausible(a, name, metadata, nhs_numbers, event_types, depth, hostility)
                for a in arguments
            ]
        )
    if origin is typing.Literal:
        return st.sampled_from(arguments)
    if annotation is type(None):
        return st.none()
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if depth > 3:
            return st.just({})
        return model_dicts(annotation, nhs_numbers, event_types, depth + 1, hostility)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return st.sampled_from([member.value for member in annotation])
    if origin in (list, tuple, set, Sequence):
        return st.lists(inner(arguments[0] if arguments else Any), max_size=4)
    if origin is dict:
        value = arguments[1] if len(arguments) == 2 else Any
        return st.dictionaries(st.text(max_size=12), inner(value), max_size=4)
    if annotation is bool:
        return weighted((12, st.booleans()), (1, st.sampled_from(["yes", "0", "maybe", 2])))
    if annotation is int:
        return weighted((8, st.integers(-5, 200)), (1, st.sampled_from(HUGE_INTS)))
    if annotation is float:
        return st.one_of(st.floats(-1e6, 1e6), st.sampled_from([1e308, -0.0]))
    if annotation is UUID:
        return uuids()
    if annotation is datetime:
        return datetimes()
    if annotation is date:
        return st.one_of(st.dates().map(date.isoformat), st.sampled_from(EDGE_DATES))
    if annotation is timedelta:
        return st.integers(-(10**6), 10**6)
    if annotation is str:
        return bounded_text(_max_length(metadata))
    return json_values(max_leaves=4)


def model_dicts(
    model: type[BaseModel],
    nhs_numbers: Sequence[str] = NHS_POOL,
    event_types: Sequence[str] = (),
    depth: int = 0,
    hostility: int = 10,
) -> st.SearchStrategy[dict[str, Any]]:
    """A dict for `model`: plausible fields; each field, one time in `hostility`, hostile or
    missing (at most one of each per dict, which keeps generation cheap); extra keys sometimes.
    """
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for field_name, info in model.model_fields.items():
        fields[info.alias or field_name] = _plausible(
            info.annotation, field_name, info.metadata, nhs_numbers, event_types, depth, hostility
        )
    names = sorted(fields)
    # An index past the fields means "none": each field is picked one time in `hostility`.
    pick = st.integers(0, len(names) * hostility - 1)
    hostile = st.one_of(json_values(max_leaves=4), hostile_text(2_000))
    extra = st.dictionaries(st.text(max_size=10), json_values(4), max_size=3)

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        spoiled, dropped = draw(pick), draw(pick)
        value = {}
        for index, name in enumerate(names):
            if index == dropped:
                continue
            value[name] = draw(hostile if index == spoiled else fields[name])
        if draw(pick) < len(names):
            value.update(draw(extra))
        return value

    return build()


# --- HL7 v2 ADT ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """Who a message is about: every value is synthetic (999 NHS numbers, ZZ99 postcodes)."""

    nhs_number: str
    family: str
    given: str
    birth_date: str  # YYYYMMDD
    postcode: str
    street: str


PEOPLE = tuple(
    Person(nhs, family, given, birth, postcode, street)
    for nhs, (family, given, birth, postcode, street) in zip(
        NHS_POOL,
        [
            ("TESTER", "ALICE", "19410302", "ZZ99 3AA", "1 TEST STREET"),
            ("EXAMPLE", "BOB", "19500101", "ZZ99 3AB", "2 SAMPLE ROAD"),
            ("DUMMY", "CAROL", "19300505", "ZZ99 3AC", "3 MOCK LANE"),
            ("SPECIMEN", "DAVE", "19880815", "ZZ99 3AD", "4 FAKE AVENUE"),
        ],
        strict=False,
    )
)
TRIGGERS = ("A01", "A02", "A03", "A04", "A05", "A08", "A11", "A12", "A13", "A28", "A31", "A40")
STRUCTURES = {"A04": "ADT_A01", "A08": "ADT_A01", "A11": "ADT_A09", "A13": "ADT_A01"}
EDGE_HL7_TIMES = (
    "00010101",
    "99991231",
    "20261301",
    "20260230",
    "18991231235959",
    "19000101",
    "21991231235959",
    "22000101",
    "202611222460",
    "20261122101500+2500",
    "20261122101500-9999",
    "2026",
    "20261122101500.1234+0000",
    "0",
    "-1",
    "9" * 30,
    "2026-11-22",
    "20261122\\T\\",
    "20261122101500+01",
)


@functools.cache
def hl7_times() -> st.SearchStrategy[str]:
    plausible = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31)).map(
        lambda d: d.strftime("%Y%m%d%H%M%S+0000" if d.second % 2 else "%Y%m%d%H%M")
    )
    return weighted((3, plausible), (1, st.sampled_from(EDGE_HL7_TIMES)))


@functools.cache
def hl7_field_values() -> st.SearchStrategy[str]:
    """What a field may be replaced with: dates, escapes, separators, NUL, huge values."""
    return st.one_of(
        hl7_times(),
        st.sampled_from(
            [
                "",
                '""',
                "\\T\\",
                "\\F\\",
                "\\X0D\\",
                "\\X00\\",
                "\\H\\bold\\N\\",
                "\\",
                "\\E",
                "\\Zxx\\",
                "A\\T\\E",
                "^^^^",
                "~~~~",
                "&&&",
                "|",
                "\x00",
                "a\x00b",
                "\x0b",
                "\x1c\r",
                "\r",
                "\n",
                "\t",
                "\u00e9\u00e8",
                "🙂",
                "\ufeff",
                "9990000018",
                "999 000 0018",
                "RVJ",
            ]
        ),
        st.text(max_size=30),
        long_text(300_000),
        st.builds(
            lambda sep, n: sep * n, st.sampled_from(["^", "~", "&", "\\"]), st.integers(50, 5000)
        ),
    )


def adt_segments(
    draw: st.DrawFn, person: Person, trigger: str, facility: str = "RCB"
) -> list[list[str]]:
    """A realistic ADT message as segments of fields (field 0 is the segment name)."""
    when, event_at = draw(hl7_times()), draw(hl7_times())
    control_id = draw(
        st.one_of(
            st.uuids().map(lambda u: u.hex[:20]), st.text("ABC0123456789-", min_size=1, max_size=12)
        )
    )
    practice = draw(st.sampled_from([*PRACTICES, "Y12345", ""]))
    visit = draw(st.one_of(st.text("V0123456789", min_size=1, max_size=10), st.just("")))
    patient_class = draw(st.sampled_from(["I", "E", "O", "P", ""]))
    version = draw(st.sampled_from(["2.4", "2.4", "2.3", "2.5.1", "2.8"]))
    nhs = person.nhs_number
    pid3 = draw(
        st.sampled_from(
            [
                f"RCB123^^^{facility}^MR~{nhs}^^^NHS^NH",
                f"{nhs}^^^NHS^NH",
                f"{nhs}^^^NHS",
                f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}^^^NHS^NH",
                f"RCB123^^^{facility}^MR",
                f"{nhs}^^^NHS^HN",
            ]
        )
    )
    segments = [
        [
            "MSH",
            "^~\\&",
            "PAS",
            facility,
            "ENSEMBLE",
            "ENSEMBLE",
            when,
            "",
            f"ADT^{trigger}^{STRUCTURES.get(trigger, f'ADT_{trigger}')}",
            control_id,
            "P",
            version,
            "",
            "",
            "AL",
            "NE",
        ],
    ]
    if version != "2.3" or draw(st.booleans()):
        segments.append(["EVN", trigger, when, "", "", "USER01", event_at])
    segments.append(
        [
            "PID",
            "1",
            "",
            pid3,
            "",
            f"{person.family}^{person.given}^^^MRS",
            "",
            person.birth_date,
            "F",
            "",
            "",
            f"{person.street}^^YORK^^{person.postcode}",
            "",
            "01632 960000",
        ]
    )
    if draw(st.booleans()):
        segments.append(["ZU1", draw(hl7_times()), "LOCAL", "ONLY"])
    segments.append(
        ["PD1", "", "", f"TEST SURGERY^^{practice}" if practice else "", "G1234567^TEST^DOCTOR"]
    )
    if draw(st.booleans()):
        segments.append(
            [
                "NK1",
                "1",
                f"{person.family}^NEXT^OF^KIN",
                "SPO",
                f"{person.street}^^YORK^^{person.postcode}",
            ]
        )
    pv1 = [
        "PV1",
        "1",
        patient_class,
        draw(
            st.sampled_from(["WARD 7^BAY 2^BED 4^RCB", "A\\T\\E^CUBE 3^^RCB", "", "WARD 9^^^RCB"])
        ),
        draw(st.sampled_from(["21", "22", "E", "28", ""])),
    ] + [""] * 41
    pv1[19] = visit
    pv1[36] = draw(st.sampled_from(["", "01", "19"]))
    pv1[44] = draw(hl7_times())
    pv1[45] = draw(hl7_times()) if trigger in ("A03", "A13") else ""
    while pv1 and pv1[-1] == "":
        pv1.pop()
    segments.append(pv1)
    return segments


def _at(items: Sequence[Any], index: int) -> int:
    return index % len(items) if items else 0


@st.composite
def hl7_messages(
    draw: st.DrawFn, people: Sequence[Person] = PEOPLE, facility: str = "RCB"
) -> bytes:
    """A realistic ADT message, mutated: segments and fields inserted, deleted, duplicated,
    separators swapped, hostile values; then encoded, sometimes badly, as bytes."""
    person = draw(st.sampled_from(people))
    segments = adt_segments(draw, person, draw(st.sampled_from(TRIGGERS)), facility)
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 1, 2, 3, 5]))):
        _mutate(draw, segments)
    field_sep = "|"
    if draw(st.integers(0, 9)) == 9:  # another field separator, used throughout (valid HL7)
        field_sep = draw(st.sampled_from(["#", "!", "*", "\t", "a", "\u00e9", "^"]))
    lines = [field_sep.join(fields) for fields in segments]
    if draw(st.integers(0, 14)) == 14:  # MSH-1 and MSH-2 disagree with the body
        lines[0] = (
            "MSH" + draw(st.sampled_from(["#", "|^", "", "||", "|^~", "|^^^^"])) + lines[0][4:]
        )
    end = draw(st.sampled_from(["\r", "\r", "\r", "\n", "\r\n", "\n\r", "", "\x1c", "\r\r"]))
    text = end.join(lines) + draw(st.sampled_from([end, "", "\r\n"]))
    if draw(st.integers(0, 9)) == 9:
        text = draw(st.sampled_from(["\ufeff", "\x0b", "  ", "\r\n", "\x1c\r"])) + text
    encoding = draw(st.sampled_from(["utf-8"] * 7 + ["latin-1", "utf-16", "cp1252"]))
    data = (
        text.encode(encoding, "replace")
        if encoding != "utf-8"
        else text.encode("utf-8", "surrogatepass")
    )
    for _ in range(draw(st.integers(0, 2)) if draw(st.integers(0, 4)) == 4 else 0):
        data = _mutate_bytes(draw, data)
    return data


def _mutate(draw: st.DrawFn, segments: list[list[str]]) -> None:
    op = draw(
        st.sampled_from(
            [
                "insert_segment",
                "delete_segment",
                "duplicate_segment",
                "swap_segments",
                "insert_field",
                "delete_field",
                "duplicate_field",
                "set_field",
                "set_field",
                "set_field",
                "set_time",
                "set_msh4",
                "set_encoding",
            ]
        )
    )
    index = draw(st.integers(0, 1000))
    position = draw(st.integers(0, 1000))
    if op == "insert_segment":
        segment = draw(
            st.one_of(
                st.sampled_from(
                    [
                        ["ZXX", "1", "2"],
                        ["FHS", "^~\\&"],
                        ["BHS", "^~\\&"],
                        ["MSH", "^~\\&", "X"],
                        [""],
                        ["PID", "1", "", "9990000018^^^NHS^NH"],
                        ["EVN", "A03"],
                        ["PV1", "1", "I"],
                        ["PD1", "", "", "~TEST^^L85002~"],
                        ["OBX", "1", "TX", "", "", "free text"],
                    ]
                ),
                st.lists(hl7_field_values(), min_size=1, max_size=6).map(
                    lambda f: ["Z" + "ABC"[len(f) % 3] + "1", *f]
                ),
            )
        )
        segments.insert(_at(segments, index) + 1, list(segment))
    elif op == "delete_segment" and len(segments) > 1:
        del segments[_at(segments, index)]
    elif op == "duplicate_segment" and segments:
        i = _at(segments, index)
        segments.insert(i, list(segments[i]))
    elif op == "swap_segments" and len(segments) > 1:
        i, j = _at(segments, index), _at(segments, position)
        segments[i], segments[j] = segments[j], segments[i]
    elif segments:
        fields = segments[_at(segments, index)]
        where = 1 + position % max(1, len(fields) - 1) if len(fields) > 1 else 1
        if op == "insert_field":
            fields.insert(where, draw(hl7_field_values()))
        elif op == "delete_field" and len(fields) > 2:
            del fields[where]
        elif op == "duplicate_field" and len(fields) > 1:
            fields.insert(where, fields[min(where, len(fields) - 1)])
        elif op == "set_field":
            while len(fields) <= where:
                fields.append("")
            fields[where] = draw(hl7_field_values())
        elif op == "set_time":
            spots = [(0, 6), (1, 2), (1, 6), (-1, 44), (-1, 45)]
            seg, number = spots[position % len(spots)]
            target = segments[seg]
            while len(target) <= number:
                target.append("")
            target[number] = draw(st.sampled_from(EDGE_HL7_TIMES))
        elif op == "set_msh4" and segments[0] and segments[0][0] == "MSH":
            msh = segments[0]
            while len(msh) <= 3:
                msh.append("")
            msh[3] = draw(
                st.sampled_from(
                    ["RVJ", "rcb", "", "RCB^X", "R" * 60, "RCB\x00", "RC B", "\u0280CB"]
                )
            )
        elif op == "set_encoding" and segments[0] and segments[0][0] == "MSH":
            msh = segments[0]
            msh[1] = draw(
                st.sampled_from(["", "^", "^~", "^~\\", "^~\\&#", "####", "^^^^", "&~\\^"])
            )


def _mutate_bytes(draw: st.DrawFn, data: bytes) -> bytes:
    at = draw(st.integers(0, max(0, len(data))))
    op = draw(st.sampled_from(["nul", "high", "invalid", "truncate", "overlong"]))
    if op == "nul":
        return data[:at] + b"\x00" + data[at:]
    if op == "high":
        return data[:at] + draw(st.binary(min_size=1, max_size=4)) + data[at:]
    if op == "invalid":
        return (
            data[:at]
            + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xc0\xaf", b"\xfe\xff"]))
            + data[at:]
        )
    if op == "truncate":
        return data[:at]
    return data[:at] + b"\xe0\x80\x80" + data[at:]


# --- MLLP ----------------------------------------------------------------------------------------

START, END = b"\x0b", b"\x1c\r"


@st.composite
def mllp_streams(
    draw: st.DrawFn, max_message_bytes: int, people: Sequence[Person] = PEOPLE
) -> list[bytes]:
    """A byte stream as a sender (or line noise) might write it, as the writes it is made of:
    framed messages, noise, partial and oversize frames, lone framing bytes."""
    pieces: list[bytes] = []
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(
            st.sampled_from(
                ["frame", "frame", "frame", "noise", "partial", "oversize", "empty", "lone"]
            )
        )
        if kind == "frame":
            pieces.append(START + draw(hl7_messages(people)) + END)
        elif kind == "noise":
            pieces.append(draw(st.binary(max_size=64)))
        elif kind == "partial":
            message = draw(hl7_messages(people))
            pieces.append(START + message[: draw(st.integers(0, len(message)))])
        elif kind == "oversize":
            size = max_message_bytes + draw(st.integers(1, 70_000))
            pieces.append(
                START + b"MSH|^~\\&|PAS|RCB|E|E|1||ADT^A01|BIG|P|2.4\r" + b"x" * size + END
            )
        elif kind == "empty":
            pieces.append(START + END)
        else:
            pieces.append(
                draw(st.sampled_from([START, END, b"\x1c", b"\r", START + START, END + END]))
            )
    stream = b"".join(pieces)
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=6)))  # how it is written
    writes, last = [], 0
    for cut in [*cuts, len(stream)]:
        writes.append(stream[last:cut])
        last = cut
    return [w for w in writes if w]


def complete_frames(stream: bytes) -> int:
    """How many frames a stream completes: a start block, later an end block. Bytes outside
    a frame are noise; a start block inside a frame starts it again (one frame still)."""
    count = position = 0
    while (start := stream.find(START, position)) >= 0:
        end = stream.find(END, start + 1)
        if end < 0:
            break
        count += 1
        position = end + len(END)
    return count


# --- profile extracts ----------------------------------------------------------------------------

PROFILE_FIELDS = (
    "nhs_number",
    "practice_ods",
    "birth_date",
    "conditions",
    "repeat_medicines",
    "efi_deficits",
    "deprivation_quintile",
    "preferred_language",
    "on_caseload",
    "objects_to_contact",
)
CONDITIONS = (
    "diabetes",
    "copd",
    "chd",
    "heart_failure",
    "depression",
    "ckd",
    "asthma",
    "gout",
    "Diabetes ",
)


@functools.cache
def profile_rows(nhs_numbers: tuple[str, ...] = NHS_POOL) -> st.SearchStrategy[dict[str, Any]]:
    plausible: dict[str, st.SearchStrategy[Any]] = {
        "nhs_number": hinted("nhs_number", nhs_numbers),
        "practice_ods": hinted("practice_ods", nhs_numbers),
        "birth_date": st.sampled_from(EDGE_DATES),
        "conditions": st.lists(st.sampled_from(CONDITIONS), max_size=4),
        "repeat_medicines": st.one_of(st.integers(-1, 101), st.sampled_from(HUGE_INTS)),
        "efi_deficits": st.integers(-1, 37),
        "deprivation_quintile": st.integers(0, 6),
        "preferred_language": st.sampled_from([*LANGUAGES, "a" * 36]),
        "on_caseload": st.sampled_from([True, False, "true", "no", "maybe"]),
        "objects_to_contact": st.booleans(),
    }
    hostile = st.one_of(json_values(4), hostile_text(5_000))
    fields = {k: weighted((9, s), (1, hostile)) for k, s in plausible.items()}

    @st.composite
    def row(draw: st.DrawFn) -> dict[str, Any]:
        chosen = draw(st.lists(st.sampled_from(PROFILE_FIELDS[1:]), unique=True))
        keys = chosen if draw(st.integers(0, 9)) == 9 else ["nhs_number", *chosen]
        return {k: draw(fields[k]) for k in keys}

    return row()


@st.composite
def ndjson_extracts(draw: st.DrawFn, nhs_numbers: Sequence[str] = NHS_POOL) -> bytes:
    lines: list[bytes] = []
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["row", "row", "row", "row", "raw", "blank", "value"]))
        if kind == "row":
            lines.append(dump_json(draw(profile_rows(tuple(nhs_numbers))), draw(st.booleans())))
        elif kind == "raw":
            lines.append(draw(raw_json_bodies()).replace(b"\n", b" "))
        elif kind == "blank":
            lines.append(draw(st.sampled_from([b"", b"   ", b"\r", b"\t"])))
        else:
            lines.append(dump_json(draw(json_values(4)), True).replace(b"\n", b" "))
    end = draw(st.sampled_from([b"\n", b"\r\n"]))
    prefix = draw(st.sampled_from([b"", b"", b"\xef\xbb\xbf"]))
    return prefix + end.join(lines) + draw(st.sampled_from([b"", end]))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ";".join(_cell(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


CSV_HEADERS = st.one_of(
    st.lists(st.sampled_from(PROFILE_FIELDS[1:]), unique=True).map(lambda h: ["nhs_number", *h]),
    st.lists(st.sampled_from(PROFILE_FIELDS[1:]), unique=True).map(lambda h: ["nhs_number", *h]),
    st.lists(
        st.sampled_from([*PROFILE_FIELDS, "name", "postcode", " nhs_number ", ""]),
        min_size=1,
        max_size=11,
    ),
    st.lists(hostile_text(200), max_size=3),
    st.integers(100_000, 140_000).map(lambda n: ["x" * n]),
)
HOSTILE_CELLS = st.one_of(
    hostile_text(2_000),
    st.sampled_from(['"unterminated', 'a"b', '"a""b"', "x" * 140_000, "\x00", "a,b", "a\nb"]),
)


@st.composite
def csv_extracts(draw: st.DrawFn, nhs_numbers: Sequence[str] = NHS_POOL) -> bytes:
    """A header, then rows rendered from profile rows (some cells hostile, some rows short
    or long), written by a CSV writer or joined carelessly."""
    header = draw(CSV_HEADERS)
    rows = []
    for _ in range(draw(st.integers(0, 6))):
        profile = draw(profile_rows(tuple(nhs_numbers)))
        row = [_cell(profile.get(column.strip())) for column in header]
        if row and draw(st.integers(0, 4)) == 4:
            row[draw(st.integers(0, len(row) - 1))] = draw(HOSTILE_CELLS)
        if draw(st.integers(0, 9)) == 9:
            row = row[: draw(st.integers(0, len(row)))] + draw(st.lists(HOSTILE_CELLS, max_size=2))
        rows.append(row)
    if draw(st.integers(0, 4)) == 4:
        text = "\r\n".join(",".join(line) for line in [header, *rows])
    else:
        buffer = io.StringIO()
        csv.writer(buffer).writerows([header, *rows])
        text = buffer.getvalue()
    return text.encode("utf-8", "surrogatepass")

"""scoring's profile extracts (NDJSON and CSV): never a 5xx; every bad line is reported by
number and every good one loads, so the lines add up."""

import re
from collections.abc import Sequence
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ensemble_devkit.testkit import ServiceKit
from scoring.service import DEFINITION
from scoring.service_layer.extracts import NotText, decode_extract

from .report import CRASH, SERVER_ERROR, Stats
from .strategies import csv_extracts, ndjson_extracts
from .support import NHS_POOL, Loop, bearer, fuzz_settings, fuzz_target, timeout_for

LINE_ERROR = re.compile(r"^line (\d+): .+", re.DOTALL)
MORE_ERRORS = re.compile(r"^\.\.\. and (\d+) more errors$")


def data_lines(text: str) -> list[int]:
    """Numbers of the NDJSON lines that are not blank (blank ones are skipped, by contract)."""
    lines = text.removeprefix("\ufeff").split("\n")
    return [n for n, line in enumerate(lines, start=1) if line.removesuffix("\r").strip()]


def reported(errors: list[Any]) -> tuple[list[int], int, list[Any]]:
    """(line numbers named, how many more were counted, entries of another shape)."""
    lines, more, odd = [], 0, []
    for entry in errors:
        if isinstance(entry, str) and (match := LINE_ERROR.match(entry)):
            lines.append(int(match.group(1)))
        elif isinstance(entry, str) and (match := MORE_ERRORS.match(entry)):
            more += int(match.group(1))
        else:
            odd.append(entry)
    return lines, more, odd


def fuzz_extracts(
    kit: ServiceKit[Any, Any],
    loop: Loop,
    stats: Stats,
    nhs_numbers: Sequence[str] = NHS_POOL,
    examples: int | None = None,
) -> None:
    """POST generated extracts as staff; check each answer adds up."""
    client = kit.client()

    @fuzz_settings(examples)
    @given(
        extract=st.one_of(
            ndjson_extracts(nhs_numbers).map(lambda b: ("ndjson", b)),
            csv_extracts(nhs_numbers).map(lambda b: ("csv", b)),
        ),
        content_type=st.sampled_from(
            [
                None,
                "application/x-ndjson",
                "text/csv",
                "text/csv; charset=utf-8",
                "application/json",
            ]
        ),
    )
    def case(extract: tuple[str, bytes], content_type: str | None) -> None:
        kind, body = extract
        if kind == "csv" and content_type not in ("text/csv", "text/csv; charset=utf-8"):
            content_type = "text/csv"
        if kind == "ndjson" and content_type in ("text/csv", "text/csv; charset=utf-8"):
            content_type = None
        headers = bearer("staff", "staff")
        if content_type is not None:
            headers["content-type"] = content_type
        with stats.case(extract):
            try:
                response = loop.run(client.post("/v1/profiles", content=body, headers=headers))
            except Exception as error:
                stats.violation(CRASH, f"{type(error).__name__}: {error}"[:300], extract)
                return
        stats.note(f"{kind} HTTP {response.status_code}")
        if response.status_code >= 500:
            stats.violation(SERVER_ERROR, f"{kind}: HTTP {response.status_code}", extract)
            return
        try:  # as the extract is read (UTF-8, or UTF-16 with its BOM): only then count lines
            text: str | None = decode_extract(body)
        except NotText:
            text = None
        if text is None:
            if response.status_code != 400 or "detail" not in response.json():
                stats.violation("status", f"{kind} not text: HTTP {response.status_code}", extract)
            stats.note("not text (400)")
            return
        if response.status_code not in (200, 400):
            stats.violation("status", f"{kind}: HTTP {response.status_code}", extract)
            return
        try:
            answer = response.json()
            loaded, errors = answer["loaded"], answer["errors"]
        except (ValueError, KeyError, TypeError):
            stats.violation(
                "answer", f"{kind}: not {{loaded, errors}}: {response.text[:200]!r}", extract
            )
            return
        lines, more, odd = reported(errors)
        if response.status_code == 400 and loaded != 0:
            stats.violation("answer", f"{kind}: 400 with {loaded} loaded", extract)
        if response.status_code == 200 and loaded < 1:
            stats.violation("answer", f"{kind}: 200 with nothing loaded", extract)
        if odd and not (response.status_code == 400 and errors == ["no profiles in the body"]):
            stats.violation("bad row not reported by line", f"{kind}: {odd[:2]!r}", extract)
        if lines != sorted(lines) or len(set(lines)) != len(lines):
            stats.violation("bad row not reported by line", f"{kind}: lines {lines[:10]}", extract)
        stats.note("bad rows reported", len(lines) + more)
        stats.note("rows loaded", loaded)
        if kind == "ndjson":
            expected = data_lines(text)
            if loaded + len(lines) + more != len(expected) or not set(lines) <= set(expected):
                detail = (
                    f"{len(expected)} lines with data, {loaded} loaded + "
                    f"{len(lines) + more} reported bad"
                )
                stats.violation("lines do not add up", detail, extract)

    try:
        case()
    finally:
        loop.run(client.aclose())


@timeout_for()
def test_extracts_never_fail_and_report_every_bad_line(database_url: str, loop: Loop) -> None:
    with fuzz_target("scoring-extracts", DEFINITION, database_url) as (kit, stats):
        fuzz_extracts(kit, loop, stats)

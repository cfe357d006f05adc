"""Parsing practice extracts of patient profiles: NDJSON or CSV, one profile per line.

A bad line never stops the load: it becomes an error naming its line number and the field,
never the value (values may be NHS numbers or dates of birth). That holds for any bytes: a line
in another encoding, NUL characters, `NaN`, numbers of any size, deep nesting, cells or headers
longer than the CSV reader takes; only a body that is not text at all is refused whole.

Lines that name the same NHS number twice are all refused (which one is right cannot be told);
an `as_of` after the day of the load refuses its line. Condition codes scoring does not know
are kept with the profile and reported as warnings, not errors.
"""

import codecs
import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

from ensemble_contracts import limits
from ensemble_contracts.nhs_number import is_valid_nhs_number
from ensemble_runtime.errors import describe_validation_error
from scoring.domain.conditions import KNOWN_CONDITIONS
from scoring.domain.patient import SMOKING

ExtractFormat = Literal["ndjson", "csv"]
MAX_ERRORS: Final = 200
MAX_ERROR_TEXT: Final = 300  # characters of one line's error
EARLIEST_BIRTH: Final = date(1880, 1, 1)
EARLIEST_AS_OF: Final = date(1990, 1, 1)
# A condition must look like a code (a word, SNOMED CT or Read code), never free text: only
# codes are kept, and named back in warnings.
_CODE_LIKE = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,39}$")
_TEN_DIGITS = re.compile(r"^[0-9]{10}$")  # could be an NHS number: never named back
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


class NotText(ValueError):
    """An extract body that is not text in any encoding an extract may come in."""


def decode_extract(body: bytes) -> str:
    """The text of an extract: UTF-8 (with or without a BOM), or UTF-16 with its BOM.

    Bytes that are not UTF-8 are kept as lone surrogates, so that only the lines holding them
    are refused (an export that mixes encodings still loads its good lines).
    """
    if body.startswith(_UTF16_BOMS):
        try:
            return body.decode("utf-16")
        except UnicodeDecodeError:
            raise NotText("the body starts as UTF-16 but is not UTF-16 text") from None
    return body.decode("utf-8", errors="surrogateescape")


def text_problem(value: Any) -> str | None:
    """Why a parsed line cannot be taken as text (lone surrogates, NUL), if it cannot."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                return "holds a NUL character"
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "not UTF-8 text"
    return None


class ProfileIn(BaseModel):
    """One patient profile line. Only the fields present are changed on an existing patient."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)

    nhs_number: str
    practice_ods: str | None = None
    birth_date: date | None = None
    conditions: list[str] | None = None
    repeat_medicines: int | None = None
    efi_deficits: int | None = None
    deprivation_quintile: int | None = None
    preferred_language: str | None = None
    on_caseload: bool | None = None
    objects_to_contact: bool | None = None
    as_of: date | None = None
    efi: float | None = None
    bmi: float | None = None
    pam_level: int | None = None
    smoking: str | None = None
    lives_alone: bool | None = None
    socially_isolated: bool | None = None
    is_carer: bool | None = None

    @field_validator("nhs_number", mode="before")
    @classmethod
    def _nhs_number(cls, value: Any) -> Any:
        text = str(value).replace(" ", "").replace("-", "") if isinstance(value, str) else value
        if not isinstance(text, str) or not is_valid_nhs_number(text):
            raise ValueError("not a valid NHS number")
        return text

    @field_validator("practice_ods")
    @classmethod
    def _practice(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not (3 <= len(value) <= limits.ODS_CODE and value.isascii() and value.isalnum()):
            raise ValueError("not an ODS code")
        return value.upper()

    @field_validator("birth_date")
    @classmethod
    def _birth_date(cls, value: date | None, info: ValidationInfo) -> date | None:
        if value is not None and not EARLIEST_BIRTH <= value <= _today(info):
            raise ValueError("birth date out of range")
        return value

    @field_validator("as_of")
    @classmethod
    def _as_of(cls, value: date | None, info: ValidationInfo) -> date | None:
        if value is not None and value > _today(info):
            raise ValueError("as_of is after the day of the load")
        if value is not None and value < EARLIEST_AS_OF:
            raise ValueError(f"as_of is before {EARLIEST_AS_OF.isoformat()}")
        return value

    @field_validator("efi")
    @classmethod
    def _efi(cls, value: float | None) -> float | None:
        if value is not None and not 0 <= value <= 1:  # NaN fails too
            raise ValueError("must be an eFI value between 0 and 1")
        return value

    @field_validator("bmi")
    @classmethod
    def _bmi(cls, value: float | None) -> float | None:
        if value is not None and not 10 <= value <= 150:
            raise ValueError("must be a BMI between 10 and 150")
        return value

    @field_validator("pam_level")
    @classmethod
    def _pam(cls, value: int | None) -> int | None:
        if value is not None and not 1 <= value <= 4:
            raise ValueError("must be a PAM level between 1 and 4")
        return value

    @field_validator("smoking")
    @classmethod
    def _smoking(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.lower() not in SMOKING:
            raise ValueError(f"must be one of {', '.join(SMOKING)}")
        return value.lower()

    @field_validator("conditions")
    @classmethod
    def _conditions(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        codes = sorted({c.strip().lower() for c in value if c.strip()})
        if not all(_CODE_LIKE.match(c) for c in codes):  # free text may name a person
            raise ValueError("a condition that is not a code (letters, digits, _ . -)")
        return codes

    @field_validator("repeat_medicines")
    @classmethod
    def _medicines(cls, value: int | None) -> int | None:
        if value is not None and not 0 <= value <= 100:
            raise ValueError("must be between 0 and 100")
        return value

    @field_validator("efi_deficits")
    @classmethod
    def _deficits(cls, value: int | None) -> int | None:
        if value is not None and not 0 <= value <= 36:
            raise ValueError("must be between 0 and 36")
        return value

    @field_validator("deprivation_quintile")
    @classmethod
    def _quintile(cls, value: int | None) -> int | None:
        if value is not None and not 1 <= value <= 5:
            raise ValueError("must be between 1 and 5")
        return value

    @field_validator("preferred_language")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if len(value) > limits.LANGUAGE:
            raise ValueError(f"longer than {limits.LANGUAGE} characters")
        head, *rest = value.split("-")
        if not (2 <= len(head) <= 3 and head.isascii() and head.isalpha()) or not all(
            1 <= len(p) <= 8 and p.isascii() and p.isalnum() for p in rest
        ):
            raise ValueError("not a BCP 47 language tag")
        return value


def _today(info: ValidationInfo) -> date:
    """The day of the load (the service's clock, passed as validation context)."""
    context = info.context if isinstance(info.context, dict) else {}
    today = context.get("today")
    return today if isinstance(today, date) else date.today()


@dataclass
class ParsedExtract:
    profiles: list[ProfileIn] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # in line order, at most MAX_ERRORS + 1
    error_count: int = 0
    warnings: list[str] = field(default_factory=list)  # lines that load, with a remark
    warning_count: int = 0


@dataclass
class _Problems:
    found: list[tuple[int, str]] = field(default_factory=list)

    def add(self, line: int, message: str) -> None:
        if len(message) > MAX_ERROR_TEXT:  # e.g. one error per item of a 100,000-item list
            message = message[:MAX_ERROR_TEXT] + "..."
        self.found.append((line, message))

    def report(self, kind: str = "errors") -> list[str]:
        ordered = [f"line {line}: {message}" for line, message in sorted(self.found)]
        if len(ordered) > MAX_ERRORS:
            return [*ordered[:MAX_ERRORS], f"... and {len(ordered) - MAX_ERRORS} more {kind}"]
        return ordered


def parse_extract(text: str, format: ExtractFormat, today: date | None = None) -> ParsedExtract:
    """Every good profile, an error per bad line and a warning per remark on a good one.
    Never raises on bad content. `today`: the day of the load (default: the system's)."""
    problems, remarks = _Problems(), _Problems()
    text = text.removeprefix("\ufeff")  # a BOM from spreadsheet exports
    rows = _ndjson_rows(text, problems) if format == "ndjson" else _csv_rows(text, problems)
    context = {"today": today or date.today()}
    parsed: list[tuple[int, ProfileIn]] = []
    for line, row in rows:
        # Only the fields a profile has are read: other columns may hold anything.
        known = {k: v for k, v in row.items() if k in ProfileIn.model_fields}
        if (problem := text_problem(known)) is not None:
            problems.add(line, problem)
            continue
        try:
            parsed.append((line, ProfileIn.model_validate(row, context=context)))
        except ValidationError as error:
            problems.add(line, describe_validation_error(error))
    profiles = []
    lines_of: dict[str, list[int]] = {}
    for line, profile in parsed:
        lines_of.setdefault(profile.nhs_number, []).append(line)
    for line, profile in parsed:
        others = [n for n in lines_of[profile.nhs_number] if n != line]
        if others:
            named = ", ".join(map(str, others[:5])) + (", ..." if len(others) > 5 else "")
            problems.add(line, f"the NHS number of line {named} again: none of its lines load")
            continue
        profiles.append(profile)
        unknown = [c for c in profile.conditions or () if c not in KNOWN_CONDITIONS]
        if unknown:
            named = ", ".join(
                c if not _TEN_DIGITS.match(c) else "(a 10-digit code)" for c in unknown[:5]
            )
            remarks.add(line, f"condition code(s) kept but not known to scoring: {named}")
    return ParsedExtract(
        profiles,
        problems.report(),
        len(problems.found),
        remarks.report("warnings"),
        len(remarks.found),
    )


def _ndjson_rows(text: str, problems: _Problems) -> list[tuple[int, dict[str, Any]]]:
    rows = []
    # Lines end at "\n" only (not at the other breaks str.splitlines knows, such as U+2028,
    # which JSON strings may hold), so line numbers are the ones an editor shows.
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.removesuffix("\r")
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except RecursionError:
            problems.add(number, "nested too deeply")
            continue
        except ValueError:  # also a number of more than 4,300 digits
            problems.add(number, "not valid JSON")
            continue
        if not isinstance(value, dict):
            problems.add(number, "not a JSON object")
            continue
        rows.append((number, value))
    return rows


def _csv_rows(text: str, problems: _Problems) -> list[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        fieldnames = reader.fieldnames
    except csv.Error as error:  # e.g. a header cell longer than the reader's field limit
        problems.add(1, f"malformed CSV header: {error}")
        return []
    if fieldnames is None:
        return []
    header = [name.strip() for name in fieldnames]
    if "nhs_number" not in header:
        problems.add(1, "header has no nhs_number column")
        return []
    reader.fieldnames = header
    rows = []
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as error:  # the reader goes on with the next line
            # (DictReader's own line_num is only updated by a row read without error)
            problems.add(reader.reader.line_num, f"malformed CSV: {error}")
            continue
        if None in row:
            problems.add(reader.line_num, "more cells than header columns")
            continue
        # An empty cell means "not given": the stored value, if any, is kept.
        cells: dict[str, Any] = {k: v for k, v in row.items() if v and v.strip()}
        if not cells:
            continue
        if "conditions" in cells:
            cells["conditions"] = cells["conditions"].split(";")
        rows.append((reader.line_num, cells))
    return rows

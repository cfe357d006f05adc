"""FHIR JSON as a resource the models accept, or a FhirError saying where it is wrong.

Validated with `fhir.resources`' R4B models, the closest to R4 it ships: R4B left Encounter
as R4 had it (`class` a Coding, `hospitalization`), and R4 JSON validates unchanged. Errors
never carry input values (an NHS number could be one): only where and what.
"""

import json
from typing import Any

from pydantic import ValidationError

from hospital_feed.domain.hl7_message import Hl7Error

# Encounter.status (R4 value set); the models take any string, so it is checked here.
STATUSES = frozenset(
    {
        "planned",
        "arrived",
        "triaged",
        "in-progress",
        "onleave",
        "finished",
        "cancelled",
        "entered-in-error",
        "unknown",
    }
)


class FhirError(Hl7Error):
    """A resource that cannot be accepted: an Hl7Error (so judging rejects it like any
    message: AR unreadable or unsupported, AE invalid content) with what FHIR answers:
    the HTTP status, the OperationOutcome issue code and the FHIRPath of the element."""

    def __init__(
        self, http_status: int, issue_code: str, diagnostics: str, expression: str
    ) -> None:
        super().__init__("AR" if http_status == 400 else "AE", "102", diagnostics)
        self.http_status = http_status
        self.issue_code = issue_code
        self.expression = expression


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def load_json(raw: str, what: str = "Encounter") -> dict[str, Any]:
    """The JSON object in `raw` (strict: NaN and Infinity are not JSON, whatever Python's
    parser allows); FhirError (400) when it is not one."""
    try:
        data = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as error:
        raise FhirError(400, "structure", "the body is not valid JSON", what) from error
    if not isinstance(data, dict):
        raise FhirError(400, "structure", "the body is not a JSON object", what)
    return data


def _path(root: str, loc: tuple[int | str, ...]) -> str:
    path = root
    for part in loc:
        if part == "root":
            continue
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def validate(data: dict[str, Any], root: str = "Encounter") -> Any:
    """The R4B Encounter model of `data`; FhirError naming the first bad element."""
    # About a second to import: not for every CLI; the service loads it at start (fhir_http).
    from fhir.resources.R4B.encounter import Encounter

    kind = data.get("resourceType")
    if kind != "Encounter":
        shown = kind if isinstance(kind, str) and kind.isalnum() and len(kind) < 40 else "?"
        text = f"resourceType {shown} is not supported here: only Encounter is"
        raise FhirError(400, "not-supported", text, f"{root}.resourceType")
    try:
        encounter = Encounter.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = _path(root, tuple(first["loc"]))
        kind_of_error = "required" if "missing" in first["type"] else "structure"
        message = str(first["msg"])
        # pydantic may quote the value in its message: say only where and what kind.
        value = first.get("input")
        if value is not None and not isinstance(value, dict | list) and str(value) in message:
            message = "invalid value"
        raise FhirError(400, kind_of_error, f"{where}: {message[:150]}", where) from error
    except (TypeError, KeyError, ValueError, AttributeError, ImportError) as error:
        # fhir.resources trips over some shapes itself (a contained resourceType that is
        # not a string): still the sender's malformed resource, not our fault.
        text = "the resource could not be read as an Encounter (a malformed element)"
        raise FhirError(400, "structure", text, root) from error
    if encounter.status not in STATUSES:
        raise FhirError(400, "code-invalid", "unknown Encounter.status code", f"{root}.status")
    return encounter

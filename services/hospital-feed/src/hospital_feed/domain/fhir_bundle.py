"""A FHIR transaction or batch Bundle of Encounters, split into its entries.

Each entry's resource is kept as JSON text of its own: it is stored, judged and answered
one by one, exactly as a single `POST /v1/fhir/Encounter` of it would be. The envelope
(type, fullUrl, request) is checked here; the Encounters themselves in fhir_encounter.py.
"""

import json
from dataclasses import dataclass
from typing import Any

from hospital_feed.domain.fhir_resource import FhirError

BUNDLE_TYPES = frozenset({"transaction", "batch"})
MAX_ENTRIES = 500  # far above an engine's batch of ADT; keeps one request's work bounded
_METHODS = frozenset({"POST", "PUT"})


@dataclass(frozen=True)
class BundleEntry:
    raw: str  # the entry's resource as JSON text
    full_url: str | None  # Bundle.entry.fullUrl: the entry's control id when present


@dataclass(frozen=True)
class Bundle:
    type: str  # transaction or batch
    entries: tuple[BundleEntry, ...]


def read_bundle(data: dict[str, Any]) -> Bundle:
    """The entries of a parsed Bundle; FhirError (400) naming what is wrong with it."""
    if data.get("resourceType") != "Bundle":
        text = "only a Bundle is accepted here (one Encounter goes to /v1/fhir/Encounter)"
        raise FhirError(400, "not-supported", text, "Bundle.resourceType")
    kind = data.get("type")
    if kind not in BUNDLE_TYPES:
        text = "Bundle.type must be transaction or batch"
        raise FhirError(400, "not-supported", text, "Bundle.type")
    entries = data.get("entry", [])
    if not isinstance(entries, list):
        raise FhirError(400, "structure", "Bundle.entry is not a list", "Bundle.entry")
    if len(entries) > MAX_ENTRIES:
        text = f"more than {MAX_ENTRIES} entries in one Bundle"
        raise FhirError(400, "too-costly", text, "Bundle.entry")
    return Bundle(kind, tuple(_entry(index, entry) for index, entry in enumerate(entries)))


def _entry(index: int, entry: Any) -> BundleEntry:
    where = f"Bundle.entry[{index}]"
    if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
        raise FhirError(400, "required", f"{where}.resource is missing", f"{where}.resource")
    full_url = entry.get("fullUrl")
    if full_url is not None and (not isinstance(full_url, str) or not full_url.isprintable()):
        raise FhirError(400, "structure", f"{where}.fullUrl is not a uri", f"{where}.fullUrl")
    request = entry.get("request")
    if request is not None:
        method = request.get("method") if isinstance(request, dict) else None
        url = request.get("url") if isinstance(request, dict) else None
        if method not in _METHODS or not isinstance(url, str) or not url.startswith("Encounter"):
            text = f"{where}.request must be a POST or PUT of an Encounter"
            raise FhirError(400, "not-supported", text, f"{where}.request")
    raw = json.dumps(entry["resource"], ensure_ascii=False)
    return BundleEntry(raw, full_url or None)


def in_entry(expression: str, index: int) -> str:
    """An Encounter's FHIRPath as the path into the Bundle's entry `index`."""
    root, _, rest = expression.partition(".")
    if root != "Encounter":  # already a Bundle path (or another resource's)
        return expression
    return f"Bundle.entry[{index}].resource" + (f".{rest}" if rest else "")

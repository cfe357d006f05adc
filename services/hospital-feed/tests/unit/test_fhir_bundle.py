"""Bundles split into their entries; anything else refused with where it is wrong."""

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hospital_feed.domain.fhir_bundle import MAX_ENTRIES, in_entry, read_bundle
from hospital_feed.domain.fhir_encounter import read_encounter
from hospital_feed.domain.fhir_resource import FhirError, load_json
from hospital_feed.domain.hl7_message import AdtMessage

from ..fhir_samples import bundle, encounter


def test_entries_keep_their_resource_and_full_url() -> None:
    read = read_bundle(bundle("transaction", encounter(encounter_id="a"), encounter()))
    assert read.type == "transaction"
    assert [e.full_url for e in read.entries] == [
        "urn:uuid:00000000-0000-4000-8000-000000000000",
        "urn:uuid:00000000-0000-4000-8000-000000000001",
    ]
    assert json.loads(read.entries[0].raw) == encounter(encounter_id="a")
    parsed = read_encounter(read.entries[0].raw, "RCB", read.entries[0].full_url).parsed
    assert isinstance(parsed, AdtMessage) and parsed.header.control_id.startswith("urn:uuid:")


def test_without_full_urls_and_requests_entries_are_still_read() -> None:
    shape = bundle("batch", encounter(), urls=False)
    del shape["entry"][0]["request"]
    assert [e.full_url for e in read_bundle(shape).entries] == [None]
    assert read_bundle({"resourceType": "Bundle", "type": "batch"}).entries == ()


@pytest.mark.parametrize(
    ("shape", "expression"),
    [
        ({"resourceType": "Encounter"}, "Bundle.resourceType"),
        ({"resourceType": "Bundle", "type": "searchset"}, "Bundle.type"),
        ({"resourceType": "Bundle", "type": "batch", "entry": {}}, "Bundle.entry"),
        ({"resourceType": "Bundle", "type": "batch", "entry": [1]}, "Bundle.entry[0].resource"),
        (
            {"resourceType": "Bundle", "type": "batch", "entry": [{"resource": {}, "fullUrl": 1}]},
            "Bundle.entry[0].fullUrl",
        ),
        (
            {
                "resourceType": "Bundle",
                "type": "transaction",
                "entry": [{"resource": {}, "request": {"method": "GET", "url": "Encounter"}}],
            },
            "Bundle.entry[0].request",
        ),
        (
            {"resourceType": "Bundle", "type": "batch", "entry": [{"resource": {}}] * 501},
            "Bundle.entry",
        ),
    ],
)
def test_wrong_shapes_are_refused_naming_the_element(shape: Any, expression: str) -> None:
    with pytest.raises(FhirError) as refused:
        read_bundle(shape)
    assert (refused.value.http_status, refused.value.expression) == (400, expression)
    assert MAX_ENTRIES == 500


def test_paths_into_an_entry() -> None:
    assert in_entry("Encounter.class", 2) == "Bundle.entry[2].resource.class"
    assert in_entry("Encounter", 0) == "Bundle.entry[0].resource"
    assert in_entry("Bundle.entry[1].request", 3) == "Bundle.entry[1].request"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["resourceType", "type", "entry", "resource", "fullUrl", "request"])
            | st.text(max_size=8),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_is_read_or_refused_never_raised(value: Any) -> None:
    """What the endpoint does with a body: a Bundle's entries, each read, or a FhirError."""
    try:
        read = read_bundle(load_json(json.dumps(value), "Bundle"))
    except FhirError as error:
        assert 400 <= error.http_status < 500
        return
    for entry in read.entries:
        parsed = read_encounter(entry.raw, "RCB", entry.full_url).parsed
        assert isinstance(parsed, AdtMessage | FhirError)

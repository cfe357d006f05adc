import json
from uuid import uuid4

import pytest
from pydantic import ValidationError

from ensemble_contracts.generate import Operation, asyncapi, drifted
from ensemble_contracts.hospital import EncounterEvent, EncounterEventType
from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS, MAIN_TOPICS, TOPICS, topic


def test_committed_schemas_and_asyncapi_match_the_models() -> None:
    assert drifted() == [], "run `make contracts` and commit the result"


def test_every_topic_lists_the_event_types_its_model_carries() -> None:
    assert HOSPITAL_ENCOUNTERS.event_types == EncounterEventType.ALL
    assert all(t.event_types for t in TOPICS)
    assert topic("hospital.encounters.v1.dlq").event_types == ("dead_letter",)


def test_asyncapi_operations_are_the_plain_data_it_is_given() -> None:
    admitted = ("encounter.admitted",)
    receive = Operation(
        "scoring", "hospital.encounters.v1", "receive", "scoring.encounters", admitted
    )
    operations = asyncapi([Operation("hospital-feed", "hospital.encounters.v1", "send"), receive])
    assert operations["operations"]["scoring_encounters_receives_hospital_encounters_v1"] == {
        "action": "receive",
        "channel": {"$ref": "#/channels/hospital_encounters_v1"},
        "messages": [{"$ref": "#/channels/hospital_encounters_v1/messages/EncounterEvent"}],
        "summary": "Consumed by scoring as group `scoring.encounters`.",
        "x-consumer-group": "scoring.encounters",
        "x-event-types": ["encounter.admitted"],
        "x-service": "scoring",
    }
    assert operations["operations"]["hospital_feed_sends_hospital_encounters_v1"]["action"] == (
        "send"
    )


def test_every_main_topic_has_a_dead_letter_topic() -> None:
    names = {t.name for t in TOPICS}
    assert all(f"{t.name}.dlq" in names for t in MAIN_TOPICS)
    assert topic("hospital.encounters.v1.dlq").partitions == 1


def test_patient_topics_have_enough_partitions_for_per_patient_ordering() -> None:
    assert all(t.partitions >= 6 for t in MAIN_TOPICS)


def _encounter(**overrides: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "event_type": EncounterEventType.ADMITTED,
        "producer": "hospital-feed",
        "nhs_number": "9990000018",
        "sending_facility": "RCB",
        "trigger_event": "A01",
        "source_message_id": "MSG1",
    }
    return fields | overrides


def test_readers_ignore_unknown_fields_so_producers_can_add_optional_ones() -> None:
    raw = json.dumps(_encounter(added_in_a_later_release="x"))
    event = EncounterEvent.from_json(raw)
    assert event.nhs_number == "9990000018"
    assert not hasattr(event, "added_in_a_later_release")


def test_a_caused_event_keeps_the_correlation_and_points_at_its_cause() -> None:
    cause = EncounterEvent.model_validate(_encounter(correlation_id=str(uuid4())))
    fields = cause.caused(producer="scoring")
    assert fields["correlation_id"] == cause.correlation_id
    assert fields["causation_id"] == cause.event_id


def test_nhs_number_key_must_be_ten_digits() -> None:
    with pytest.raises(ValidationError):
        EncounterEvent.model_validate(_encounter(nhs_number="12345"))

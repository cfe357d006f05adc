"""The service map from definitions alone: no service package is installed in this tier."""

from pathlib import Path
from typing import Any

import pytest

from ensemble_contracts.hospital import EncounterEvent, EncounterEventType
from ensemble_contracts.scoring import HotOnboardingEventType
from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS, HOT_ONBOARDING, REFERRALS, TopicSpec
from ensemble_devkit import service_map
from ensemble_devkit.service_map import END, START, ServiceMapError
from ensemble_runtime.config import ServiceSettings
from ensemble_runtime.definition import ServiceDefinition, Subscription
from ensemble_runtime.unit_of_work import UnitOfWork

Uow = UnitOfWork[ServiceSettings]
Definition = ServiceDefinition[ServiceSettings, Uow]


def on_encounter(uow: Uow, event: EncounterEvent) -> None:
    """Declared, never run."""


def define(
    name: str, publishes: list[TopicSpec[Any]], subscriptions: list[Subscription[Any, Uow]]
) -> Definition:
    return ServiceDefinition(
        name=name,
        title=name,
        settings=ServiceSettings,
        unit_of_work=Uow,
        migrations=Path("unused"),
        publishes=publishes,
        subscriptions=subscriptions,
    )


ADMITTED_ONLY = Subscription(
    topic=HOSPITAL_ENCOUNTERS,
    group="watcher.admissions",
    handlers={EncounterEventType.ADMITTED: on_encounter},
)
FEED = define("hospital-feed", [HOSPITAL_ENCOUNTERS], [])
WATCHER = define("watcher", [], [ADMITTED_ONLY])


def row(table: str, topic: str) -> str:
    return next(line for line in table.splitlines() if line.startswith(f"| `{topic}`"))


def test_a_topic_row_names_producer_consumer_group_events_and_handler_file() -> None:
    table = service_map.topic_table([FEED, WATCHER])
    assert row(table, HOSPITAL_ENCOUNTERS.name) == (
        "| `hospital.encounters.v1` | hospital-feed "
        "| watcher / `watcher.admissions`: admitted "
        "([test_service_map](libs/devkit/tests/test_service_map.py)) "
        "| admitted, transferred, discharged, ae_attendance, admission_cancelled, "
        "discharge_cancelled, transfer_cancelled, leave_started, leave_ended, class_changed, "
        "practice_changed, merged |"
    )
    assert row(table, REFERRALS.name) == (
        "| `referral.referrals.v1` | (none) | (none yet) "
        "| proposed, requested, accepted, declined, withdrawn, triaged, consent_recorded, "
        "assigned, activated, completed, discharged, sla_breached, patient_merged |"
    )


def test_a_consumer_of_every_event_type_reads_all() -> None:
    everything = Subscription(
        topic=HOSPITAL_ENCOUNTERS,
        group="watcher.everything",
        handlers=dict.fromkeys(EncounterEventType.ALL, on_encounter),
    )
    table = service_map.topic_table([define("watcher", [], [everything])])
    assert "watcher / `watcher.everything`: all (" in row(table, HOSPITAL_ENCOUNTERS.name)


def test_the_flowchart_draws_producer_to_topic_and_topic_to_group() -> None:
    chart = service_map.flowchart([FEED, WATCHER])
    assert "  svc_hospital_feed --> topic_hospital_encounters_v1" in chart
    assert '  topic_hospital_encounters_v1 -->|"watcher.admissions"| svc_watcher' in chart


def test_operations_send_receive_and_dead_letter() -> None:
    operations = {op.id: op for op in service_map.operations([FEED, WATCHER])}
    assert set(operations) == {
        "hospital_feed_sends_hospital_encounters_v1",
        "watcher_admissions_receives_hospital_encounters_v1",
        "watcher_sends_hospital_encounters_v1_dlq",  # the runtime dead-letters for the group
    }
    receive = operations["watcher_admissions_receives_hospital_encounters_v1"]
    assert (receive.group, receive.event_types) == ("watcher.admissions", ("encounter.admitted",))


def test_the_readme_changes_between_the_markers_only() -> None:
    readme = f"intro\n{START}\nold map\n{END}\noutro\n"
    rendered = service_map.with_map(readme, [FEED, WATCHER])
    assert rendered.startswith(f"intro\n{START}\n") and rendered.endswith(f"{END}\noutro\n")
    assert "old map" not in rendered and "watcher.admissions" in rendered
    assert service_map.with_map(rendered, [FEED, WATCHER]) == rendered
    assert service_map.with_map(rendered, [FEED]) != rendered
    with pytest.raises(ServiceMapError, match="markers"):
        service_map.with_map("no markers", [FEED])


def test_a_handler_for_an_event_type_the_topic_does_not_carry_is_refused() -> None:
    typo = Subscription(
        topic=HOSPITAL_ENCOUNTERS,
        group="watcher.typo",
        handlers={HotOnboardingEventType.TRIGGERED: on_encounter},
    )
    with pytest.raises(ServiceMapError, match=r"hot_onboarding\.triggered"):
        service_map.operations([define("watcher", [], [typo])])


def test_the_definitions_must_agree_with_the_producer_in_topics_py() -> None:
    with pytest.raises(ServiceMapError, match=r"topics\.py says scoring"):
        service_map.operations([define("referral", [HOT_ONBOARDING], [])])

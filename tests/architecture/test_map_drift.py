"""The README topic map, the AsyncAPI operations and the settings tables are generated from the
definitions.

`make lint` runs `ensemble-docs --check`; these tests show what that check guards.
"""

from pathlib import Path

from ensemble_contracts.generate import ASYNCAPI
from ensemble_contracts.scoring import ScoreChanged, ScoreEventType
from ensemble_contracts.topics import SCORE_CHANGES
from ensemble_devkit import service_map, settings_docs
from ensemble_runtime.config import ServiceSettings
from ensemble_runtime.definition import ServiceDefinition, Subscription
from ensemble_runtime.unit_of_work import UnitOfWork

Uow = UnitOfWork[ServiceSettings]


def notice_band(uow: Uow, event: ScoreChanged) -> None:
    """A new consumer's handler: never run here, only declared."""


NEW_CONSUMER = ServiceDefinition(
    name="dashboard",
    title="a consumer nobody regenerated the map for",
    settings=ServiceSettings,
    unit_of_work=Uow,
    migrations=Path("unused"),
    subscriptions=[
        Subscription(
            topic=SCORE_CHANGES,
            group="dashboard.score-changes",
            handlers={ScoreEventType.CHANGED: notice_band},
        )
    ],
)


def test_the_committed_map_matches_the_definitions() -> None:
    assert service_map.drifted(service_map.load_definitions()) == [], "run `make contracts`"


def test_adding_a_consumer_without_regenerating_fails_the_check() -> None:
    definitions = [*service_map.load_definitions(), NEW_CONSUMER]
    # The new service's settings get a table of their own in docs/settings.md too.
    assert set(service_map.drifted(definitions)) == {
        service_map.README,
        ASYNCAPI,
        settings_docs.SETTINGS_MD,
    }
    expected = service_map.expected_files(definitions)
    assert "dashboard / `dashboard.score-changes`: all" in expected[service_map.README]
    assert '"x-consumer-group": "dashboard.score-changes"' in expected[ASYNCAPI]

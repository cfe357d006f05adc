"""The scoring service, declared: what it publishes, consumes and serves."""

from pathlib import Path

from ensemble_contracts.hospital import EncounterEventType
from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS, HOT_ONBOARDING, SCORE_CHANGES
from ensemble_runtime.definition import ServiceDefinition, Subscription
from scoring.adapters.unit_of_work import ScoringUnitOfWork
from scoring.config import Settings
from scoring.entrypoints import http
from scoring.service_layer import handlers
from scoring.service_layer.commands import LoadProfiles

DEFINITION = ServiceDefinition(
    name="scoring",
    title="Ensemble scoring",
    settings=Settings,
    unit_of_work=ScoringUnitOfWork,
    migrations=Path(__file__).parent / "adapters" / "migrations",
    publishes=[SCORE_CHANGES, HOT_ONBOARDING],
    subscriptions=[
        # Every encounter is recorded and the patient rescored; A11 cancels its visit.
        Subscription(
            topic=HOSPITAL_ENCOUNTERS,
            group="scoring.encounters",
            handlers=dict.fromkeys(EncounterEventType.ALL, handlers.handle_encounter),
        ),
    ],
    commands={LoadProfiles: handlers.load_profiles},
    routers=[http.router],
)

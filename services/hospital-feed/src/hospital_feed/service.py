"""hospital-feed, declared: what it publishes, consumes, accepts and runs."""

from pathlib import Path

from ensemble_contracts.hospital import EncounterEventType
from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS
from ensemble_runtime.definition import ServiceDefinition, Subscription
from hospital_feed.adapters.unit_of_work import HospitalFeedUnitOfWork
from hospital_feed.config import Settings
from hospital_feed.entrypoints import http
from hospital_feed.entrypoints.mllp import mllp_listeners
from hospital_feed.service_layer import handlers
from hospital_feed.service_layer.commands import ReceiveHl7, ReprocessMessage

DEFINITION = ServiceDefinition(
    name="hospital-feed",
    title="Ensemble hospital-feed",
    settings=Settings,
    unit_of_work=HospitalFeedUnitOfWork,
    migrations=Path(__file__).parent / "adapters" / "migrations",
    publishes=[HOSPITAL_ENCOUNTERS],
    subscriptions=[
        # Its own encounters, projected to each registered practice's alerts.
        Subscription(
            topic=HOSPITAL_ENCOUNTERS,
            group="hospital-feed.alerts",
            handlers={
                EncounterEventType.ADMITTED: handlers.project_alert,
                EncounterEventType.TRANSFERRED: handlers.project_alert,
                EncounterEventType.DISCHARGED: handlers.project_alert,
                EncounterEventType.AE_ATTENDANCE: handlers.project_alert,
                EncounterEventType.ADMISSION_CANCELLED: handlers.project_alert,
                EncounterEventType.DISCHARGE_CANCELLED: handlers.project_alert,
            },
        )
    ],
    commands={
        ReceiveHl7: handlers.receive_hl7,
        ReprocessMessage: handlers.reprocess,
    },
    routers=[http.router],
    components=[mllp_listeners],  # one MLLP listener per sending trust's port
)

"""The scoring service, declared: what it publishes, consumes and serves."""

from pathlib import Path

from ensemble_contracts.hospital import EncounterEventType
from ensemble_contracts.referral import ReferralEventType
from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS, HOT_ONBOARDING, REFERRALS, SCORE_CHANGES
from ensemble_runtime.definition import ServiceDefinition, Subscription
from scoring.adapters.unit_of_work import ScoringUnitOfWork
from scoring.config import Settings
from scoring.entrypoints import http
from scoring.entrypoints.active_model import active_model_check
from scoring.entrypoints.ageing import hospital_use_ageing
from scoring.service_layer import ageing, handlers, models
from scoring.service_layer.commands import (
    ActivateModel,
    AgeHospitalUse,
    LoadProfiles,
    RescorePage,
)

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
        # Referral statuses, for the worklist's caseload filter (no score depends on them).
        Subscription(
            topic=REFERRALS,
            group="scoring.referrals",
            handlers=dict.fromkeys(
                (
                    ReferralEventType.PROPOSED,
                    ReferralEventType.REQUESTED,
                    ReferralEventType.ACCEPTED,
                    ReferralEventType.DECLINED,
                    ReferralEventType.WITHDRAWN,
                ),
                handlers.project_referral,
            ),
        ),
    ],
    commands={
        LoadProfiles: handlers.load_profiles,
        ActivateModel: models.activate_model,
        RescorePage: models.rescore_page,
        AgeHospitalUse: ageing.age_hospital_use,
    },
    routers=[http.router],
    components=[active_model_check, hospital_use_ageing],
)

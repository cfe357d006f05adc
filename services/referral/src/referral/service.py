"""referral, declared: what it consumes and publishes, its commands, its HTTP API."""

from pathlib import Path

from ensemble_contracts.hospital import EncounterEventType
from ensemble_contracts.scoring import HotOnboardingEventType
from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS, HOT_ONBOARDING, REFERRALS
from ensemble_runtime.definition import ServiceDefinition, Subscription
from referral.adapters.unit_of_work import ReferralUnitOfWork
from referral.config import Settings
from referral.entrypoints import http
from referral.service_layer import handlers
from referral.service_layer.commands import AcceptReferral, DeclineReferral, RequestReferral

DEFINITION = ServiceDefinition(
    name="referral",
    title="Ensemble referral",
    settings=Settings,
    unit_of_work=ReferralUnitOfWork,
    migrations=Path(__file__).parent / "adapters" / "migrations",
    publishes=[REFERRALS],
    subscriptions=[
        # Hot-onboarding triggers (and their withdrawals) from scoring. A trigger also
        # names the patient's registered practice.
        Subscription(
            topic=HOT_ONBOARDING,
            group="referral.hot-onboarding",
            handlers={
                HotOnboardingEventType.TRIGGERED: handlers.on_hot_onboarding_triggered,
                HotOnboardingEventType.WITHDRAWN: handlers.on_hot_onboarding_withdrawn,
            },
        ),
        # Which practice each patient is registered with (PD1-3 of every encounter), so a
        # practice acts only for its own patients. Nothing else of an encounter is kept.
        Subscription(
            topic=HOSPITAL_ENCOUNTERS,
            group="referral.registrations",
            handlers={event_type: handlers.on_encounter for event_type in EncounterEventType.ALL},
        ),
    ],
    commands={
        RequestReferral: handlers.request_referral,
        AcceptReferral: handlers.accept,
        DeclineReferral: handlers.decline,
    },
    routers=[http.router],
)

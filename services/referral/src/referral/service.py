"""referral, declared: what it consumes and publishes, its commands, its HTTP API."""

from pathlib import Path

from ensemble_contracts.hospital import EncounterEventType
from ensemble_contracts.scoring import HotOnboardingEventType
from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS, HOT_ONBOARDING, REFERRALS
from ensemble_runtime.definition import ServiceDefinition, Subscription
from referral.adapters.unit_of_work import ReferralUnitOfWork
from referral.config import Settings
from referral.entrypoints import http, lifecycle_http
from referral.entrypoints.sla_watch import sla_watch
from referral.service_layer import handlers, lifecycle, notes
from referral.service_layer.commands import (
    AcceptReferral,
    ActivateReferral,
    AddNote,
    AssignReferral,
    CompleteReferral,
    DeclineReferral,
    DischargeReferral,
    FindSlaBreaches,
    RecordConsent,
    RequestReferral,
    TriageReferral,
    WithdrawReferral,
)

# The encounter types whose PD1-3 teaches a registration (those referral read before v3).
REGISTERING_ENCOUNTERS = (
    EncounterEventType.ADMITTED,
    EncounterEventType.TRANSFERRED,
    EncounterEventType.DISCHARGED,
    EncounterEventType.AE_ATTENDANCE,
    EncounterEventType.ADMISSION_CANCELLED,
    EncounterEventType.DISCHARGE_CANCELLED,
)

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
        # practice acts only for its own patients, and A40 merges that move a retired NHS
        # number's referrals. Nothing else of an encounter is kept; the other types added
        # in version 3 (leave, class changes, cancelled transfers) are skipped.
        Subscription(
            topic=HOSPITAL_ENCOUNTERS,
            group="referral.registrations",
            handlers={
                **dict.fromkeys(REGISTERING_ENCOUNTERS, handlers.on_encounter),
                EncounterEventType.PRACTICE_CHANGED: lifecycle.on_practice_changed,
                EncounterEventType.MERGED: lifecycle.on_patient_merged,
            },
        ),
    ],
    commands={
        RequestReferral: handlers.request_referral,
        AcceptReferral: handlers.accept,
        DeclineReferral: handlers.decline,
        TriageReferral: lifecycle.triage,
        RecordConsent: lifecycle.record_consent,
        AssignReferral: lifecycle.assign,
        ActivateReferral: lifecycle.activate,
        CompleteReferral: lifecycle.complete,
        DischargeReferral: lifecycle.discharge,
        WithdrawReferral: lifecycle.withdraw_by_gp,
        AddNote: notes.add_note,
        FindSlaBreaches: lifecycle.find_sla_breaches,
    },
    # The lifecycle's router first: its /referrals/worklist must win over /referrals/{id}.
    routers=[lifecycle_http.router, http.router],
    components=[sla_watch],
)

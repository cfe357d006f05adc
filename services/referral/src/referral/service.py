"""referral, declared: what it consumes and publishes, its commands, its HTTP API."""

from pathlib import Path

from ensemble_contracts.hospital import EncounterEventType
from ensemble_contracts.scheduling import AppointmentEventType
from ensemble_contracts.scoring import HotOnboardingEventType, ScoreEventType
from ensemble_contracts.topics import (
    APPOINTMENTS,
    HOSPITAL_ENCOUNTERS,
    HOT_ONBOARDING,
    REFERRALS,
    SCORE_CHANGES,
)
from ensemble_runtime.definition import ServiceDefinition, Subscription
from referral.adapters.unit_of_work import ReferralUnitOfWork
from referral.config import Settings
from referral.entrypoints import http, huddle_http, lifecycle_http, sheet_sign_in
from referral.entrypoints.sla_watch import sla_watch
from referral.service_layer import handlers, huddles, lifecycle, notes
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
from referral.service_layer.huddle_commands import AddAction, CompleteAction, OpenHuddle

# The encounter types whose PD1-3 teaches a registration (those referral read before v3).
REGISTERING_ENCOUNTERS = (
    EncounterEventType.ADMITTED,
    EncounterEventType.TRANSFERRED,
    EncounterEventType.DISCHARGED,
    EncounterEventType.AE_ATTENDANCE,
    EncounterEventType.ADMISSION_CANCELLED,
    EncounterEventType.DISCHARGE_CANCELLED,
)
# Of those, the ones a caseload patient's huddle hears about (they still teach registrations).
HUDDLE_ENCOUNTERS = (
    EncounterEventType.ADMITTED,
    EncounterEventType.AE_ATTENDANCE,
    EncounterEventType.DISCHARGED,
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
        # number's referrals. Admissions, A&E attendances and discharges of caseload
        # patients are also kept as huddle signals (kind, time, trust); nothing else of an
        # encounter is kept, and the other types added in version 3 (leave, class changes,
        # cancelled transfers) are skipped.
        Subscription(
            topic=HOSPITAL_ENCOUNTERS,
            group="referral.registrations",
            handlers={
                **dict.fromkeys(REGISTERING_ENCOUNTERS, handlers.on_encounter),
                **dict.fromkeys(HUDDLE_ENCOUNTERS, huddles.on_encounter),
                EncounterEventType.PRACTICE_CHANGED: lifecycle.on_practice_changed,
                EncounterEventType.MERGED: lifecycle.on_patient_merged,
            },
        ),
        # Band rises of caseload patients, for their team's huddle (falls are not news).
        Subscription(
            topic=SCORE_CHANGES,
            group="referral.score-changes",
            handlers={ScoreEventType.CHANGED: huddles.on_score_changed},
        ),
        # Missed sessions (and the second DNA's escalation) of caseload patients, for huddles.
        Subscription(
            topic=APPOINTMENTS,
            group="referral.appointments",
            handlers=dict.fromkeys(
                (AppointmentEventType.DID_NOT_ATTEND, AppointmentEventType.DNA_ESCALATED),
                huddles.on_appointment_missed,
            ),
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
        OpenHuddle: huddles.open_huddle,
        AddAction: huddles.add_action,
        CompleteAction: huddles.complete_action,
    },
    # The lifecycle's router first: its /referrals/worklist must win over /referrals/{id}.
    routers=[lifecycle_http.router, http.router, huddle_http.router, sheet_sign_in.router],
    components=[sla_watch],
)

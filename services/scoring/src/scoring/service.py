"""The scoring service, declared: what it publishes, consumes and serves."""

from pathlib import Path

from ensemble_contracts.hospital import EncounterEventType
from ensemble_contracts.referral import ReferralEventType
from ensemble_contracts.topics import (
    APPOINTMENTS,
    COHORT_MEMBERSHIP,
    HOSPITAL_ENCOUNTERS,
    HOT_ONBOARDING,
    REFERRALS,
    SCORE_CHANGES,
)
from ensemble_runtime.definition import ServiceDefinition, Subscription
from scoring.adapters.unit_of_work import ScoringUnitOfWork
from scoring.config import Settings
from scoring.entrypoints import cohort_http, http, outcomes_http, outcomes_sign_in
from scoring.entrypoints.active_model import active_model_check
from scoring.entrypoints.ageing import hospital_use_ageing
from scoring.entrypoints.cohorts import cohort_refresh
from scoring.service_layer import (
    ageing,
    cohorts,
    handlers,
    models,
    outcomes,
    patients,
    profile_loads,
)
from scoring.service_layer.commands import (
    ActivateModel,
    AgeHospitalUse,
    LoadProfiles,
    RefreshCohorts,
    RescorePage,
)

T = EncounterEventType
ENCOUNTER_TYPES = (
    T.ADMITTED,
    T.TRANSFERRED,
    T.DISCHARGED,
    T.AE_ATTENDANCE,
    T.ADMISSION_CANCELLED,
    T.DISCHARGE_CANCELLED,
    T.TRANSFER_CANCELLED,
    T.LEAVE_STARTED,
    T.LEAVE_ENDED,
    T.CLASS_CHANGED,
)

DEFINITION = ServiceDefinition(
    name="scoring",
    title="Ensemble scoring",
    settings=Settings,
    unit_of_work=ScoringUnitOfWork,
    migrations=Path(__file__).parent / "adapters" / "migrations",
    publishes=[SCORE_CHANGES, HOT_ONBOARDING, COHORT_MEMBERSHIP],
    subscriptions=[
        # Every encounter is recorded and the patient rescored; A11 cancels its visit, A12 and
        # A13 the transfer or discharge they undo. A merge moves the retired number's history;
        # a practice change moves the patient on the worklists. Types added later are skipped.
        Subscription(
            topic=HOSPITAL_ENCOUNTERS,
            group="scoring.encounters",
            handlers={
                **dict.fromkeys(ENCOUNTER_TYPES, handlers.handle_encounter),
                EncounterEventType.MERGED: patients.handle_merge,
                EncounterEventType.PRACTICE_CHANGED: patients.handle_practice_changed,
            },
        ),
        # Referral statuses, for the worklist's caseload filter (no score depends on them);
        # activations, ends and merges also keep the outcomes report's enrolments.
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
                    # Schema version 2: every type that changes the status or the owner.
                    ReferralEventType.TRIAGED,
                    ReferralEventType.CONSENT_RECORDED,
                    ReferralEventType.ASSIGNED,
                    ReferralEventType.ACTIVATED,
                    ReferralEventType.COMPLETED,
                    ReferralEventType.DISCHARGED,
                    ReferralEventType.PATIENT_MERGED,
                ),
                handlers.project_referral,
            )
            | dict.fromkeys(outcomes.REFERRAL_TYPES, outcomes.on_referral),
        ),
        # Attended sessions: who is enrolled in a programme since when (the outcomes report).
        Subscription(
            topic=APPOINTMENTS,
            group="scoring.appointments",
            handlers=dict.fromkeys(outcomes.APPOINTMENT_TYPES, outcomes.on_appointment),
        ),
    ],
    commands={
        LoadProfiles: profile_loads.load_profiles,
        ActivateModel: models.activate_model,
        RescorePage: models.rescore_page,
        AgeHospitalUse: ageing.age_hospital_use,
        RefreshCohorts: cohorts.refresh_cohorts,
    },
    routers=[http.router, cohort_http.router, outcomes_http.router, outcomes_sign_in.router],
    components=[active_model_check, hospital_use_ageing, cohort_refresh],
)

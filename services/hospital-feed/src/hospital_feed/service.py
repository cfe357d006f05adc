"""hospital-feed, declared: what it publishes, consumes, accepts and runs."""

from pathlib import Path

from ensemble_contracts.referral import ReferralEventType
from ensemble_contracts.scoring import HotOnboardingEventType, ScoreEventType
from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS, HOT_ONBOARDING, REFERRALS, SCORE_CHANGES
from ensemble_runtime.definition import ServiceDefinition, Subscription
from hospital_feed.adapters import access
from hospital_feed.adapters.message_retention import raw_message_retention
from hospital_feed.adapters.unit_of_work import HospitalFeedUnitOfWork
from hospital_feed.config import Settings
from hospital_feed.entrypoints import (
    fhir_http,
    http,
    pages,
    rosters_http,
    staff_messages,
    staff_pages,
    webhooks_http,
)
from hospital_feed.entrypoints.alert_stream import alert_feeds
from hospital_feed.entrypoints.channel_watch import channel_watches
from hospital_feed.entrypoints.mllp import mllp_listeners
from hospital_feed.entrypoints.webhook_dispatcher import webhook_dispatchers
from hospital_feed.service_layer import access as access_commands
from hospital_feed.service_layer import fhir_intake, handlers
from hospital_feed.service_layer import message_browser as browser_commands
from hospital_feed.service_layer import rosters as roster_commands
from hospital_feed.service_layer import webhooks as webhook_commands
from hospital_feed.service_layer.commands import (
    AcknowledgeAlert,
    ReceiveHl7,
    ReceiveOversized,
    ReprocessMessage,
)

DEFINITION = ServiceDefinition(
    name="hospital-feed",
    title="Ensemble hospital-feed",
    settings=Settings,
    unit_of_work=HospitalFeedUnitOfWork,
    migrations=Path(__file__).parent / "adapters" / "migrations",
    publishes=[HOSPITAL_ENCOUNTERS],
    subscriptions=[
        # Its own encounters, projected to each registered practice's alerts.
        # With `alerts_at_intake` (the default) intake already projected each one, in the
        # transaction that published it, and this group finds it in its inbox.
        Subscription(
            topic=HOSPITAL_ENCOUNTERS,
            group=handlers.ALERTS_GROUP,
            handlers=dict.fromkeys(handlers.ALERT_EVENT_TYPES, handlers.project_alert),
        ),
        # What the alerts show beside the encounter: the patient's risk band (from scoring,
        # never by calling it) and referral caseloads; and scoring's hot onboarding proposals,
        # alerts of their own.
        Subscription(
            topic=SCORE_CHANGES,
            group="hospital-feed.risk",
            handlers={ScoreEventType.CHANGED: handlers.project_risk},
        ),
        Subscription(
            topic=REFERRALS,
            group="hospital-feed.caseloads",
            handlers={
                ReferralEventType.PROPOSED: handlers.project_caseload,
                ReferralEventType.REQUESTED: handlers.project_caseload,
                ReferralEventType.ACCEPTED: handlers.project_caseload,
                ReferralEventType.DECLINED: handlers.project_caseload,
                ReferralEventType.WITHDRAWN: handlers.project_caseload,
                # Schema version 2: every type that changes the status or the owner.
                ReferralEventType.TRIAGED: handlers.project_caseload,
                ReferralEventType.CONSENT_RECORDED: handlers.project_caseload,
                ReferralEventType.ASSIGNED: handlers.project_caseload,
                ReferralEventType.ACTIVATED: handlers.project_caseload,
                ReferralEventType.COMPLETED: handlers.project_caseload,
                ReferralEventType.DISCHARGED: handlers.project_caseload,
                ReferralEventType.PATIENT_MERGED: handlers.project_caseload,
            },
        ),
        Subscription(
            topic=HOT_ONBOARDING,
            group="hospital-feed.hot-onboarding",
            handlers={
                HotOnboardingEventType.TRIGGERED: handlers.project_hot_onboarding,
                HotOnboardingEventType.WITHDRAWN: handlers.project_hot_onboarding,
            },
        ),
    ],
    commands={
        ReceiveHl7: handlers.receive_hl7,
        ReceiveOversized: handlers.receive_oversized,
        ReprocessMessage: handlers.reprocess,
        AcknowledgeAlert: handlers.acknowledge_alert,
        **access_commands.HANDLERS,  # practice users and tokens (the access CLI)
        **webhook_commands.HANDLERS,  # webhook endpoints, preferences, planning, attempts
        **roster_commands.HANDLERS,  # roster uploads (HTTP and the access CLI)
        **browser_commands.HANDLERS,  # the staff message browser (API, page, messages CLI)
        **fhir_intake.HANDLERS,  # FHIR R4 Encounters and Bundles of them (POST /v1/fhir)
    },
    # Practice tokens: the env's (HOSPITAL_FEED_PRACTICE_TOKENS), then the users' tokens kept
    # hashed in this store (adapters/access.py; issued by `ensemble-hospital-feed-access`).
    credential_lookups={"practice": access.practice_caller},
    # The JSON API; the practice page (/practice/); webhook endpoints and preferences;
    # rosters and unrouted alerts; the staff message browser's API and page (/staff/).
    routers=[
        http.router,
        fhir_http.router,
        pages.router,
        webhooks_http.router,
        rosters_http.router,
        staff_messages.router,
        staff_pages.router,
    ],
    # One MLLP listener per sending trust's port; the one feed of the alert streams; the
    # webhook dispatcher (plans deliveries from the alerts and sends them); the channel watch
    # (each sender's quiet time as a gauge, a warning when it is quiet in working hours).
    # Raw message retention: old texts cut to their header (the runtime prunes the outbox
    # and inbox of every service).
    components=[
        mllp_listeners,
        alert_feeds,
        webhook_dispatchers,
        channel_watches,
        raw_message_retention,
    ],
)

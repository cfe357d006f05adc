"""What referral consumes: hot-onboarding triggers from scoring."""

from typing import Any

from ensemble_contracts.topics import HOT_ONBOARDING
from ensemble_runtime.consumer import Subscription
from referral.service_layer.handlers import HOT_ONBOARDING_HANDLERS

SUBSCRIPTIONS: list[Subscription[Any]] = [
    Subscription(
        topic=HOT_ONBOARDING, group="referral.hot-onboarding", handlers=HOT_ONBOARDING_HANDLERS
    )
]

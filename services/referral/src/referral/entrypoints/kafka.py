"""What referral consumes: hot-onboarding triggers (and their withdrawals) from scoring."""

from typing import Any

from ensemble_contracts.topics import HOT_ONBOARDING
from ensemble_runtime.consumer import Subscription
from referral.service_layer.handlers import EVENT_HANDLERS

HOT_ONBOARDING_GROUP = "referral.hot-onboarding"

SUBSCRIPTIONS: list[Subscription[Any]] = [
    Subscription(topic=HOT_ONBOARDING, group=HOT_ONBOARDING_GROUP, handlers=EVENT_HANDLERS)
]

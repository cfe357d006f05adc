"""What scheduling consumes: the referral lifecycle."""

from typing import Any

from ensemble_contracts.topics import REFERRALS
from ensemble_runtime.consumer import Subscription
from scheduling.service_layer.handlers import REFERRAL_HANDLERS

SUBSCRIPTIONS: list[Subscription[Any]] = [
    Subscription(topic=REFERRALS, group="scheduling.referrals", handlers=REFERRAL_HANDLERS)
]

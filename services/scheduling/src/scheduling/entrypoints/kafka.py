"""What scheduling consumes: the referral lifecycle."""

from typing import Any

from ensemble_contracts.topics import REFERRALS
from ensemble_runtime.consumer import Subscription
from scheduling.domain.slots import SlotPolicy
from scheduling.service_layer.handlers import Clock, referral_handlers, utc_now

GROUP = "scheduling.referrals"


def subscriptions(policy: SlotPolicy, clock: Clock = utc_now) -> list[Subscription[Any]]:
    """The handlers need the slot policy from settings, so subscriptions are built, not fixed."""
    return [Subscription(topic=REFERRALS, group=GROUP, handlers=referral_handlers(policy, clock))]

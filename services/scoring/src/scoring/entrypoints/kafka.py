"""What scoring consumes: every hospital encounter, as consumer group `scoring.encounters`."""

from typing import Any

from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS
from ensemble_runtime.consumer import Subscription
from scoring.config import Settings
from scoring.service_layer.handlers import HotOnboardingPolicy, event_handlers

GROUP = "scoring.encounters"


def subscriptions(settings: Settings) -> list[Subscription[Any]]:
    policy = HotOnboardingPolicy(ae_min_band=settings.hot_onboarding_ae_min_band)
    return [Subscription(topic=HOSPITAL_ENCOUNTERS, group=GROUP, handlers=event_handlers(policy))]


SUBSCRIPTIONS = subscriptions(Settings())

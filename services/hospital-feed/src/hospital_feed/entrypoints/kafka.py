"""What hospital-feed consumes: its own encounters, to keep practice alerts."""

from typing import Any

from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS
from ensemble_runtime.consumer import Subscription
from hospital_feed.service_layer.handlers import ALERT_HANDLERS, ALERTS_GROUP

SUBSCRIPTIONS: list[Subscription[Any]] = [
    Subscription(topic=HOSPITAL_ENCOUNTERS, group=ALERTS_GROUP, handlers=ALERT_HANDLERS)
]

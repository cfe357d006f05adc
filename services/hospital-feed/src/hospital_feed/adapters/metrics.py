"""hospital-feed's own Prometheus metrics (the runtime's are in ensemble_runtime.metrics)."""

from prometheus_client import Counter, Gauge

UNROUTED_ALERTS = Counter(
    "ensemble_hospital_feed_unrouted_alerts_total",
    "Encounters and hot onboardings no one could be told of: no usable PD1-3 practice and no "
    "roster listing the patient (each event once; staff see them at /v1/staff/alerts/unrouted).",
    ["kind", "reason"],
)
SENDER_QUIET_SECONDS = Gauge(
    "ensemble_hospital_feed_sender_quiet_seconds",
    "Seconds since each configured sender's last message arrived (staff corrections aside), "
    "set every minute by the channel watch (entrypoints/channel_watch.py); absent for a sender "
    "never heard from.",
    ["sender"],
)

"""Shared runtime for Ensemble services.

One place for what every service needs to be a good Kafka citizen: settings, logging with
PII redaction, the SQL store, the transactional outbox and its relay, the idempotent inbox,
dead letters, and the HTTP shell with health and metrics.
"""

"""Ensemble's event contracts: the only thing services share about each other."""

from ensemble_contracts.envelope import Envelope, PatientEvent
from ensemble_contracts.topics import TOPICS, TopicSpec, topic

__all__ = ["TOPICS", "Envelope", "PatientEvent", "TopicSpec", "topic"]

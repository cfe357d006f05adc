"""Retention policies: ages from settings, and the inbox outliving what Kafka can redeliver."""

import re
from datetime import timedelta

import pytest
from aiokafka import TopicPartition

from ensemble_runtime.ops_metrics import lag_of
from ensemble_runtime.retention import age_of, setting_name
from ensemble_runtime.topic_retention import check_inbox_outlives_topics

from ..support import settings

WEEK = timedelta(days=7)
TOPIC = "hospital.encounters.v1"


def test_a_retention_in_hours_is_an_age_and_zero_keeps_for_ever() -> None:
    assert age_of(36, "X") == timedelta(hours=36)
    assert age_of(0, "X") is None
    with pytest.raises(ValueError, match="X must be 0"):
        age_of(-1, "X")


def test_a_setting_is_named_as_its_environment_variable() -> None:
    assert setting_name(settings("sqlite://"), "inbox_retention_hours") == "INBOX_RETENTION_HOURS"


def test_the_inbox_must_outlive_the_topic_and_its_dead_letters_together() -> None:
    retentions = {TOPIC: WEEK, f"{TOPIC}.dlq": WEEK}
    check_inbox_outlives_topics(timedelta(days=15), [TOPIC], retentions)  # 15 > 7 + 7
    for too_short in (timedelta(days=14), timedelta(days=8)):
        with pytest.raises(ValueError, match=r"must exceed what hospital\.encounters\.v1"):
            check_inbox_outlives_topics(too_short, [TOPIC], retentions, "SCORING_INBOX")


def test_the_longest_kept_topic_decides() -> None:
    other = "referral.referrals.v1"
    retentions = {TOPIC: WEEK, f"{TOPIC}.dlq": WEEK, other: 4 * WEEK, f"{other}.dlq": WEEK}
    with pytest.raises(ValueError, match=re.escape(other)):
        check_inbox_outlives_topics(timedelta(days=30), [TOPIC, other], retentions)
    check_inbox_outlives_topics(timedelta(days=36), [TOPIC, other], retentions)


def test_a_topic_kept_for_ever_allows_no_inbox_pruning() -> None:
    retentions = {TOPIC: None, f"{TOPIC}.dlq": WEEK}
    with pytest.raises(ValueError, match="keeps events for ever"):
        check_inbox_outlives_topics(timedelta(days=3650), [TOPIC], retentions)
    check_inbox_outlives_topics(None, [TOPIC], retentions)  # inbox kept for ever: fine


def test_lag_counts_from_the_committed_offset_or_else_the_beginning() -> None:
    a, b, c = (TopicPartition(TOPIC, n) for n in range(3))
    ends = {a: 10, b: 7, c: 5}
    committed = {a: 4, b: -1}  # b: no commit yet; c: not even asked about
    assert lag_of(ends, committed, {b: 2, c: 0}) == {a: 6, b: 5, c: 5}
    assert lag_of({a: 3}, {a: 3}, {}) == {a: 0}

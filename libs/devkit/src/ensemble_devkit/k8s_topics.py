"""Strimzi `KafkaTopic` resources for Kubernetes, generated from the contracts registry.

`ensemble-docs` writes deploy/k8s/base/kafka/topics.yaml with the other generated files and
`ensemble-docs --check` (in `make lint`) fails when it drifts from `ensemble_contracts.TOPICS`:
a new topic or partition count in the contracts reaches the cluster only through this file.
"""

from pathlib import Path
from typing import Any

from ensemble_contracts.topics import TOPICS, TopicSpec
from ensemble_devkit import REPO_ROOT

TOPICS_YAML = REPO_ROOT / "deploy" / "k8s" / "base" / "kafka" / "topics.yaml"
CLUSTER = "ensemble"  # the Strimzi `Kafka` resource in deploy/k8s/base/kafka/cluster.yaml
REPLICAS = 3
MIN_INSYNC_REPLICAS = 2  # with acks=all: a write survives one broker lost, refused at two
# Dead letters wait for staff (ensemble-dlq replay): keep them longer than the events.
DEAD_LETTER_RETENTION_MS = 30 * 24 * 3600 * 1000


def topic_config(spec: TopicSpec[Any]) -> dict[str, str]:
    config = {"min.insync.replicas": str(MIN_INSYNC_REPLICAS)}
    if spec.name.endswith(".dlq"):
        config["retention.ms"] = str(DEAD_LETTER_RETENTION_MS)
    return config


def kafka_topic(spec: TopicSpec[Any]) -> str:
    lines = [
        "apiVersion: kafka.strimzi.io/v1beta2",
        "kind: KafkaTopic",
        "metadata:",
        f"  name: {spec.name}",  # dots are valid in a resource name; kept as the topic's name
        "  labels:",
        f"    strimzi.io/cluster: {CLUSTER}",
        "spec:",
        f"  topicName: {spec.name}",
        f"  partitions: {spec.partitions}",
        f"  replicas: {REPLICAS}",
        "  config:",
        *(f'    {key}: "{value}"' for key, value in topic_config(spec).items()),
    ]
    return "\n".join(lines) + "\n"


def topics_yaml() -> str:
    header = (
        "# Generated from ensemble_contracts.TOPICS by `make contracts` (ensemble-docs);\n"
        "# do not edit. `make lint` fails when it is out of date.\n"
    )
    return header + "---\n".join(kafka_topic(spec) for spec in TOPICS)


def expected_files() -> dict[Path, str]:
    return {TOPICS_YAML: topics_yaml()}

"""The Kubernetes manifests: topics as the contracts say, every Deployment probed, sized and
non-root, secrets only by reference, and core kinds valid against the Kubernetes schemas."""

from typing import Any

import kubernetes_validate
import pytest

from ensemble_contracts.topics import MAIN_TOPICS, TOPICS
from ensemble_devkit import k8s_topics, service_map
from ensemble_devkit.system import SERVICES

from .conftest import load_all

Resources = list[dict[str, Any]]
STRIMZI = "kafka.strimzi.io/v1beta2"


def of_kind(resources: Resources, kind: str) -> list[dict[str, Any]]:
    return [r for r in resources if r["kind"] == kind]


def test_the_committed_topics_file_is_the_generated_one():
    assert k8s_topics.TOPICS_YAML.read_text() == k8s_topics.topics_yaml(), (
        "deploy/k8s/base/kafka/topics.yaml is out of date: run `make contracts`"
    )


def test_kafka_topics_match_the_contracts_registry(rendered):
    _, resources = rendered
    topics = {t["spec"]["topicName"]: t for t in of_kind(resources, "KafkaTopic")}
    assert set(topics) == {spec.name for spec in TOPICS}
    for spec in TOPICS:
        topic = topics[spec.name]
        assert topic["apiVersion"] == STRIMZI
        assert topic["spec"]["partitions"] == spec.partitions
        assert topic["spec"]["replicas"] == 3
        assert topic["spec"]["config"]["min.insync.replicas"] == "2"
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "ensemble"


def test_kafka_is_kraft_with_node_pools_and_safe_defaults(rendered):
    _, resources = rendered
    [kafka] = of_kind(resources, "Kafka")
    [pool] = of_kind(resources, "KafkaNodePool")
    assert kafka["metadata"]["name"] == k8s_topics.CLUSTER
    assert kafka["metadata"]["annotations"]["strimzi.io/kraft"] == "enabled"
    assert kafka["metadata"]["annotations"]["strimzi.io/node-pools"] == "enabled"
    assert "zookeeper" not in kafka["spec"]
    config = kafka["spec"]["kafka"]["config"]
    assert config["min.insync.replicas"] == 2
    assert config["default.replication.factor"] == 3
    assert config["auto.create.topics.enable"] is False
    assert "topicOperator" in kafka["spec"]["entityOperator"]
    assert pool["metadata"]["labels"]["strimzi.io/cluster"] == k8s_topics.CLUSTER
    assert set(pool["spec"]["roles"]) == {"controller", "broker"}
    assert pool["spec"]["replicas"] >= 3  # replication 3 needs three brokers
    users = {u["metadata"]["name"] for u in of_kind(resources, "KafkaUser")}
    assert users == {s.name for s in SERVICES}


def test_every_deployment_is_probed_sized_and_non_root(rendered):
    _, resources = rendered
    deployments = {d["metadata"]["name"]: d for d in of_kind(resources, "Deployment")}
    assert set(deployments) == {s.name for s in SERVICES}
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] != 0, name
        [container] = pod["containers"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz", name
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
        assert "memory" in container["resources"]["limits"], name
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False, name
        assert security["capabilities"]["drop"] == ["ALL"], name
        assert security["readOnlyRootFilesystem"] is True, name


def test_each_service_has_its_service_budget_config_and_port(rendered):
    _, resources = rendered
    prefixes = {s.name: s.env_prefix for s in SERVICES}
    ports = {s.name: 8000 + s.port_offset for s in SERVICES}
    for deployment in of_kind(resources, "Deployment"):
        name = deployment["metadata"]["name"]
        selector = deployment["spec"]["selector"]["matchLabels"]
        [service] = [s for s in of_kind(resources, "Service") if s["metadata"]["name"] == name]
        [budget] = [
            b for b in of_kind(resources, "PodDisruptionBudget") if b["metadata"]["name"] == name
        ]
        [config] = [
            c for c in of_kind(resources, "ConfigMap") if c["metadata"]["name"] == name + "-config"
        ]
        # `kubectl apply -l app.kubernetes.io/name=<service>` deploys one service alone.
        for resource in (deployment, service, budget, config):
            assert resource["metadata"]["labels"]["app.kubernetes.io/name"] == name
        assert service["spec"]["selector"] == selector
        assert budget["spec"]["selector"]["matchLabels"] == selector
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        assert container["ports"][0]["containerPort"] == ports[name]
        assert config["data"][f"{prefixes[name]}_HTTP_PORT"] == str(ports[name])
        assert config["data"][f"{prefixes[name]}_HTTP_HOST"] == "0.0.0.0"  # noqa: S104
        assert container["envFrom"] == [{"configMapRef": {"name": name + "-config"}}]


def test_secrets_are_only_referenced(rendered):
    _, resources = rendered
    assert of_kind(resources, "Secret") == []
    for deployment in of_kind(resources, "Deployment"):
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e for e in container["env"]}
        prefix = next(s.env_prefix for s in SERVICES if s.name == deployment["metadata"]["name"])
        for setting in ("DATABASE_URL", "STAFF_TOKENS", "KAFKA_SASL_PASSWORD"):
            assert "secretKeyRef" in env[f"{prefix}_{setting}"]["valueFrom"], setting
        for variable in env.values():
            assert "value" not in variable, f"{variable['name']} is written in the manifest"


def test_replicas_stay_within_the_partitions(rendered):
    # Scaling rule (docs/runbook.md): more consumers than partitions sit idle.
    _, resources = rendered
    fewest = min(spec.partitions for spec in MAIN_TOPICS)
    for deployment in of_kind(resources, "Deployment"):
        assert 1 <= deployment["spec"]["replicas"] <= fewest


def test_core_kinds_are_valid_kubernetes(rendered):
    _, resources = rendered
    core = [r for r in resources if not r["apiVersion"].startswith("kafka.strimzi.io/")]
    assert {r["kind"] for r in core} == {
        "ConfigMap",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
    }
    for resource in core:
        kubernetes_validate.validate(resource, "1.37.0", strict=True)


def test_overlays_differ_where_they_should(rendered):
    name, resources = rendered
    namespaces = {r["metadata"].get("namespace") for r in resources}
    assert namespaces == {{"dev": "ensemble-dev", "prod": "ensemble"}[name]}
    images = {
        d["spec"]["template"]["spec"]["containers"][0]["image"]
        for d in of_kind(resources, "Deployment")
    }
    assert all(not image.endswith(":latest") for image in images)


@pytest.mark.parametrize("spec", TOPICS, ids=lambda s: s.name)
def test_generated_topic_parses_alone(spec):
    [topic] = load_all(k8s_topics.kafka_topic(spec))
    assert topic["metadata"]["name"] == spec.name


def test_ensemble_docs_writes_and_checks_the_topics_file():
    files = service_map.expected_files([])
    assert files[k8s_topics.TOPICS_YAML] == k8s_topics.topics_yaml()

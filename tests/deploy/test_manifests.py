"""The Kubernetes manifests: topics as the contracts say, every Deployment probed, sized and
non-root, secrets only by reference, and core kinds valid against the Kubernetes schemas."""

from typing import Any

import kubernetes_validate
import pytest

from ensemble_contracts.topics import MAIN_TOPICS, TOPICS
from ensemble_devkit import k8s_topics, service_map
from ensemble_devkit.system import SERVICES
from ensemble_runtime.secrets import secret_env_names

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
        assert "secretKeyRef" in env[f"{prefix}_DATABASE_URL"]["valueFrom"]
        for variable in env.values():
            assert "value" not in variable, f"{variable['name']} is written in the manifest"
        secret_files_come_from_secret_volumes(resources, deployment, prefix)


def secret_files_come_from_secret_volumes(
    resources: Resources, deployment: dict[str, Any], prefix: str
) -> None:
    """Tokens and passwords are files in mounted Secrets (re-read when Kubernetes updates
    them: never a subPath mount, which is not updated), named by the `*_FILE` settings."""
    name = deployment["metadata"]["name"]
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    [config] = [
        c for c in of_kind(resources, "ConfigMap") if c["metadata"]["name"] == f"{name}-config"
    ]
    secret_volumes = {v["name"]: v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    files = {k: v for k, v in config["data"].items() if k.endswith("_FILE")}
    for setting in ("DATABASE_PASSWORD", "STAFF_TOKENS", "KAFKA_SASL_PASSWORD"):
        assert f"{prefix}_{setting}_FILE" in files, setting
        assert f"{prefix}_{setting}" not in config["data"], f"{setting} is written in the manifest"
    for variable, path in files.items():
        if variable.endswith(("_TLS_CERT_FILE", "_TLS_KEY_FILE", "_TLS_CLIENT_CA_FILE")):
            continue
        mount = mounts[path.rsplit("/", 1)[0]]
        assert mount["name"] in secret_volumes and mount.get("readOnly"), variable
        assert "subPath" not in mount, variable
    assert secret_volumes[mounts["/etc/ensemble/secrets"]["name"]] == f"ensemble-{name}"


def test_kafka_clients_use_the_tls_listener_as_their_own_user(rendered):
    """The runtime's Kafka settings (config.py, kafka_security.py) wired to Strimzi by
    reference: the TLS listener's bootstrap, SCRAM as the listener and the KafkaUser say, the
    user named after the service, the cluster CA and the user's password as mounted files."""
    _, resources = rendered
    [kafka] = of_kind(resources, "Kafka")
    [listener] = [
        item
        for item in kafka["spec"]["kafka"]["listeners"]
        if item.get("tls") and item["type"] == "internal"
    ]
    users = {u["metadata"]["name"]: u for u in of_kind(resources, "KafkaUser")}
    definitions = {d.name: d for d in service_map.load_definitions()}
    configs = {c["metadata"]["name"]: c["data"] for c in of_kind(resources, "ConfigMap")}
    for deployment in of_kind(resources, "Deployment"):
        name = deployment["metadata"]["name"]
        prefix = next(s.env_prefix for s in SERVICES if s.name == name)
        data = configs[f"{name}-config"]
        pod = deployment["spec"]["template"]["spec"]
        [container] = pod["containers"]
        mounted = {
            m["mountPath"]: next(v for v in pod["volumes"] if v["name"] == m["name"])["secret"]
            for m in container["volumeMounts"]
            if any(v["name"] == m["name"] and "secret" in v for v in pod["volumes"])
        }

        def secret_behind(path: str, mounted: dict[str, Any] = mounted) -> tuple[str, str]:
            directory, key = path.rsplit("/", 1)
            volume = mounted[directory]
            keys = {i["path"]: i["key"] for i in volume.get("items", [])} or {key: key}
            return volume["secretName"], keys[key]

        mechanism = users[name]["spec"]["authentication"]["type"]
        assert mechanism == listener["authentication"]["type"] == "scram-sha-512"
        assert data[f"{prefix}_KAFKA_BOOTSTRAP_SERVERS"] == (
            f"{kafka['metadata']['name']}-kafka-bootstrap:{listener['port']}"
        )
        assert data[f"{prefix}_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
        assert data[f"{prefix}_KAFKA_SASL_MECHANISM"] == mechanism.upper()
        assert data[f"{prefix}_KAFKA_SASL_USERNAME"] == name
        ca = secret_behind(data[f"{prefix}_KAFKA_SSL_CAFILE"])
        assert ca == (f"{kafka['metadata']['name']}-cluster-ca-cert", "ca.crt")
        assert secret_behind(data[f"{prefix}_KAFKA_SASL_PASSWORD_FILE"]) == (name, "password")
        # Every *_FILE the ConfigMap names is a secret setting the service reads from a file.
        secret_files = set(secret_env_names(definitions[name].settings).values())
        named = {k for k in data if k.endswith("_FILE") and "_TLS_" not in k}
        assert named <= secret_files, f"{name}: {named - secret_files} are no secret settings"
        # And the runtime takes the combination (half a configuration refuses to start).
        kafka_settings = {k: v for k, v in data.items() if "_KAFKA_" in k and "_FILE" not in k}
        settings = definitions[name].settings(
            **{k.removeprefix(f"{prefix}_").lower(): v for k, v in kafka_settings.items()},
            kafka_sasl_password="from-the-file",
        )
        assert settings.kafka_security().uses_sasl and settings.kafka_security().uses_ssl


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

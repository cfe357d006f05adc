"""The committed JSON Schemas and AsyncAPI document, built from the models.

Who sends and receives each topic is not the contracts' to know: it comes from the service
definitions, which `ensemble-docs` (ensemble_devkit.service_map) reads and hands over here as
plain `Operation`s. That command writes these files and checks them for drift; this module
stays pydantic-only.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ensemble_contracts.envelope import Envelope
from ensemble_contracts.topics import TOPICS, TopicSpec

CONTRACTS_DIR = Path(__file__).resolve().parents[2]
ASYNCAPI = CONTRACTS_DIR / "asyncapi.json"


@dataclass(frozen=True)
class Operation:
    """One service sending to, or receiving from (as a consumer group), one topic."""

    service: str
    topic: str
    action: Literal["send", "receive"]
    group: str | None = None
    event_types: tuple[str, ...] = ()  # the event types a receiver handles (others it skips)

    @property
    def id(self) -> str:
        channel = _identifier(self.topic)
        if self.action == "send":
            return f"{_identifier(self.service)}_sends_{channel}"
        return f"{_identifier(self.group or self.service)}_receives_{channel}"


def _identifier(name: str) -> str:
    return name.replace(".", "_").replace("-", "_")


def _json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def _message_name(spec: TopicSpec[Envelope]) -> str:
    if spec.name.endswith(".dlq"):
        return f"{spec.value.__name__}_{_identifier(spec.name)}"
    return spec.value.__name__


def json_schema(spec: TopicSpec[Envelope]) -> dict[str, Any]:
    schema: dict[str, Any] = spec.value.model_json_schema(mode="serialization")
    schema["$id"] = f"urn:ensemble:topic:{spec.name}"
    schema["x-kafka-topic"] = spec.name
    schema["x-kafka-key"] = spec.key
    return schema


def _operation(operation: Operation, spec: TopicSpec[Envelope]) -> dict[str, Any]:
    channel = _identifier(spec.name)
    document: dict[str, Any] = {
        "action": operation.action,
        "channel": {"$ref": f"#/channels/{channel}"},
        "messages": [{"$ref": f"#/channels/{channel}/messages/{_message_name(spec)}"}],
        "x-service": operation.service,
    }
    if operation.action == "send":
        document["summary"] = f"Produced by {operation.service}."
    else:
        document["summary"] = f"Consumed by {operation.service} as group `{operation.group}`."
        document["x-consumer-group"] = operation.group
        document["x-event-types"] = list(operation.event_types)
    return document


def asyncapi(operations: Sequence[Operation] = ()) -> dict[str, Any]:
    """The AsyncAPI 3 document: a channel per topic, plus the given send/receive operations."""
    specs = {spec.name: spec for spec in TOPICS}
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for spec in TOPICS:
        name = _message_name(spec)
        messages[name] = {
            "name": name,
            "contentType": "application/json",
            "payload": {"$ref": f"schemas/{spec.name}.json"},
            "x-event-types": list(spec.event_types),
        }
        channels[_identifier(spec.name)] = {
            "address": spec.name,
            "description": f"{spec.description} Key: {spec.key} Partitions: {spec.partitions}.",
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Ensemble events",
            "version": "1.0.0",
            "description": "Topics shared by the Ensemble services; operations come from their "
            "service definitions.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": {op.id: _operation(op, specs[op.topic]) for op in operations},
        "components": {"messages": messages},
    }


def expected_files(operations: Sequence[Operation] = ()) -> dict[Path, str]:
    files = {ASYNCAPI: _json(asyncapi(operations))}
    for spec in TOPICS:
        files[CONTRACTS_DIR / "schemas" / f"{spec.name}.json"] = _json(json_schema(spec))
    return files


def _without_operations(text: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(text)
    document.pop("operations", None)
    return document


def drifted(operations: Sequence[Operation] | None = None) -> list[Path]:
    """Committed files that differ from what the models (and the operations) give.

    Without operations, only what the models decide is compared: the committed AsyncAPI
    operations, which come from the service definitions, are left out.
    """
    stale = []
    for path, text in expected_files(operations or ()).items():
        if not path.exists():
            stale.append(path)
        elif operations is None and path == ASYNCAPI:
            if _without_operations(path.read_text()) != _without_operations(text):
                stale.append(path)
        elif path.read_text() != text:
            stale.append(path)
    return stale

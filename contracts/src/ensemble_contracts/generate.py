"""Write (or check) the committed JSON Schemas and AsyncAPI document from the models.

ensemble-contracts-generate          # rewrite contracts/schemas and contracts/asyncapi.json
ensemble-contracts-generate --check  # exit 1 when the committed copies drift
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ensemble_contracts.topics import TOPICS, TopicSpec

CONTRACTS_DIR = Path(__file__).resolve().parents[2]


def _json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def json_schema(spec: TopicSpec) -> dict[str, Any]:
    schema = spec.value.model_json_schema(mode="serialization")
    schema["$id"] = f"urn:ensemble:topic:{spec.name}"
    schema["x-kafka-topic"] = spec.name
    schema["x-kafka-key"] = spec.key
    return schema


def asyncapi() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for spec in TOPICS:
        channel_id = spec.name.replace(".", "_").replace("-", "_")
        message_name = spec.value.__name__
        if spec.name.endswith(".dlq"):
            message_name = f"{message_name}_{channel_id}"
        messages[message_name] = {
            "name": message_name,
            "contentType": "application/json",
            "payload": {"$ref": f"schemas/{spec.name}.json"},
        }
        channels[channel_id] = {
            "address": spec.name,
            "description": f"{spec.description} Key: {spec.key} Partitions: {spec.partitions}.",
            "messages": {message_name: {"$ref": f"#/components/messages/{message_name}"}},
        }
        operations[f"publish_{channel_id}"] = {
            "action": "send",
            "summary": f"Produced by {spec.producer}.",
            "channel": {"$ref": f"#/channels/{channel_id}"},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Ensemble events",
            "version": "1.0.0",
            "description": "Topics shared by hospital-feed, scoring, referral and scheduling.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def expected_files() -> dict[Path, str]:
    files = {CONTRACTS_DIR / "asyncapi.json": _json(asyncapi())}
    for spec in TOPICS:
        files[CONTRACTS_DIR / "schemas" / f"{spec.name}.json"] = _json(json_schema(spec))
    return files


def drifted() -> list[Path]:
    return [
        path
        for path, text in expected_files().items()
        if not path.exists() or path.read_text() != text
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report drift")
    args = parser.parse_args()
    if args.check:
        stale = drifted()
        for path in stale:
            print(f"out of date: {path}", file=sys.stderr)
        sys.exit(1 if stale else 0)
    for path, text in expected_files().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()

"""The service map, generated from the service definitions.

ensemble-docs          # rewrite contracts/schemas, contracts/asyncapi.json and the README map
ensemble-docs --check  # exit 1 when any of them is out of date (`make lint` runs this)

Each service's `<module>.service.DEFINITION` is imported by name from `SERVICES` (the devkit
does not depend on the services). Who sends and who receives each topic, in which consumer
group and for which event types, is read from the definitions, so the README topic table, its
flowchart and the AsyncAPI operations cannot drift from the code.
"""

import argparse
import importlib
import inspect
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ensemble_contracts import generate
from ensemble_contracts.generate import Operation
from ensemble_contracts.topics import MAIN_TOPICS, TopicSpec, topic
from ensemble_devkit import REPO_ROOT, k8s_topics, settings_docs
from ensemble_devkit.system import SERVICES
from ensemble_runtime.definition import ServiceDefinition, Subscription

Definition = ServiceDefinition[Any, Any]
README = REPO_ROOT / "README.md"
START = "<!-- service-map:start -->"
END = "<!-- service-map:end -->"


class ServiceMapError(ValueError):
    """The definitions disagree with the contracts (unknown topic, event type or producer)."""


def load_definitions() -> list[Definition]:
    """Every service's DEFINITION, in the order of SERVICES."""
    return [importlib.import_module(f"{s.module}.service").DEFINITION for s in SERVICES]


def _spec(name: str) -> TopicSpec[Any]:
    try:
        return topic(name)
    except KeyError:
        raise ServiceMapError(f"topic {name} is not in ensemble_contracts.topics") from None


def handled(subscription: Subscription[Any, Any]) -> tuple[str, ...]:
    """The subscription's event types, in the order the topic lists them."""
    carried = _spec(subscription.topic.name).event_types
    unknown = set(subscription.handlers) - set(carried)
    if unknown:
        raise ServiceMapError(f"{subscription.group}: {subscription.topic.name} has no {unknown}")
    return tuple(t for t in carried if t in subscription.handlers)


def operations(definitions: Sequence[Definition]) -> list[Operation]:
    """Sends (declared `publishes`, and dead letters of each subscription) and receives."""
    found: dict[str, Operation] = {}
    for d in definitions:
        for published in d.publishes:
            send = Operation(d.name, _spec(published.name).name, "send")
            found[send.id] = send
        for s in d.subscriptions:
            receive = Operation(d.name, s.topic.name, "receive", s.group, handled(s))
            dead_letters = Operation(d.name, s.topic.dead_letter.name, "send")
            found |= {receive.id: receive, dead_letters.id: dead_letters}
    for spec in MAIN_TOPICS:
        producers = producers_of(spec, definitions)
        if producers and producers != [spec.producer]:
            raise ServiceMapError(
                f"topics.py says {spec.producer} produces {spec.name}, "
                f"the definitions say {producers}"
            )
    return list(found.values())


def producers_of(spec: TopicSpec[Any], definitions: Sequence[Definition]) -> list[str]:
    return [d.name for d in definitions if any(t.name == spec.name for t in d.publishes)]


def _short(event_types: Sequence[str]) -> list[str]:
    """`encounter.admitted` -> `admitted`: a topic's event types share their prefix."""
    return [t.split(".", 1)[-1] for t in event_types]


def _link(handler: Callable[..., Any]) -> str:
    path = Path(inspect.getsourcefile(handler) or "?").resolve()
    shown = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path.name
    return f"[{path.stem}]({shown})"


def _consumer(d: Definition, s: Subscription[Any, Any]) -> str:
    events = handled(s)
    names = "all" if events == s.topic.event_types else ", ".join(_short(events))
    files = ", ".join(dict.fromkeys(_link(h) for h in s.handlers.values()))
    return f"{d.name} / `{s.group}`: {names} ({files})"


def topic_table(definitions: Sequence[Definition]) -> str:
    rows = [
        "| topic | producer | consumers (service / group: events) | events |",
        "|---|---|---|---|",
    ]
    for spec in MAIN_TOPICS:
        consumers = [
            _consumer(d, s)
            for d in definitions
            for s in d.subscriptions
            if s.topic.name == spec.name
        ]
        rows.append(
            f"| `{spec.name}` | {', '.join(producers_of(spec, definitions)) or '(none)'} "
            f"| {'<br>'.join(consumers) or '(none yet)'} | {', '.join(_short(spec.event_types))} |"
        )
    return "\n".join(rows)


def _node(prefix: str, name: str) -> str:
    return prefix + "_" + "".join(c if c.isalnum() else "_" for c in name)


def flowchart(definitions: Sequence[Definition]) -> str:
    """Services as boxes, topics as rounded nodes, edges labelled with consumer groups."""
    lines = ["```mermaid", "flowchart LR"]
    lines += [f'  {_node("svc", d.name)}["{d.name}"]' for d in definitions]
    lines += [f'  {_node("topic", t.name)}(["{t.name}"])' for t in MAIN_TOPICS]
    for d in definitions:
        lines += [f"  {_node('svc', d.name)} --> {_node('topic', t.name)}" for t in d.publishes]
    for d in definitions:
        lines += [
            f'  {_node("topic", s.topic.name)} -->|"{s.group}"| {_node("svc", d.name)}'
            for s in d.subscriptions
        ]
    return "\n".join([*lines, "```"])


def readme_map(definitions: Sequence[Definition]) -> str:
    note = "<!-- generated from the service definitions by `make contracts`; do not edit -->"
    body = [START, note, "", flowchart(definitions), "", topic_table(definitions), END]
    return "\n".join(body)


def with_map(readme: str, definitions: Sequence[Definition]) -> str:
    """The README with the text between the service-map markers regenerated."""
    head, start, rest = readme.partition(START)
    _, end, tail = rest.partition(END)
    if not (start and end):
        raise ServiceMapError(f"README.md needs the markers {START} and {END}")
    return head + readme_map(definitions) + tail


def expected_files(definitions: Sequence[Definition], readme: Path = README) -> dict[Path, str]:
    files = generate.expected_files(operations(definitions))
    files[readme] = with_map(readme.read_text(), definitions)
    files |= k8s_topics.expected_files()  # deploy/k8s/base/kafka/topics.yaml
    files |= settings_docs.expected_files(definitions)  # docs/settings.md
    return files


def drifted(definitions: Sequence[Definition], readme: Path = README) -> list[Path]:
    return [
        path
        for path, text in expected_files(definitions, readme).items()
        if not path.exists() or path.read_text() != text
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report what is out of date")
    args = parser.parse_args()
    definitions = load_definitions()
    if args.check:
        stale = drifted(definitions)
        for path in stale:
            print(f"out of date (run `make contracts`): {path}", file=sys.stderr)
        sys.exit(1 if stale else 0)
    for path, text in expected_files(definitions).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            print(f"wrote {path}")


if __name__ == "__main__":
    main()

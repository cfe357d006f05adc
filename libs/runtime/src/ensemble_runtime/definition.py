"""What a service is, declared in one object: `build_service` turns it into a running app.

A reader finds everything a service does from its definition: the topics it publishes, what
it consumes (topic -> group -> {event type: handler}), its HTTP routers, its commands and
the extra components it runs (an MLLP listener, a scheduler). The README topic map and the
AsyncAPI document are generated from these definitions, so they cannot drift.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from fastapi import APIRouter

from ensemble_contracts import Envelope, TopicSpec
from ensemble_runtime.auth import CredentialLookup
from ensemble_runtime.config import ServiceSettings
from ensemble_runtime.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from ensemble_runtime.service import ServiceRuntime

E = TypeVar("E", bound=Envelope)
U = TypeVar("U", bound=UnitOfWork[Any])
S = TypeVar("S", bound=ServiceSettings)
R = TypeVar("R")


@dataclass(frozen=True)
class Subscription(Generic[E, U]):
    """Which events of a topic a consumer group handles; other event types are skipped."""

    topic: TopicSpec[E]
    group: str
    handlers: Mapping[str, Callable[[U, E], None]]


class Command(Generic[R]):
    """A request to change state, from HTTP or a CLI; R is what its handler returns.

    `rerun_on_conflict`: a unique constraint tripped by a concurrent twin means "run again and
    see the twin" (e.g. a resent HL7 message arriving twice at once), not an error.
    `group_commit`: commands of this type arriving together share one transaction (see
    group_commit.py); for hot, independent commands whose handler commits once.
    """

    rerun_on_conflict: bool = False
    group_commit: bool = False


class Component(Protocol):
    """Something a service runs beside HTTP and Kafka, started after the store and relay."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True)
class ServiceDefinition(Generic[S, U]):
    name: str
    title: str
    settings: type[S]
    unit_of_work: type[U]
    migrations: Path
    publishes: Sequence[TopicSpec[Envelope]] = ()
    subscriptions: Sequence[Subscription[Any, U]] = ()
    commands: Mapping[type[Any], Callable[[U, Any], Any]] = field(default_factory=dict)
    routers: Sequence[APIRouter] = ()
    components: Sequence[Callable[["ServiceRuntime[S, U]"], Iterable[Component]]] = ()
    # Caller kind -> a store lookup of its tokens, consulted after the kind's env tokens
    # (see auth.authenticate): e.g. practice users' tokens kept hashed in the service's store.
    credential_lookups: Mapping[str, CredentialLookup] = field(default_factory=dict)

"""A unit of work: one DB transaction holding state changes and the events they cause.

Handlers see repositories (`uow.alerts`, `uow.referrals`, ...), a clock and the service's
settings; never a session. Each service subclasses `UnitOfWork` and opens its repositories
in `open_repositories`; the SQL stays in its adapters.
"""

import contextvars
import functools
from collections.abc import Callable
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

import structlog
from sqlalchemy import Engine
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session

from ensemble_contracts import Envelope, TopicSpec
from ensemble_runtime.clock import Clock, utc_now
from ensemble_runtime.config import ServiceSettings
from ensemble_runtime.correlation import current_correlation_id
from ensemble_runtime.inbox import Inbox
from ensemble_runtime.outbox import add_to_outbox

S = TypeVar("S", bound=ServiceSettings)
log = structlog.get_logger(__name__)


class UnitOfWork(Generic[S]):
    """Rolls back unless `commit()` is called; wakes the outbox relay after a commit."""

    def __init__(
        self,
        engine: Engine,
        settings: S,
        clock: Clock = utc_now,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self._engine = engine
        self.settings = settings
        self.clock = clock
        self._on_commit = on_commit
        self._published = False
        self._after_commit: list[Callable[[], None]] = []
        self._item: SessionTransaction | None = None  # the SAVEPOINT of a grouped command
        self._item_actions = 0  # after-commit actions registered before that command began

    def open_repositories(self, session: Session) -> None:
        """Attach the service's repositories to this unit of work (services override)."""

    def __enter__(self) -> Self:
        self._session = Session(self._engine, expire_on_commit=False)
        self.inbox = Inbox(self._session)
        self.open_repositories(self._session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._session.rollback()
        self._session.close()

    def publish(self, topic: TopicSpec[Envelope], event: Envelope) -> None:
        """Stage an event: it is published only if this unit of work commits. An event built
        without a correlation id inside an intake (an HTTP request, an MLLP frame) takes the
        intake's, so every event of one external request shares it (correlation.py)."""
        if "correlation_id" not in event.model_fields_set:
            intake = current_correlation_id()
            if intake is not None:
                event = event.model_copy(update={"correlation_id": intake})
        add_to_outbox(self._session, topic, event)
        self._published = True

    def apply_here(
        self, group: str, handler: Callable[[Self, Any], None] | None, event: Envelope
    ) -> bool:
        """Apply a consumer group's `handler` (None: the group ignores this type) to an event
        this transaction publishes, and remember the event in the group's inbox, so the group's
        consumer skips it when Kafka brings it: its effect commits with the change that caused
        it, a hop earlier, while the event still goes to Kafka for everyone else.

        Only for a group that consumes this service's own topic, and only if every event of
        that topic goes through here (or the consumer could apply an older one after a newer
        one). In a SAVEPOINT: a handler that fails is undone alone and logged, and the event
        is left to the consumer (its retries, then its dead-letter topic), so a bug in a
        projection never stops the change that published the event. Returns whether it was
        applied here."""
        savepoint = self._session.begin_nested()
        actions = len(self._after_commit)
        try:
            if handler is not None:
                handler(self, event)
            self._session.flush()
            self.inbox.record_all(group, [event.event_id])
        except Exception as error:
            savepoint.rollback()
            del self._after_commit[actions:]
            log.warning("event left to its consumer", consumer=group, error=type(error).__name__)
            return False
        savepoint.commit()
        return True

    def flush(self) -> None:
        """Send pending writes now, so constraints speak inside this transaction."""
        self._session.flush()

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run `action` once this work is durable (e.g. a log line saying it was received).
        It runs in the context it was registered in: a grouped command's log line keeps its
        own correlation and trace ids, not the group's."""
        self._after_commit.append(functools.partial(contextvars.copy_context().run, action))

    def commit(self) -> None:
        if self._item is not None:  # grouped: this command is done, the group commits later
            self._item.commit()
            self._item = None
            return
        self._session.commit()
        self._committed()

    def rollback(self) -> None:
        if self._item is not None:  # grouped: undo this command alone, and its actions
            self._item.rollback()
            self._item = None
            del self._after_commit[self._item_actions :]
            return
        self._session.rollback()
        self._published = False
        self._after_commit.clear()

    def run_item(self, work: Callable[[], Any]) -> tuple[bool, Any]:
        """Group commit (group_commit.py): run one command in a SAVEPOINT. Its `commit()`
        releases the savepoint; an error, or no commit, undoes only this command.
        Returns (True, result) or (False, error)."""
        self._item = self._session.begin_nested()
        self._item_actions = len(self._after_commit)
        try:
            result = work()
        except Exception as error:
            outcome: tuple[bool, Any] = (False, error)
        else:
            outcome = (True, result)
        if self._item is not None:  # failed, or returned without committing: undo it
            self.rollback()
        return outcome

    def commit_group(self) -> None:
        """Commit every grouped command that committed its savepoint, in one transaction."""
        self._session.commit()
        self._committed()

    def _committed(self) -> None:
        if self._published and self._on_commit is not None:
            self._on_commit()
        self._published = False
        actions, self._after_commit = self._after_commit, []
        for action in actions:
            action()

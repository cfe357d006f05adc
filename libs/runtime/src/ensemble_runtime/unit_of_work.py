"""A unit of work: one DB transaction holding state changes and the events they cause.

Handlers see repositories (`uow.alerts`, `uow.referrals`, ...), a clock and the service's
settings; never a session. Each service subclasses `UnitOfWork` and opens its repositories
in `open_repositories`; the SQL stays in its adapters.
"""

from collections.abc import Callable
from types import TracebackType
from typing import Generic, Self, TypeVar

from sqlalchemy import Engine
from sqlmodel import Session

from ensemble_contracts import Envelope, TopicSpec
from ensemble_runtime.clock import Clock, utc_now
from ensemble_runtime.config import ServiceSettings
from ensemble_runtime.inbox import Inbox
from ensemble_runtime.outbox import add_to_outbox

S = TypeVar("S", bound=ServiceSettings)


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
        """Stage an event: it is published only if this unit of work commits."""
        add_to_outbox(self._session, topic, event)
        self._published = True

    def flush(self) -> None:
        """Send pending writes now, so constraints speak inside this transaction."""
        self._session.flush()

    def commit(self) -> None:
        self._session.commit()
        if self._published and self._on_commit is not None:
            self._on_commit()
        self._published = False

    def rollback(self) -> None:
        self._session.rollback()
        self._published = False

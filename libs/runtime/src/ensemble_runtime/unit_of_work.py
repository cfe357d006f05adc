"""A unit of work: one DB transaction holding state changes and the events they cause."""

from collections.abc import Callable
from types import TracebackType
from typing import Self

from sqlalchemy import Engine
from sqlmodel import Session

from ensemble_contracts import Envelope, TopicSpec
from ensemble_runtime.outbox import add_to_outbox


class UnitOfWork:
    """Rolls back unless `commit()` is called; wakes the outbox relay after a commit."""

    def __init__(
        self, engine: Engine, producer: str, on_commit: Callable[[], None] | None = None
    ) -> None:
        self._engine = engine
        self.producer = producer
        self._on_commit = on_commit
        self._published = False

    def __enter__(self) -> Self:
        self.session = Session(self._engine, expire_on_commit=False)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.session.rollback()
        self.session.close()

    def publish(self, topic: TopicSpec, event: Envelope) -> None:
        add_to_outbox(self.session, topic, event)
        self._published = True

    def commit(self) -> None:
        self.session.commit()
        if self._published and self._on_commit is not None:
            self._on_commit()
        self._published = False

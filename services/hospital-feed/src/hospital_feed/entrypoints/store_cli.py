"""What the service's command-line tools share (access_cli.py, messages_cli.py): the store,
migrated, running commands through the definition's handlers, and the way they answer."""

import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from ensemble_runtime.clock import Clock
from ensemble_runtime.db import create_db_engine
from ensemble_runtime.definition import Command
from ensemble_runtime.migrations import migrate
from hospital_feed.adapters import message_browser as views
from hospital_feed.config import Settings
from hospital_feed.service import DEFINITION

R = TypeVar("R")


class Store:
    """The service's store, migrated: commands through the definition's handlers, reads
    through the read models."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.engine = create_db_engine(settings.database_url, settings.database_password_source())
        migrate(self.engine, DEFINITION.migrations)

    def run(self, command: Command[R]) -> R:
        handler = DEFINITION.commands[type(command)]
        with DEFINITION.unit_of_work(self.engine, self.settings, self.clock) as uow:
            result: R = handler(uow, command)
            return result

    def read(self, query: Callable[..., R], *args: Any) -> R:
        return views.read_store(self.engine, query, *args)

    def close(self) -> None:
        self.engine.dispose()


def run_cli(
    cli: str,
    settings: Settings,
    clock: Clock,
    act: Callable[[Store], tuple[Any, str]],
    refusals: tuple[type[Exception], ...],
    as_json: bool,
) -> int:
    """Run the action on the store; print what it did (JSON or text), or why not to stderr
    (exit status 1). The store is closed before the answer is printed."""
    store = Store(settings, clock)
    try:
        try:
            shown, text = act(store)
        except refusals as error:
            print(f"{cli}: {error}", file=sys.stderr)
            return 1
    finally:
        store.close()
    print(json.dumps(shown, indent=2) if as_json else text)
    return 0

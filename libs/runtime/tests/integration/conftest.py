from collections.abc import Iterator

import pytest

from ..support import Kit, definition, kit_fixture


@pytest.fixture
def kit(database_url: str) -> Iterator[Kit]:
    """The test service on a fresh store (SQLite, and PostgreSQL where there is one)."""
    yield from kit_fixture(definition(group="tests"), database_url)

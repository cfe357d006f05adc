from collections.abc import Iterator
from pathlib import Path

import pytest

from ..support import FeedKit, feed_kit


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[FeedKit]:
    kit = feed_kit(f"sqlite:///{tmp_path / 'feed.db'}")
    yield kit
    kit.dispose()

from collections.abc import Iterator
from pathlib import Path

import pytest

from ..support import Kit, referral_kit


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    kit = referral_kit(f"sqlite:///{tmp_path / 'referral.db'}")
    yield kit
    kit.dispose()

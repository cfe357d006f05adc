from pathlib import Path

import pytest

from hospital_feed.bootstrap import Service

from ..support import service_on


@pytest.fixture
def service(tmp_path: Path) -> Service:
    return service_on(f"sqlite:///{tmp_path / 'feed.db'}")

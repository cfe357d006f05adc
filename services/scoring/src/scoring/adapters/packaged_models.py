"""The model files that ship with scoring (`scoring/models/*.toml`), read and checked once.

`DEFAULT_VERSION` is the model a store that has never activated one scores with; the service
records it as activated when it first starts (`service_layer/models.py`).
"""

import functools
from importlib import resources
from typing import Final

from scoring.domain.model import RiskModel
from scoring.domain.model_file import read_model

DEFAULT_VERSION: Final = "ensemble-risk-1.0.0"


def packaged_text(version: str) -> str:
    """The text of a packaged model file; FileNotFoundError when none has that version."""
    return (resources.files("scoring") / "models" / f"{version}.toml").read_text("utf-8")


def packaged_versions() -> list[str]:
    folder = resources.files("scoring") / "models"
    return sorted(
        p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")
    )


@functools.cache
def packaged_model(version: str = DEFAULT_VERSION) -> RiskModel:
    """A packaged model, checked (a packaged file that fails its checks is a release bug:
    the ModelFileError says where)."""
    return read_model(packaged_text(version))

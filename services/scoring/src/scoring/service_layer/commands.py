"""Commands of the scoring service (from HTTP): what a caller asks it to change."""

from dataclasses import dataclass

from ensemble_runtime.definition import Command
from scoring.service_layer.extracts import ProfileIn


@dataclass(frozen=True)
class LoadProfiles(Command[int]):
    """Upsert practice profiles and rescore each patient; answers how many were loaded."""

    profiles: tuple[ProfileIn, ...]

"""Commands of the scoring service (from HTTP and the admin CLI): what a caller asks of it."""

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID, uuid4

from ensemble_runtime.definition import Command
from scoring.domain.model import RiskModel
from scoring.service_layer.extracts import ProfileIn


@dataclass(frozen=True)
class ProfilesLoaded:
    """What a load did: every line it was given is one of changed, unchanged or older."""

    loaded: int
    changed: int
    unchanged: int
    older: int  # as of an earlier date than the profile stored: left out


@dataclass(frozen=True)
class LoadProfiles(Command[ProfilesLoaded]):
    """Upsert practice profiles and rescore each patient whose profile changed."""

    profiles: tuple[ProfileIn, ...]


@dataclass(frozen=True)
class Activated:
    version: str
    previous: str  # the version that was active before
    stored: bool  # the model's text was new to the store


@dataclass(frozen=True)
class ActivateModel(Command[Activated]):
    """Make a checked model the active one (kept with its text); the population is then
    rescored page by page (`RescorePage`) until no score is left from another version."""

    model: RiskModel
    source: str  # the model file's text
    activated_by: str


@dataclass(frozen=True)
class PageRescored:
    last: str | None  # the page's last NHS number; None: nobody was left to rescore
    rescored: int
    band_changes: list[tuple[str | None, str]] = field(default_factory=list)


@dataclass(frozen=True)
class RescorePage(Command[PageRescored]):
    """Rescore, with the active model, up to `limit` patients after `after` (NHS-number
    order) whose current score another model version made; publishes real band changes."""

    after: str = ""
    limit: int = 500
    correlation_id: UUID = field(default_factory=uuid4)  # one per activation: its events share it


@dataclass(frozen=True)
class Aged:
    until: datetime  # the window cutoff this scan runs to
    last: str | None  # the page's last NHS number
    rescored: int
    band_changes: int
    finished: bool  # the scan reached `until`: the next starts from there


@dataclass(frozen=True)
class AgeHospitalUse(Command[Aged]):
    """Rescore, as of now, up to `limit` patients (after `after`) with an admission or A&E
    attendance that left the model's window since the last scan; a scan's first page fixes
    its cutoff (`until` None), the next pages pass it on."""

    until: datetime | None = None
    after: str = ""
    limit: int = 500
    correlation_id: UUID = field(default_factory=uuid4)


@dataclass(frozen=True)
class CohortsRefreshed:
    last: str | None  # the page's last NHS number; None: the population is done
    joined: int
    left: int


@dataclass(frozen=True)
class RefreshCohorts(Command[CohortsRefreshed]):
    """Evaluate every saved cohort on up to `limit` scored patients after `after` (NHS-number
    order), store who is in each and publish each join and leave."""

    after: str = ""
    limit: int = 500
    correlation_id: UUID = field(default_factory=uuid4)

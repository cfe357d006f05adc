"""Settings from the environment, prefix SCORING_."""

from functools import cached_property

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from ensemble_runtime.config import SECRET_FIELD, ServiceSettings
from scoring.domain.hot_onboarding import HotOnboardingPolicy
from scoring.domain.model import Band


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SCORING_", extra="ignore")

    service_name: str = "scoring"
    """The service's name (Kafka client id, consumer groups, logs)."""
    database_url: str = "sqlite:///run/scoring.db"
    """SQLAlchemy URL of scoring's store."""
    http_port: int = 8002
    """Port of the HTTP server."""
    # JSON {"principal": "token"}; practices are named by ODS code (the worklist). No secrets.
    practice_tokens: str = Field(default="{}", json_schema_extra=SECRET_FIELD)
    """Practice bearer tokens (the worklist), JSON {"ODS code": "token"}; from a file they are
    re-read while the service runs.
    """
    # Practice extracts are large: the runtime's HTTP guard caps request bodies at this.
    max_body_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    """Largest HTTP request body, in bytes (practice extracts are large)."""
    # How often the service rescores patients whose hospital use aged out of the window (0: off).
    hospital_use_scan_seconds: float = Field(default=900.0, ge=0)
    """How often patients whose hospital use aged out of the window are rescored (0: off)."""
    # Saved cohorts: the packaged definitions plus one TOML file per cohort in this folder.
    cohorts_dir: str | None = None
    """A folder of one TOML file per saved cohort, beside the packaged ones."""
    # How often the service refreshes cohort membership and publishes changes (0: off).
    cohort_refresh_seconds: float = Field(default=900.0, ge=0)
    """How often cohort membership is refreshed and changes published (0: off)."""
    # Lowest band at which an A&E attendance (not an admission) triggers hot onboarding.
    hot_onboarding_ae_min_band: Band = "high"
    """Lowest band at which an A&E attendance (not an admission) triggers hot onboarding."""

    @cached_property
    def hot_onboarding(self) -> HotOnboardingPolicy:
        """The hot-onboarding policy these settings ask for (handlers: `uow.settings`)."""
        return HotOnboardingPolicy(ae_min_band=self.hot_onboarding_ae_min_band)

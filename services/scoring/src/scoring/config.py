"""Settings from the environment, prefix SCORING_."""

from functools import cached_property
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from ensemble_runtime.config import SECRET_FIELD
from ensemble_runtime.page_sessions import PageSessionSettings
from scoring.domain.hot_onboarding import HotOnboardingPolicy
from scoring.domain.model import Band
from scoring.domain.outcome_report import UnitCostsError, read_unit_costs


class Settings(PageSessionSettings):
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
    outcomes_unit_costs: str | None = None
    """Outcomes report: unit costs, a TOML file like scoring/outcomes/unit_costs.toml (unset: the
    packaged defaults, cited there)."""
    outcomes_comparisons_per_enrolment: int = Field(default=3, ge=0, le=10)
    """Outcomes report: matched comparison patients per enrolled patient."""
    outcomes_min_follow_up_days: int = Field(default=30, ge=1, le=365)
    """Outcomes report: days after enrolment before a patient's after-period counts."""
    # Lowest band at which an A&E attendance (not an admission) triggers hot onboarding.
    hot_onboarding_ae_min_band: Band = "high"
    """Lowest band at which an A&E attendance (not an admission) triggers hot onboarding."""

    @field_validator("outcomes_unit_costs")
    @classmethod
    def _unit_costs_readable(cls, path: str | None) -> str | None:
        """A unit costs file that cannot be used stops the start, with the reason, rather than
        failing every outcomes request later."""
        if path:
            try:
                read_unit_costs(Path(path).read_text("utf-8"))
            except (OSError, UnicodeError, UnitCostsError) as error:
                raise ValueError(f"unit costs {path}: {error}") from None
        return path

    @cached_property
    def hot_onboarding(self) -> HotOnboardingPolicy:
        """The hot-onboarding policy these settings ask for (handlers: `uow.settings`)."""
        return HotOnboardingPolicy(ae_min_band=self.hot_onboarding_ae_min_band)

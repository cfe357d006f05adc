"""Settings from the environment, prefix SCORING_."""

from pydantic_settings import SettingsConfigDict

from ensemble_runtime.config import ServiceSettings
from scoring.domain.model import Band


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SCORING_", extra="ignore")

    service_name: str = "scoring"
    database_url: str = "sqlite:///run/scoring.db"
    http_port: int = 8002
    # Lowest band at which an A&E attendance (not an admission) triggers hot onboarding.
    hot_onboarding_ae_min_band: Band = "high"

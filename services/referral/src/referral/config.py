"""Settings from the environment, prefix REFERRAL_."""

from pydantic_settings import SettingsConfigDict

from ensemble_runtime.config import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REFERRAL_", extra="ignore")

    service_name: str = "referral"
    database_url: str = "sqlite:///run/referral.db"
    http_port: int = 8003
    # JSON {"principal": "token"}; practices are named by ODS code. No built-in secrets.
    practice_tokens: str = "{}"

"""Settings from the environment, prefix SCHEDULING_."""

from pydantic_settings import SettingsConfigDict

from ensemble_runtime.auth import parse_token_map
from ensemble_runtime.config import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SCHEDULING_", extra="ignore")

    service_name: str = "scheduling"
    database_url: str = "sqlite:///run/scheduling.db"
    http_port: int = 8004
    staff_tokens: str = "{}"  # JSON {"principal": "token"}; no built-in secrets

    def tokens(self, kind: str) -> dict[str, str]:
        return parse_token_map(getattr(self, f"{kind}_tokens"))

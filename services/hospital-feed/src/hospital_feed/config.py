"""Settings from the environment, prefix HOSPITAL_FEED_."""

from pydantic_settings import SettingsConfigDict

from ensemble_runtime.auth import parse_token_map
from ensemble_runtime.config import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HOSPITAL_FEED_", extra="ignore")

    service_name: str = "hospital-feed"
    database_url: str = "sqlite:///run/hospital_feed.db"
    http_port: int = 8001
    # JSON {"principal": "token"}. Senders are named by the MSH-4 code they may send for.
    sender_tokens: str = "{}"
    practice_tokens: str = "{}"
    staff_tokens: str = "{}"
    max_message_bytes: int = 1024 * 1024

    def tokens(self, kind: str) -> dict[str, str]:
        return parse_token_map(getattr(self, f"{kind}_tokens"))

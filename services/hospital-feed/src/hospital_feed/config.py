"""Settings from the environment, prefix HOSPITAL_FEED_."""

import json

from pydantic_settings import SettingsConfigDict

from ensemble_runtime.config import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HOSPITAL_FEED_", extra="ignore")

    service_name: str = "hospital-feed"
    database_url: str = "sqlite:///run/hospital_feed.db"
    http_port: int = 8001
    # JSON {"principal": "token"}. Senders are named by the MSH-4 code they may send for.
    sender_tokens: str = "{}"
    practice_tokens: str = "{}"
    max_message_bytes: int = 1024 * 1024
    # JSON {"RCB": 2575}: one MLLP listener per sending trust (MSH-4 it may send for -> port).
    mllp_listeners: str = "{}"

    def mllp_ports(self) -> dict[str, int]:
        value = json.loads(self.mllp_listeners) if self.mllp_listeners.strip() else {}
        if not isinstance(value, dict):
            raise ValueError("HOSPITAL_FEED_MLLP_LISTENERS: expected a JSON object ODS -> port")
        return {str(ods).upper(): int(port) for ods, port in value.items()}

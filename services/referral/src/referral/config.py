"""Settings from the environment, prefix REFERRAL_."""

import json
from functools import cache

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from ensemble_runtime.config import SECRET_FIELD
from ensemble_runtime.page_sessions import PageSessionSettings
from referral.domain.huddle import PERSON_ID, Team, parse_team
from referral.domain.sla import SlaPolicy


class Settings(PageSessionSettings):
    model_config = SettingsConfigDict(env_prefix="REFERRAL_", extra="ignore")

    service_name: str = "referral"
    """The service's name (Kafka client id, consumer groups, logs)."""
    database_url: str = "sqlite:///run/referral.db"
    """SQLAlchemy URL of referral's store."""
    http_port: int = 8003
    """Port of the HTTP server."""
    # JSON {"principal": "token"}; practices are named by ODS code. No built-in secrets.
    practice_tokens: str = Field(default="{}", json_schema_extra=SECRET_FIELD)
    """Practice bearer tokens, JSON {"ODS code": "token"}; from a file they are re-read while the
    service runs.
    """
    # SLA working days, JSON (domain.sla.SlaPolicy.from_mapping); {} keeps the defaults.
    # e.g. {"services": {"complex_care": {"stages": {"urgent": {"acceptance": 1}}}}}
    sla_policy: str = "{}"
    """SLA working days, JSON (domain.sla.SlaPolicy.from_mapping); {} keeps the defaults."""
    # How often the SLA watch looks for clocks that ran out (0: never).
    sla_scan_seconds: float = 300
    """How often the SLA watch looks for clocks that ran out (0: never)."""
    huddle_roster: str = "{}"
    """Who may own huddle actions besides the coaches, keyworkers and supervisors assigned to the
    team's referrals: JSON {"team": {"member id": "name"}}, a team as in the huddle URLs
    (`complex_care` also covers `complex_care.L85001`); a bad roster refuses to start.
    """

    @field_validator("huddle_roster")
    @classmethod
    def _valid_roster(cls, raw: str) -> str:
        _roster(raw)
        return raw

    def roster_for(self, team: Team) -> dict[str, str]:
        """The roster's members of the team: its service's, then its own (which win)."""
        roster = _roster(self.huddle_roster)
        return roster.get(team.service, {}) | roster.get(team.key, {})

    @field_validator("sla_policy")
    @classmethod
    def _valid_policy(cls, raw: str) -> str:
        _policy(raw)  # a bad policy refuses to start rather than running a wrong clock
        return raw

    def sla(self) -> SlaPolicy:
        return _policy(self.sla_policy)


@cache
def _roster(raw: str) -> dict[str, dict[str, str]]:
    parsed = json.loads(raw)
    if not isinstance(parsed, dict):
        raise ValueError("the huddle roster must be a JSON object of teams")
    roster: dict[str, dict[str, str]] = {}
    for team, members in parsed.items():
        if not isinstance(members, dict) or not all(
            isinstance(m, str) and PERSON_ID.fullmatch(m) and isinstance(n, str) and n.strip()
            for m, n in members.items()
        ):
            raise ValueError(f"huddle roster of {team!r}: {{member id: name}}, ids like KW01")
        roster[parse_team(str(team)).key] = {m: n.strip()[:100] for m, n in members.items()}
    return roster


@cache
def _policy(raw: str) -> SlaPolicy:
    parsed = json.loads(raw)
    if not isinstance(parsed, dict):
        raise ValueError("the SLA policy must be a JSON object")
    return SlaPolicy.from_mapping(parsed)

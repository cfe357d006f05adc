"""Bearer-token authentication for external callers (senders, practices, staff)."""

import hmac
import json
from collections.abc import Mapping

from fastapi import HTTPException, Request, status


def parse_token_map(raw: str) -> dict[str, str]:
    """`{"principal": "token", ...}` from an env var (JSON)."""
    value = json.loads(raw) if raw.strip() else {}
    if not isinstance(value, dict):
        raise ValueError("expected a JSON object of principal -> token")
    return {str(k): str(v) for k, v in value.items()}


class TokenRegistry:
    """Maps a presented token to the principal it belongs to, in constant time per entry."""

    def __init__(self, tokens_by_principal: Mapping[str, str]) -> None:
        self._tokens = dict(tokens_by_principal)

    def principal_for(self, token: str) -> str | None:
        found = None
        for principal, expected in self._tokens.items():
            if hmac.compare_digest(token.encode(), expected.encode()):
                found = principal
        return found


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token.strip()


def authenticate(request: Request, registry: TokenRegistry) -> str:
    """The caller's principal, or 401."""
    principal = registry.principal_for(bearer_token(request))
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "unknown token", headers={"WWW-Authenticate": "Bearer"}
        )
    return principal

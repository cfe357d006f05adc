"""Bearer-token authentication for external callers (senders, practices, staff).

One dependency for every route of every service: `Depends(caller("practice"))` answers 401
unless the request carries a token of that kind, and gives the route the caller's principal
(an MSH-4 code, an ODS code, a staff name). `own_practice` adds the rule every practice route
shares: the ODS code in the path must be the caller's own.
"""

import functools
import hmac
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

MIN_TOKEN_LENGTH = 16


def parse_token_map(raw: str, setting: str = "tokens") -> dict[str, str]:
    """`{"principal": "token", ...}` from an env var (JSON), refusing unusable tokens.

    A null, empty, short or repeated token would let a caller in as the wrong principal (or
    anyone in), so the service refuses to start with one.
    """
    value = json.loads(raw) if raw.strip() else {}
    if not isinstance(value, dict):
        raise ValueError(f"{setting}: expected a JSON object of principal -> token")
    tokens: dict[str, str] = {}
    for principal, token in value.items():
        if not isinstance(token, str) or len(token.strip()) < MIN_TOKEN_LENGTH:
            raise ValueError(
                f"{setting}: the token of {principal!r} must be a string of at least "
                f"{MIN_TOKEN_LENGTH} characters"
            )
        if not str(principal).strip():
            raise ValueError(f"{setting}: a principal name is empty")
        tokens[str(principal)] = token.strip()
    if len(set(tokens.values())) != len(tokens):
        raise ValueError(f"{setting}: two principals share a token")
    return tokens


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
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token.strip()


# Dependencies are coroutines: FastAPI runs a plain `def` dependency on a worker thread, a hop
# per request that costs more than the token lookup itself.
Dependency = Callable[[Request], Awaitable[str]]
_KIND_OF: dict[Dependency, str] = {}


def kind_of(dependency: object) -> str | None:
    """The caller kind a dependency made by `caller(kind)` authenticates, else None."""
    return _KIND_OF.get(dependency) if callable(dependency) else None


async def principal_of(request: Request, kind: str, token: str) -> str | None:
    """The principal a token of `kind` belongs to, or None: the one place a token is checked
    (bearer headers, and pages that sign in with a token)."""
    registry: TokenRegistry = request.app.state.runtime.callers[kind]
    return registry.principal_for(token)


@functools.cache
def caller(kind: str) -> Dependency:
    """A dependency: the principal of a caller of `kind` ("sender", "practice", "staff").

    One dependency per kind (cached), so FastAPI resolves it once per request.
    """

    async def authenticated(request: Request) -> str:
        principal = await principal_of(request, kind, bearer_token(request))
        if principal is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "unknown token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return principal

    authenticated.__name__ = f"{kind}_caller"
    _KIND_OF[authenticated] = kind
    return authenticated


Sender = Annotated[str, Depends(caller("sender"))]
Practice = Annotated[str, Depends(caller("practice"))]
Staff = Annotated[str, Depends(caller("staff"))]


async def own_practice(ods: str, practice: Practice) -> str:
    """The practice in the path (`{ods}`), when it is the caller's own; 403 otherwise."""
    if practice.upper() != ods.upper():
        raise HTTPException(status.HTTP_403_FORBIDDEN, "not your practice")
    return ods.upper()


OwnPractice = Annotated[str, Depends(own_practice)]

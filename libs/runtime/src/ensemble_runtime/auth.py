"""Bearer-token authentication for external callers (senders, practices, staff).

One dependency for every route of every service: `Depends(caller("practice"))` answers 401
unless the request carries a token of that kind, and gives the route the caller's principal
(an MSH-4 code, an ODS code, a staff name). `own_practice` adds the rule every practice route
shares: the ODS code in the path must be the caller's own. A hot route may instead call
`principal_for_request(request, kind)` itself, marked `@authenticates(kind)`.

A token is looked up first in the kind's env-configured `TokenRegistry`, then, when the
service definition names one (`ServiceDefinition.credential_lookups`), in the service's own
store: one indexed read per request on the reader engine, off the event loop. Nothing is
cached beyond the request, so a token revoked in the store is refused by the next request.
The caller's user (a person at a practice; for an env token, the principal) is
`caller_user(request)`.
"""

import functools
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request, status
from sqlmodel import Session

from ensemble_runtime.secrets import SecretFile

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


def token_sha256(token: str) -> str:
    """What a page session keeps of the token that signed it in (never the token itself)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class TokenRegistry:
    """Maps a presented token to the principal it belongs to, in constant time per entry."""

    def __init__(self, tokens_by_principal: Mapping[str, str]) -> None:
        self._tokens = dict(tokens_by_principal)

    def tokens(self) -> dict[str, str]:
        """Principal -> token, as they are now."""
        return dict(self._tokens)

    def principal_for(self, token: str) -> str | None:
        found = None
        for principal, expected in self._tokens.items():
            if hmac.compare_digest(token.encode(), expected.encode()):
                found = principal
        return found

    def holds(self, sha256: str) -> bool:
        """Whether a token as they are now has this `token_sha256`: a page session signed in
        with a token that was since rotated or revoked does not."""
        held = False
        for token in self.tokens().values():
            if hmac.compare_digest(token_sha256(token), sha256):
                held = True
        return held


class FileTokenRegistry(TokenRegistry):
    """Tokens from a secret file, re-read while the service runs (secrets.SecretFile): a
    rotated file lets the new tokens in and refuses the old ones within its check period."""

    def __init__(self, file: SecretFile[dict[str, str]]) -> None:
        super().__init__(file.value())
        self._file = file

    def tokens(self) -> dict[str, str]:
        self._tokens = self._file.value()
        return super().tokens()

    def principal_for(self, token: str) -> str | None:
        self._tokens = self._file.value()
        return super().principal_for(token)


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
_KIND_OF: dict[Callable[..., Any], str] = {}
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def kind_of(dependency: object) -> str | None:
    """The caller kind a dependency made by `caller(kind)` authenticates (or a route marked
    `authenticates(kind)`), else None."""
    return _KIND_OF.get(dependency) if callable(dependency) else None


@dataclass(frozen=True)
class Caller:
    """Who presented a token: the principal (an ODS code, ...) and the person (the user)."""

    principal: str
    user: str


# A store lookup of a caller kind: (reader session, presented token, now) -> the caller of a
# valid token, or None. Run through `ServiceRuntime.read`; it should be one indexed SELECT.
CredentialLookup = Callable[[Session, str, datetime], Caller | None]
_SCOPE_CALLERS = "ensemble.callers"  # per-request memo: (kind, token) -> Caller | None


async def authenticate(scope: MutableMapping[str, Any], kind: str, token: str) -> Caller | None:
    """The caller a token of `kind` belongs to, or None: the env registry of the kind first,
    then the service's store lookup for it, if any.

    The answer is kept in the request's scope only (the guard, the route's dependency and the
    audit line ask the same question), never across requests: a revoke takes effect at once.
    """
    memo: dict[tuple[str, str], Caller | None] = scope.setdefault(_SCOPE_CALLERS, {})
    key = (kind, token)
    if key not in memo:
        memo[key] = await _look_up(scope, kind, token)
    return memo[key]


async def _look_up(scope: MutableMapping[str, Any], kind: str, token: str) -> Caller | None:
    if not token:
        return None
    runtime = getattr(getattr(scope.get("app"), "state", None), "runtime", None)
    registry: TokenRegistry | None = getattr(runtime, "callers", {}).get(kind)
    principal = registry.principal_for(token) if registry is not None else None
    if principal is not None:
        return Caller(principal, principal)
    definition = getattr(runtime, "definition", None)
    lookups: Mapping[str, CredentialLookup] = getattr(definition, "credential_lookups", {})
    lookup = lookups.get(kind)
    if lookup is None or runtime is None:
        return None
    found: Caller | None = await runtime.read(lookup, token, runtime.clock())
    return found


async def principal_now(request: Request, kind: str) -> str | None:
    """The principal of the request's bearer token of `kind`, looked up again rather than from
    the request's memo: for a response that outlives the check at its start (a stream)."""
    found = await _look_up(request.scope, kind, bearer_token(request))
    return found.principal if found is not None else None


async def principal_of(request: Request, kind: str, token: str) -> str | None:
    """The principal a token of `kind` belongs to, or None: the one place a token is checked
    (bearer headers, and pages that sign in with a token). `caller_of` gives the user too."""
    found = await caller_of(request, kind, token)
    return found.principal if found is not None else None


async def caller_of(request: Request, kind: str, token: str) -> Caller | None:
    """The caller (principal and user) a token of `kind` belongs to, or None."""
    return await authenticate(request.scope, kind, token)


_SCOPE_DECLARED = "ensemble.declared_callers"  # kind -> Caller, for callers without a bearer


def declare_caller(request: Request, kind: str, found: Caller) -> None:
    """Name the caller of a request authenticated another way than by a bearer header (a
    page's session cookie), so the HTTP guard audits it like any other and `caller_user`
    answers."""
    request.scope.setdefault(_SCOPE_DECLARED, {})[kind] = found
    request.state.caller_user = found.user


def declared_callers(scope: Mapping[str, Any]) -> dict[str, Caller]:
    """The callers `declare_caller` named for this request."""
    return dict(scope.get(_SCOPE_DECLARED, {}))


def caller_user(request: Request) -> str:
    """The user of the request's authenticated caller (e.g. "alice" at a practice; an env
    token's principal), for "seen by" and the like. Only after a `caller(kind)` dependency
    has accepted the request: otherwise a LookupError (a route bug, not a caller's)."""
    user = getattr(request.state, "caller_user", None)
    if not isinstance(user, str):
        raise LookupError("no authenticated caller: the route needs a caller(kind) dependency")
    return user


@functools.cache
def caller(kind: str) -> Dependency:
    """A dependency: the principal of a caller of `kind` ("sender", "practice", "staff").

    One dependency per kind (cached), so FastAPI resolves it once per request.
    """

    async def authenticated(request: Request) -> str:
        return await principal_for_request(request, kind)

    authenticated.__name__ = f"{kind}_caller"
    _KIND_OF[authenticated] = kind
    return authenticated


async def principal_for_request(request: Request, kind: str) -> str:
    """The principal of the request's caller of `kind`: what `caller(kind)` gives a route,
    with the same 401s (no token, unknown token), for a route that calls it itself."""
    found = await caller_of(request, kind, bearer_token(request))
    if found is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "unknown token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    request.state.caller_user = found.user
    return found.principal


def authenticates(kind: str) -> Callable[[Endpoint], Endpoint]:
    """Mark a route that checks its caller itself (`principal_for_request(request, kind)`,
    before it reads the body) instead of taking a `caller(kind)` dependency, as a hot route
    may: FastAPI's dependency solving costs more per request than the check. The HTTP guard
    and the route checks see the mark as they see the dependency (`kind_of`)."""

    def mark(endpoint: Endpoint) -> Endpoint:
        _KIND_OF[endpoint] = kind
        return endpoint

    return mark


Sender = Annotated[str, Depends(caller("sender"))]
Practice = Annotated[str, Depends(caller("practice"))]
Staff = Annotated[str, Depends(caller("staff"))]


async def own_practice(ods: str, practice: Practice) -> str:
    """The practice in the path (`{ods}`), when it is the caller's own; 403 otherwise."""
    if practice.upper() != ods.upper():
        raise HTTPException(status.HTTP_403_FORBIDDEN, "not your practice")
    return ods.upper()


OwnPractice = Annotated[str, Depends(own_practice)]


@dataclass(frozen=True)
class PathCaller:
    """Who reads a practice's path: that practice's own token, or staff."""

    kind: str  # "practice" or "staff"
    ods: str  # the path's code, upper-cased (not validated: each service knows its codes)
    user: str


async def own_practice_or_staff(ods: str, request: Request) -> PathCaller:
    """The practice in the path (`{ods}`) for its own token, or any for a staff token: 401
    for anyone else, 403 for another practice's token. A route can name one caller kind only,
    so this one declares the caller itself (`declare_caller`) and the guard audits it."""
    token = bearer_token(request)
    for kind in ("practice", "staff"):
        found = await caller_of(request, kind, token)
        if found is None:
            continue
        if kind == "practice" and found.principal.upper() != ods.upper():
            raise HTTPException(status.HTTP_403_FORBIDDEN, "not your practice")
        declare_caller(request, kind, found)
        return PathCaller(kind, ods.upper(), found.user)
    raise HTTPException(
        status.HTTP_401_UNAUTHORIZED, "unknown token", headers={"WWW-Authenticate": "Bearer"}
    )


OwnPracticeOrStaff = Annotated[PathCaller, Depends(own_practice_or_staff)]

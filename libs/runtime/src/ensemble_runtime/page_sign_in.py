"""Signing in to a server-rendered page: a token once, then a session kept hashed in the
service's store (page_sessions.py), for browsers that cannot send a bearer header.

The browser holds only an opaque random id in an HttpOnly, SameSite=Strict cookie scoped to
the page's prefix (Secure by setting, and always over HTTPS). Every POST carries the
session's CSRF token (checked in constant time) and is refused when its Origin header names
another origin. The sign-in form itself has no session yet: a double-submit token (a
short-lived SameSite=Strict cookie echoed in a hidden field, which a cross-site page can
neither read nor set) and the same Origin check refuse a forged sign-in.

The token is checked where a bearer token is (`auth.caller_of`, on the service's token
registries: a rotated token file is read again, so the new token signs in and the old one
does not). A session keeps the sha256 of the token it signed in with. One of an env or file
token ends at its next request once the token is no longer among them (rotated or revoked);
for a token held in the service's store, the service's `live` read model checks it there
(revoked, expired, its user disabled) and reports the session without it when it holds.

Nothing here logs a token, a session id or a cookie.
"""

import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Generic, Protocol, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from ensemble_runtime import auth
from ensemble_runtime.page_sessions import SessionRepository, new_secret
from ensemble_runtime.service import ServiceRuntime, runtime_of

SIGN_IN_COOKIE_SECONDS = 30 * 60
MAX_NEXT = 500  # the longest page address a sign-in returns to
_TEN_DIGITS = re.compile(r"[0-9]{10}")

Runtime = Annotated[ServiceRuntime[Any, Any], Depends(runtime_of)]


class Session(Protocol):
    """What a page needs of a live session (page_sessions.SignedIn, or a service's own)."""

    @property
    def user(self) -> str: ...

    @property
    def csrf_token(self) -> str: ...


Who = TypeVar("Who", bound=Session)
# The sign-in form: (its CSRF token, the reason it is shown again or None, the status, the
# page to return to or "") -> the page.
SignInForm = Callable[[str, str | None, int, str], Response]


def see_other(location: str) -> RedirectResponse:
    return RedirectResponse(location, 303, headers={"Cache-Control": "no-store"})


def same_origin(request: Request) -> bool:
    """No Origin header (an older browser), or the page's own scheme, host and port."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    own = f"{request.url.scheme}://{request.url.netloc}"
    return origin.lower() == own.lower()


def matches(expected: str, given: object) -> bool:
    return isinstance(given, str) and hmac.compare_digest(
        expected.encode("utf-8", "surrogatepass"), given.encode("utf-8", "surrogatepass")
    )


def has_bearer(request: Request) -> bool:
    """Whether the request came with an Authorization header (an API client, not a page)."""
    return "authorization" in request.headers


def this_page(request: Request) -> str:
    """The request's path and query, for a sign-in to return to (the form holds it): the path
    alone when the query has ten digits in a row, which may be an NHS number."""
    query = request.url.query
    if not query or _TEN_DIGITS.search(query):
        return request.url.path
    return f"{request.url.path}?{query}"


class Answer(Exception):
    """A response that ends a request early (a refusal, a redirect to sign in)."""

    def __init__(self, response: Response) -> None:
        self.response = response


@dataclass(frozen=True)
class PageSignIn(Generic[Who]):
    """One page's sign-in: its cookies, its caller kinds, its table of sessions."""

    prefix: str  # the cookies' path; the sign-in returns only to pages under it
    home: str  # where signing in (with no page to return to), out, or an expiry lands
    kinds: tuple[str, ...]  # the caller kinds (auth) whose tokens sign in, tried in order
    session_cookie: str
    sign_in_cookie: str
    sign_in_form: SignInForm
    max_form_fields: int
    live: Callable[..., Any]  # the read model: (session, id, now) -> Who | None
    principal_of: Callable[[Who], str]  # a live session's principal, for the audit
    store_of: Callable[[Any], SessionRepository]  # its repository in a unit of work
    refused: Callable[[int, str, Who | None], Response]
    log: Any
    log_field: str  # the principal's name in the signed-in log line
    normalise: Callable[[str], str] = str  # a signed-in token's principal, as kept
    kind_of: Callable[[Who], str] | None = None  # a session's caller kind (else kinds[0])

    def set_cookie(
        self,
        request: Request,
        runtime: Runtime,
        response: Response,
        name: str,
        value: str,
        age: int = SIGN_IN_COOKIE_SECONDS,
    ) -> None:
        secure = runtime.settings.page_cookie_secure or request.url.scheme == "https"
        response.set_cookie(
            name,
            value,
            max_age=age,
            path=self.prefix,
            httponly=True,
            samesite="strict",
            secure=secure,
        )

    async def signed_in(self, request: Request, runtime: Runtime) -> Who | None:
        session_id = request.cookies.get(self.session_cookie, "")
        if not session_id or len(session_id) > 100:
            return None
        who: Who | None = await runtime.read(self.live, session_id, runtime.clock())
        if who is None:
            return None
        kind = self.kind_of(who) if self.kind_of is not None else self.kinds[0]
        if not self._token_held(runtime, kind, who):
            self.log.info(f"{kind} page session ended: its token was rotated or revoked")
            return None
        # Audited by the guard like a bearer's request.
        auth.declare_caller(request, kind, auth.Caller(self.principal_of(who), who.user))
        return who

    def _token_held(self, runtime: Runtime, kind: str, who: Who) -> bool:
        """Whether the token the session signed in with is still one of its kind's."""
        # Sessions of a store-held token (or of a table without the column) keep none.
        sha256 = getattr(who, "token_sha256", "")
        if not sha256:
            return True
        registry = runtime.callers.get(kind)
        return registry is not None and registry.holds(sha256)

    async def form(self, request: Request) -> FormData:
        """A small urlencoded form: no files, a few fields (the guard caps the body)."""
        return await request.form(max_files=0, max_fields=self.max_form_fields)

    async def checked(self, request: Request, runtime: Runtime) -> tuple[Who, FormData]:
        """The signed-in caller of a POST and its form, or the refusal (raised as Answer)."""
        who = await self.signed_in(request, runtime)
        if who is None:
            raise Answer(see_other(self.home))  # expired: sign in again
        form = await self.form(request)
        if not same_origin(request) or not matches(who.csrf_token, form.get("csrf_token")):
            message = "This form has expired. Reload the page and try again."
            raise Answer(self.refused(403, message, who))
        return who, form

    def sign_in_page(
        self,
        request: Request,
        runtime: Runtime,
        error: str | None = None,
        status_code: int = 200,
        next_page: str = "",
    ) -> Response:
        csrf = new_secret()
        response = self.sign_in_form(csrf, error, status_code, self._returnable(next_page))
        self.set_cookie(request, runtime, response, self.sign_in_cookie, csrf)
        return response

    async def sign_in(self, request: Request, runtime: Runtime) -> Response:
        """The sign-in form's POST: a known token opens a session (303 to the page it came
        from, else home), else the form again with the reason."""
        form = await self.form(request)
        expected = request.cookies.get(self.sign_in_cookie, "")
        if (
            not same_origin(request)
            or not expected
            or not matches(expected, form.get("csrf_token"))
        ):
            return self.refused(403, "This sign-in form has expired. Go back and try again.", None)
        next_page = self._returnable(form.get("next"))
        token = form.get("token")
        presented = token.strip() if isinstance(token, str) else ""
        found, kind = None, self.kinds[0]
        if presented:
            for kind in self.kinds:
                found = await auth.caller_of(request, kind, presented)
                if found is not None:
                    break
        if found is None:
            message = "That token was not recognised."
            return self.sign_in_page(request, runtime, message, 401, next_page)
        principal, user = self.normalise(found.principal), found.user
        lifetime = timedelta(hours=runtime.settings.page_session_hours)
        # Kept for every token: the registry's are checked by `_token_held`; a service whose
        # store holds tokens checks its own in the `live` read model (which then reports none).
        sha256 = auth.token_sha256(presented)

        def open_session(uow: Any) -> str:
            store = self.store_of(uow)
            session_id = store.open(principal, user, runtime.clock(), lifetime, kind, sha256)
            uow.commit()
            return session_id

        session_id = await runtime.transact(open_session)
        self.log.info(f"{kind} page signed in", **{self.log_field: principal})
        response = see_other(next_page or self.home)
        age = int(lifetime.total_seconds())
        self.set_cookie(request, runtime, response, self.session_cookie, session_id, age)
        response.delete_cookie(self.sign_in_cookie, path=self.prefix)
        return response

    async def sign_out(self, request: Request, runtime: Runtime) -> Response:
        try:
            await self.checked(request, runtime)
        except Answer as answer:
            return answer.response
        session_id = request.cookies.get(self.session_cookie, "")

        def close_session(uow: Any) -> None:
            self.store_of(uow).close(session_id)
            uow.commit()

        await runtime.transact(close_session)
        response = see_other(self.home)
        response.delete_cookie(self.session_cookie, path=self.prefix)
        return response

    def add_routes(
        self, router: APIRouter, signed_in_page: Callable[[Who], Response] | None = None
    ) -> None:
        """The sign-in's routes on the page's router (its prefix is `prefix`): POST
        `/sign-in` and `/sign-out`, and with `signed_in_page` GET `/sign-in`, the form or who
        is signed in (a page with its own home leaves that to the home)."""

        async def sign_in(request: Request, runtime: Runtime) -> Response:
            return await self.sign_in(request, runtime)

        async def sign_out(request: Request, runtime: Runtime) -> Response:
            return await self.sign_out(request, runtime)

        router.add_api_route("/sign-in", sign_in, methods=["POST"])
        router.add_api_route("/sign-out", sign_out, methods=["POST"])
        if signed_in_page is None:
            return
        shown = signed_in_page

        async def sign_in_form(request: Request, runtime: Runtime) -> Response:
            who = await self.signed_in(request, runtime)
            return self.sign_in_page(request, runtime) if who is None else shown(who)

        router.add_api_route("/sign-in", sign_in_form, methods=["GET"])

    def _returnable(self, page: object) -> str:
        """A page of this prefix to return to after signing in, else "" (never elsewhere:
        no other host, no other service's path)."""
        if not isinstance(page, str) or len(page) > MAX_NEXT or not page.isprintable():
            return ""
        if not page.startswith(f"{self.prefix.rstrip('/')}/") or "\\" in page:
            return ""
        return page

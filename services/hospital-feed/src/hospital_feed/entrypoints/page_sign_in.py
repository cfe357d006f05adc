"""Signing in to a server-rendered page, as the practice page (pages.py) and the staff page
(staff_pages.py) both do: a token once, then a session kept hashed in the store.

The browser holds only an opaque random id in an HttpOnly, SameSite=Strict cookie scoped to
the page's prefix. Every POST carries the session's CSRF token (checked in constant time)
and is refused when its Origin header names another origin. The sign-in form itself has no
session yet: a double-submit token (a short-lived SameSite=Strict cookie echoed in a hidden
field, which a cross-site page can neither read nor set) and the same Origin check refuse a
forged sign-in.
"""

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Generic, Protocol, TypeVar

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData

from ensemble_runtime import auth
from ensemble_runtime.service import ServiceRuntime, runtime_of
from hospital_feed.adapters import sessions

TEMPLATES = Path(__file__).parent / "templates"
SIGN_IN_COOKIE_SECONDS = 30 * 60
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    # Not no-referrer: with it, browsers send `Origin: null` on the page's own form posts.
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
_ENVIRONMENT = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
)

Runtime = Annotated[ServiceRuntime[Any, Any], Depends(runtime_of)]


class Session(Protocol):
    """What a page needs of a live session (adapters/sessions.py, adapters/staff_sessions.py)."""

    @property
    def user(self) -> str: ...

    @property
    def csrf_token(self) -> str: ...


Who = TypeVar("Who", bound=Session)


def render(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = _ENVIRONMENT.get_template(template).render(**context)
    return HTMLResponse(html, status_code, headers=SECURITY_HEADERS)


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


class Answer(Exception):
    """A response that ends a request early (a refusal, a redirect to sign in)."""

    def __init__(self, response: Response) -> None:
        self.response = response


@dataclass(frozen=True)
class PageSignIn(Generic[Who]):
    """One page's sign-in: its cookies, its caller kind, its table of sessions."""

    prefix: str  # the cookies' path
    home: str  # where signing in, out, or an expired session lands
    kind: str  # the caller kind of its tokens (auth), "practice" or "staff"
    session_cookie: str
    sign_in_cookie: str
    sign_in_template: str
    max_form_fields: int
    live: Callable[..., Any]  # the read model: (session, id, now) -> Who | None
    principal_of: Callable[[Who], str]  # a live session's principal, for the audit
    store_of: Callable[[Any], sessions.SessionRepository]  # its repository in a uow
    refused: Callable[[int, str, Who | None], Response]
    log: Any
    log_field: str  # the principal's name in the signed-in log line
    normalise: Callable[[str], str] = str  # a signed-in token's principal, as kept

    def set_cookie(
        self, response: Response, runtime: Runtime, name: str, value: str, age: int
    ) -> None:
        secure = runtime.settings.page_cookie_secure
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
        if who is not None:  # audited by the guard like a bearer's request
            auth.declare_caller(request, self.kind, auth.Caller(self.principal_of(who), who.user))
        return who

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
        self, runtime: Runtime, error: str | None = None, status_code: int = 200
    ) -> Response:
        csrf = sessions.new_secret()
        response = render(
            self.sign_in_template, status_code, csrf_token=csrf, error=error, who=None
        )
        self.set_cookie(response, runtime, self.sign_in_cookie, csrf, SIGN_IN_COOKIE_SECONDS)
        return response

    async def sign_in(self, request: Request, runtime: Runtime) -> Response:
        """The sign-in form's POST: a known token opens a session (303 home), else the form
        again with the reason."""
        form = await self.form(request)
        expected = request.cookies.get(self.sign_in_cookie, "")
        if (
            not same_origin(request)
            or not expected
            or not matches(expected, form.get("csrf_token"))
        ):
            return self.refused(403, "This sign-in form has expired. Go back and try again.", None)
        token = form.get("token")
        found = None
        if isinstance(token, str) and token.strip():
            found = await auth.caller_of(request, self.kind, token.strip())
        if found is None:
            return self.sign_in_page(runtime, "That token was not recognised.", 401)
        principal, user = self.normalise(found.principal), found.user
        lifetime = timedelta(hours=runtime.settings.page_session_hours)

        def open_session(uow: Any) -> str:
            session_id = self.store_of(uow).open(principal, user, runtime.clock(), lifetime)
            uow.commit()
            return session_id

        session_id = await runtime.transact(open_session)
        self.log.info(f"{self.kind} page signed in", **{self.log_field: principal})
        response = see_other(self.home)
        age = int(lifetime.total_seconds())
        self.set_cookie(response, runtime, self.session_cookie, session_id, age)
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

"""The sign-in pages of a service without templates of its own (page_sign_in.py): the form,
the signed-in page with its sign-out button, and a refusal, built with `html.escape`; no
script, one hashed inline style."""

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from typing import Any, Final

from fastapi.responses import HTMLResponse, Response

from ensemble_runtime.page_sessions import SignedIn
from ensemble_runtime.page_sign_in import PageSignIn

STYLE: Final = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 36rem; color: #111;
  padding: 0 1rem; line-height: 1.45; }
label { display: block; font-weight: bold; margin-top: 1rem; }
.hint { color: #505a5f; margin: .25rem 0; }
input[type=password] { width: 100%; box-sizing: border-box; padding: .5rem; font: inherit;
  border: 2px solid #0b0c0c; }
button { margin-top: 1rem; padding: .5rem 1rem; font: inherit; color: #fff; background: #00703c;
  border: 0; box-shadow: 0 2px 0 #002d18; cursor: pointer; }
button:focus, input:focus, a:focus { outline: 3px solid #fd0; outline-offset: 0; }
.error { border: 4px solid #d4351c; padding: .5rem 1rem; }
"""
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
HEADERS: Final = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    # Not no-referrer: with it, browsers send `Origin: null` on the page's own form posts.
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def _page(title: str, body: str, status_code: int) -> HTMLResponse:
    html = (
        '<!doctype html><html lang="en-GB"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
    return HTMLResponse(html, status_code, headers=HEADERS)


@dataclass(frozen=True)
class PlainPages:
    """One service's sign-in pages: what it is called, where its forms post."""

    title: str  # "the huddle sheets", in "Sign in to the huddle sheets"
    sign_in_action: str
    sign_out_action: str
    label: str = "Access token"
    hint: str = "The token you were given for Ensemble."

    def sign_in_form(
        self, csrf_token: str, error: str | None, status_code: int, next_page: str
    ) -> Response:
        problem = (
            '<div class="error" role="alert"><h2>There is a problem</h2>'
            f'<p><a href="#token">{escape(error)}</a></p></div>'
            if error
            else ""
        )
        invalid = ' aria-invalid="true"' if error else ""
        body = (
            f"<h1>Sign in to {escape(self.title)}</h1>{problem}"
            f'<form method="post" action="{escape(self.sign_in_action)}" autocomplete="off">'
            f'<input type="hidden" name="csrf_token" value="{escape(csrf_token)}">'
            f'<input type="hidden" name="next" value="{escape(next_page)}">'
            f'<label for="token">{escape(self.label)}</label>'
            f'<p class="hint" id="token-hint">{escape(self.hint)}</p>'
            '<input id="token" name="token" type="password" required spellcheck="false" '
            f'aria-describedby="token-hint"{invalid}>'
            '<button type="submit">Sign in</button></form>'
        )
        return _page(f"Sign in - {self.title}", body, status_code)

    def signed_in(self, who: SignedIn) -> Response:
        """Who is signed in, and the sign-out button."""
        body = (
            f"<h1>Signed in to {escape(self.title)}</h1>"
            f"<p>Signed in as {escape(who.user)} ({escape(who.kind)} {escape(who.principal)})."
            f'</p><form method="post" action="{escape(self.sign_out_action)}">'
            f'<input type="hidden" name="csrf_token" value="{escape(who.csrf_token)}">'
            '<button type="submit">Sign out</button></form>'
        )
        return _page(f"Signed in - {self.title}", body, 200)

    def page_sign_in(
        self,
        prefix: str,
        home: str,
        kinds: tuple[str, ...],
        cookies: str,
        live: Callable[..., SignedIn | None],
        log: Any,
    ) -> PageSignIn[SignedIn]:
        """The sign-in these pages show, on a `PageSessionColumns` table (`live` reads it; the
        unit of work holds it as `page_sessions`): cookies `<cookies>_session` and
        `<cookies>_sign_in` (the pre-session double-submit token) under `prefix`."""
        return PageSignIn[SignedIn](
            prefix=prefix,
            home=home,
            kinds=kinds,
            session_cookie=f"{cookies}_session",
            sign_in_cookie=f"{cookies}_sign_in",
            sign_in_form=self.sign_in_form,
            max_form_fields=8,
            live=live,
            principal_of=lambda who: who.principal,
            store_of=lambda uow: uow.page_sessions,
            refused=self.refused,
            log=log,
            log_field="principal",
            kind_of=lambda who: who.kind,
        )

    def refused(self, status_code: int, message: str, who: object = None) -> Response:
        body = f'<h1>{escape(self.title.capitalize())}</h1><p class="error">{escape(message)}</p>'
        return _page("Refused", body, status_code)

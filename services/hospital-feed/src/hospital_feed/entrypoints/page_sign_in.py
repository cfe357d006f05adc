"""hospital-feed's signed-in pages, the practice page (pages.py) and the staff page
(staff_pages.py): the runtime's sign-in (ensemble_runtime.page_sign_in: a token once, then a
session kept hashed in the store, CSRF on every POST) with this service's templates.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from ensemble_runtime.page_sign_in import Answer, PageSignIn, Runtime, see_other

__all__ = ["TEMPLATES", "Answer", "PageSignIn", "Runtime", "render", "see_other", "sign_in_form"]

TEMPLATES = Path(__file__).parent / "templates"
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


def render(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = _ENVIRONMENT.get_template(template).render(**context)
    return HTMLResponse(html, status_code, headers=SECURITY_HEADERS)


def sign_in_form(template: str) -> Callable[[str, str | None, int, str], Response]:
    """A page's sign-in form from its template (which always returns to the page's home)."""

    def form(csrf_token: str, error: str | None, status_code: int, _next: str) -> Response:
        return render(template, status_code, csrf_token=csrf_token, error=error, who=None)

    return form

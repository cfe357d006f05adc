"""Signing in to the outcomes page from a browser, which cannot send a token as a header:
the runtime's page sign-in (ensemble_runtime.page_sign_in) with a staff or a practice
token, its session kept hashed in scoring's store (`scoring_page_sessions`) and its cookies
scoped to `/v1/outcomes`. A staff session reads every practice, a practice's its own only,
as their bearer tokens do. `GET /v1/outcomes/sign-in` shows the form (or who is signed in,
and the sign-out button); the page shows the form in its place to a browser not signed in.
"""

import structlog
from fastapi import APIRouter

from ensemble_runtime.page_forms import PlainPages
from scoring.adapters import page_sessions

PREFIX = "/v1/outcomes"
router = APIRouter(prefix=PREFIX, include_in_schema=False)
log = structlog.get_logger(__name__)
PAGES = PlainPages(
    title="the outcomes report",
    sign_in_action=f"{PREFIX}/sign-in",
    sign_out_action=f"{PREFIX}/sign-out",
    hint="The staff token, or your practice's token, that you were given for Ensemble.",
)
OUTCOMES_SIGN_IN = PAGES.page_sign_in(
    PREFIX, f"{PREFIX}/page", ("staff", "practice"), "scoring", page_sessions.signed_in, log
)
SESSION_COOKIE = OUTCOMES_SIGN_IN.session_cookie
SIGN_IN_COOKIE = OUTCOMES_SIGN_IN.sign_in_cookie  # the pre-session double-submit token

OUTCOMES_SIGN_IN.add_routes(router, PAGES.signed_in)

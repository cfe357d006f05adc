"""Signing in to the huddle sheet from a browser, which cannot send the staff token as a
header: the runtime's page sign-in (ensemble_runtime.page_sign_in) with a staff token, its
session kept hashed in referral's store (`referral_page_sessions`) and its cookies scoped
to `/v1/teams`. `GET /v1/teams/sign-in` shows the form (or who is signed in, and the
sign-out button); the sheet shows the form in its place to a browser not signed in.
"""

import structlog
from fastapi import APIRouter

from ensemble_runtime.page_forms import PlainPages
from referral.adapters import page_sessions

PREFIX = "/v1/teams"
router = APIRouter(prefix=PREFIX, include_in_schema=False)
log = structlog.get_logger(__name__)
PAGES = PlainPages(
    title="the huddle sheets",
    sign_in_action=f"{PREFIX}/sign-in",
    sign_out_action=f"{PREFIX}/sign-out",
    label="Staff access token",
    hint="The staff token you were given for Ensemble.",
)
SHEET_SIGN_IN = PAGES.page_sign_in(
    PREFIX, f"{PREFIX}/sign-in", ("staff",), "referral", page_sessions.signed_in, log
)
SESSION_COOKIE = SHEET_SIGN_IN.session_cookie
SIGN_IN_COOKIE = SHEET_SIGN_IN.sign_in_cookie  # the pre-session double-submit token

SHEET_SIGN_IN.add_routes(router, PAGES.signed_in)

"""Signing in to the huddle sheet from a browser, which cannot send the staff token as a
header: the runtime's page sign-in (ensemble_runtime.page_sign_in) with a staff token, its
session kept hashed in referral's store (`referral_page_sessions`) and its cookies scoped
to `/v1/teams`. `GET /v1/teams/sign-in` shows the form (or who is signed in, and the
sign-out button); the sheet shows the form in its place to a browser not signed in.
"""

import structlog
from fastapi import APIRouter

from ensemble_runtime.page_forms import PlainPages
from ensemble_runtime.page_sessions import SignedIn
from ensemble_runtime.page_sign_in import PageSignIn
from referral.adapters import page_sessions

PREFIX = "/v1/teams"
SESSION_COOKIE = "referral_session"
SIGN_IN_COOKIE = "referral_sign_in"  # the pre-session double-submit token
router = APIRouter(prefix=PREFIX, include_in_schema=False)
log = structlog.get_logger(__name__)
PAGES = PlainPages(
    title="the huddle sheets",
    sign_in_action=f"{PREFIX}/sign-in",
    sign_out_action=f"{PREFIX}/sign-out",
    label="Staff access token",
    hint="The staff token you were given for Ensemble.",
)
SHEET_SIGN_IN = PageSignIn[SignedIn](
    prefix=PREFIX,
    home=f"{PREFIX}/sign-in",
    kinds=("staff",),
    session_cookie=SESSION_COOKIE,
    sign_in_cookie=SIGN_IN_COOKIE,
    sign_in_form=PAGES.sign_in_form,
    max_form_fields=8,
    live=page_sessions.signed_in,
    principal_of=lambda who: who.principal,
    store_of=lambda uow: uow.page_sessions,
    refused=PAGES.refused,
    log=log,
    log_field="principal",
    kind_of=lambda who: who.kind,
)

SHEET_SIGN_IN.add_routes(router, PAGES.signed_in)

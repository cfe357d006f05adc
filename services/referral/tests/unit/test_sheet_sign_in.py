"""The huddle sheet for a browser: the sign-in form in its place, a staff token once, then a
session kept hashed in referral's store; CSRF and Origin on every POST, sign-out, expiry."""

import json
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import structlog
from sqlmodel import Session, select

from ensemble_devkit.testkit import ServiceKit, hidden_fields, token
from ensemble_runtime.auth import token_sha256
from ensemble_runtime.page_sessions import session_sha256
from referral.adapters.page_sessions import ReferralPageSession
from referral.entrypoints.sheet_sign_in import SESSION_COOKIE, SIGN_IN_COOKIE
from referral.service import DEFINITION

from ..support import Kit
from .test_huddle_http import URL, opened_item, with_news

SHEET = f"{URL}/sheet"
ORIGIN = "http://referral"


def fields(page: httpx.Response) -> dict[str, str]:
    return hidden_fields(page.text)


def sessions(kit: Kit) -> list[ReferralPageSession]:
    def query(session: Session) -> list[ReferralPageSession]:
        return list(session.exec(select(ReferralPageSession)))

    return kit.read(query)


async def sign_in(http: httpx.AsyncClient, secret: str, **changes: str) -> httpx.Response:
    form = await http.get(SHEET)
    return await http.post(
        "/v1/teams/sign-in",
        data=fields(form) | {"token": secret} | changes,
        headers={"Origin": ORIGIN},
    )


async def test_a_browser_not_signed_in_gets_the_form_that_returns_to_the_sheet(kit: Kit) -> None:
    async with kit.client() as browser:
        page = await browser.get(SHEET)
    assert page.status_code == 401
    assert page.headers["cache-control"] == "no-store"
    assert "form-action 'self'" in page.headers["content-security-policy"]
    assert '<label for="token">Staff access token</label>' in page.text
    assert fields(page)["next"] == SHEET
    cookie = page.headers["set-cookie"]
    assert cookie.startswith(f"{SIGN_IN_COOKIE}=")
    assert all(part in cookie for part in ("HttpOnly", "Path=/v1/teams", "SameSite=strict"))
    assert "Secure" not in cookie  # page_cookie_secure is off for plain-HTTP localhost


async def test_signing_in_with_a_staff_token_opens_the_sheet(kit: Kit) -> None:
    with_news(kit)
    await opened_item(kit)
    async with kit.client() as browser:
        with structlog.testing.capture_logs() as captured:
            signed = await sign_in(browser, token("staff", "staff"))
            session_id = browser.cookies[SESSION_COOKIE]
            sheet = await browser.get(SHEET)
            signed_in = await browser.get("/v1/teams/sign-in")
    assert (signed.status_code, signed.headers["location"]) == (303, SHEET)
    cookie = next(c for c in signed.headers.get_list("set-cookie") if SESSION_COOKIE in c)
    assert all(part in cookie for part in ("HttpOnly", "Path=/v1/teams", "SameSite=strict"))
    assert "Max-Age=43200" in cookie  # 12 hours
    (stored,) = sessions(kit)
    assert stored.session_sha256 == session_sha256(session_id) != session_id
    assert (stored.kind, stored.principal, stored.expires_at - stored.created_at) == (
        "staff",
        "staff",
        timedelta(hours=12),
    )
    assert sheet.status_code == 200 and "999 000 0018" in sheet.text
    assert "<script" not in sheet.text
    assert "Signed in as staff (staff staff)" in signed_in.text
    logged = repr(captured)
    assert token("staff", "staff") not in logged and session_id not in logged
    audit = [line for line in captured if line["event"] == "audit"]
    assert {(line["principal_kind"], line["route"]) for line in audit} >= {
        ("staff", "/v1/teams/{team}/huddles/{on}/sheet")
    }


async def test_no_other_token_and_no_forged_form_signs_in(kit: Kit) -> None:
    async with kit.client() as browser:
        practice = await sign_in(browser, token("practice", "L85001"))
        forged = await sign_in(browser, token("staff", "staff"), csrf_token="x" * 43)
        form = await browser.get(SHEET)
        elsewhere = await browser.post(
            "/v1/teams/sign-in",
            data=fields(form) | {"token": token("staff", "staff")},
            headers={"Origin": "https://evil.example"},
        )
    assert practice.status_code == 401 and "That token was not recognised." in practice.text
    assert fields(practice)["next"] == SHEET  # the form again, still returning to the sheet
    assert (forged.status_code, elsewhere.status_code) == (403, 403)
    assert sessions(kit) == []


async def test_a_sign_in_returns_only_to_a_page_of_its_own(kit: Kit) -> None:
    async with kit.client() as browser, kit.client() as another:
        away = await sign_in(browser, token("staff", "staff"), next="https://evil.example/x")
        other = await sign_in(another, token("staff", "staff"), next="/v1/referrals")
    assert away.headers["location"] == other.headers["location"] == "/v1/teams/sign-in"


async def test_signing_out_needs_the_session_csrf_and_ends_the_session(kit: Kit) -> None:
    with_news(kit)
    await opened_item(kit)
    async with kit.client() as browser:
        await sign_in(browser, token("staff", "staff"))
        page = await browser.get("/v1/teams/sign-in")
        csrf = fields(page)["csrf_token"]
        forged = await browser.post("/v1/teams/sign-out", data={"csrf_token": "x" * 43})
        still = await browser.get(SHEET)
        out = await browser.post(
            "/v1/teams/sign-out", data={"csrf_token": csrf}, headers={"Origin": ORIGIN}
        )
        after = await browser.get(SHEET)
    assert (forged.status_code, still.status_code) == (403, 200)
    assert (out.status_code, out.headers["location"]) == (303, "/v1/teams/sign-in")
    assert after.status_code == 401 and 'name="token"' in after.text
    assert sessions(kit) == []


async def test_a_session_expires(kit: Kit) -> None:
    with_news(kit)
    await opened_item(kit)
    async with kit.client() as browser:
        await sign_in(browser, token("staff", "staff"))
        kit.clock.advance(hours=12)
        expired = await browser.get(SHEET)
    assert expired.status_code == 401 and 'name="token"' in expired.text


async def test_a_bearer_header_is_still_the_api_s_answer(kit: Kit) -> None:
    async with kit.client() as anonymous:
        anonymous.headers["Authorization"] = "Bearer nonsense"
        unknown = await anonymous.get(SHEET)
    assert unknown.status_code == 401 and unknown.json()["detail"] == "unknown token"


async def test_the_cookies_are_secure_over_https_whatever_the_setting(kit: Kit) -> None:
    transport = httpx.ASGITransport(app=kit.service.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://referral") as browser:
        page = await browser.get(SHEET)
    assert "Secure" in page.headers["set-cookie"]


async def test_a_rotated_token_file_signs_in_the_new_token_and_ends_the_old_one_s_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = "staff-old-token-0123", "staff-new-token-9876"
    tokens_file = tmp_path / "staff-tokens"
    tokens_file.write_text(json.dumps({"alice": old}))
    monkeypatch.setenv("REFERRAL_STAFF_TOKENS_FILE", str(tokens_file))
    # Read again on every use, as it would be 2 s after a rotation.
    kit: Kit = ServiceKit(DEFINITION, f"sqlite:///{tmp_path / 'r.db'}", secret_reload_seconds=0)
    try:
        async with kit.client() as first, kit.client() as second:
            with structlog.testing.capture_logs() as captured:
                await sign_in(first, old)
                before = await first.get("/v1/teams/sign-in")
                tokens_file.write_text(json.dumps({"alice": new}))  # rotated
                after = await first.get(SHEET)
                with_old = await sign_in(second, old)
                with_new = await sign_in(second, new)
                signed_in = await second.get("/v1/teams/sign-in")
                tokens_file.write_text(json.dumps({"bob": "staff-bob-token-4567"}))  # revoked
                revoked = await second.get(SHEET)
        kept = {stored.token_sha256 for stored in sessions(kit)}
    finally:
        kit.dispose()
    assert "Signed in as alice" in before.text
    assert after.status_code == 401 and 'name="token"' in after.text  # signed out
    assert with_old.status_code == 401 and "That token was not recognised." in with_old.text
    assert with_new.status_code == 303 and "Signed in as alice" in signed_in.text
    assert revoked.status_code == 401 and 'name="token"' in revoked.text
    events = [entry["event"] for entry in captured]
    assert events.count("staff page session ended: its token was rotated or revoked") == 2
    assert all(secret not in repr(captured) for secret in (old, new))
    assert kept == {token_sha256(old), token_sha256(new)}  # a digest, never the token

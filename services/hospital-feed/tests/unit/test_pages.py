"""The practice inbox page: sign-in sessions in the store, CSRF, the forms, isolation."""

import json
import re
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import httpx
import structlog
from sqlmodel import Session, select

from ensemble_devkit.testkit import token
from hospital_feed.adapters.orm import PatientRisk
from hospital_feed.adapters.sessions import PageSession, session_sha256
from hospital_feed.entrypoints.pages import SESSION_COOKIE, SIGN_IN_COOKIE

from ..support import FeedKit, alerts, feed_kit
from .test_alerts import encounter

ORIGIN = "http://hospital-feed"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(page: httpx.Response) -> str:
    found = _CSRF.search(page.text)
    assert found is not None, "the page has no CSRF field"
    return found.group(1)


def listed(page: httpx.Response) -> str:
    """The page before its live-alert template (which holds an empty card)."""
    return page.text.partition('<template id="alert-template">')[0]


async def sign_in(http: httpx.AsyncClient, ods: str) -> httpx.Response:
    form = await http.get("/practice/")
    return await http.post(
        "/practice/sign-in",
        data={"token": token("practice", ods), "csrf_token": csrf_of(form)},
        headers={"Origin": ORIGIN},
    )


def page_sessions(kit: FeedKit) -> list[PageSession]:
    def query(session: Session) -> list[PageSession]:
        return list(session.exec(select(PageSession)))

    return kit.read(query)


async def test_the_sign_in_page_is_what_anyone_unsigned_gets(kit: FeedKit) -> None:
    async with kit.client() as http:
        page = await http.get("/practice/")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert '<html lang="en">' in page.text
    assert '<label for="token">' in page.text
    cookie = page.headers["set-cookie"]
    assert cookie.startswith(f"{SIGN_IN_COOKIE}=")
    assert all(part in cookie for part in ("HttpOnly", "Path=/practice", "SameSite=strict"))
    assert "Secure" not in cookie  # page_cookie_secure is off for plain-HTTP localhost


async def test_signing_in_opens_a_stored_session_behind_an_opaque_cookie(kit: FeedKit) -> None:
    async with kit.client() as http:
        signed = await sign_in(http, "L85001")
        session_id = http.cookies[SESSION_COOKIE]
        inbox = await http.get("/practice/")
    assert (signed.status_code, signed.headers["location"]) == (303, "/practice/")
    cookie = next(c for c in signed.headers.get_list("set-cookie") if SESSION_COOKIE in c)
    assert all(part in cookie for part in ("HttpOnly", "Path=/practice", "SameSite=strict"))
    assert "Max-Age=43200" in cookie  # 12 hours
    (stored,) = page_sessions(kit)
    assert stored.session_sha256 == session_sha256(session_id) != session_id
    assert (stored.practice_ods, stored.expires_at - stored.created_at) == (
        "L85001",
        timedelta(hours=12),
    )
    assert token("practice", "L85001") not in cookie
    assert inbox.status_code == 200 and "Hospital alerts for L85001" in inbox.text


async def test_the_secure_flag_follows_the_setting(tmp_path: Path) -> None:
    kit = feed_kit(f"sqlite:///{tmp_path / 'secure.db'}", page_cookie_secure=True)
    try:
        async with kit.client() as http:
            page = await http.get("/practice/")
        assert "Secure" in page.headers["set-cookie"]
    finally:
        kit.dispose()


async def test_a_sign_in_needs_its_form_token_its_origin_and_a_good_token(kit: FeedKit) -> None:
    async with kit.client() as http:
        form = await http.get("/practice/")
        csrf = csrf_of(form)
        good = token("practice", "L85001")
        forged = await http.post("/practice/sign-in", data={"token": good, "csrf_token": "x" * 43})
        elsewhere = await http.post(
            "/practice/sign-in",
            data={"token": good, "csrf_token": csrf},
            headers={"Origin": "https://evil.example"},
        )
        wrong = await http.post(
            "/practice/sign-in", data={"token": "not-a-token-at-all", "csrf_token": csrf}
        )
        sender = await http.post(  # a sender's token is no practice's (a fresh form each time)
            "/practice/sign-in",
            data={"token": token("sender", "RCB"), "csrf_token": csrf_of(wrong)},
        )
    async with kit.client() as no_cookie:
        cookieless = await no_cookie.post(
            "/practice/sign-in", data={"token": good, "csrf_token": csrf}
        )
    assert (forged.status_code, elsewhere.status_code, cookieless.status_code) == (403, 403, 403)
    assert (wrong.status_code, sender.status_code) == (401, 401)
    assert "That token was not recognised." in wrong.text
    assert page_sessions(kit) == []


async def test_the_inbox_shows_the_practice_s_own_alerts_newest_first_escaped(
    kit: FeedKit,
) -> None:
    kit.consume(encounter(visit_number="V1", location="<script>alert(1)</script>"))
    kit.consume(encounter(visit_number="V2", nhs_number="9990000026", emergency=True))
    kit.consume(encounter(practice_ods="L85002", nhs_number="9990000034", visit_number="V3"))
    mine = [a.alert_id or 0 for a in alerts(kit) if a.practice_ods == "L85001"]
    async with kit.client() as http:
        await sign_in(http, "L85001")
        page = await http.get("/practice/")
        admitted = await http.get("/practice/", params={"kind": "admitted", "state": "new"})
        none_seen = await http.get("/practice/", params={"state": "seen", "band": "bogus"})
    assert page.headers["cache-control"] == "no-store"
    ids = [int(i) for i in re.findall(r'<li class="alert[^"]*" id="alert-(\d+)"', listed(page))]
    assert ids == sorted(mine, reverse=True)
    assert "999 000 0034" not in page.text  # another practice's patient
    assert "999 000 0026" in page.text and "999 000 0018" in page.text
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "Emergency" in page.text
    assert len(re.findall(r'<li class="alert', listed(admitted))) == 2
    assert len(re.findall(r'<li class="alert', listed(none_seen))) == 0
    assert "No alerts to show." in none_seen.text


async def test_mark_seen_and_actioned_are_forms_that_come_back(kit: FeedKit) -> None:
    kit.consume(encounter())
    (alert,) = alerts(kit)
    base = f"/practice/alerts/{alert.alert_id}"
    async with kit.client() as http:
        await sign_in(http, "L85001")
        csrf = csrf_of(await http.get("/practice/"))
        no_csrf = await http.post(f"{base}/seen", data={})
        bad_csrf = await http.post(f"{base}/seen", data={"csrf_token": "y" * 43})
        cross = await http.post(
            f"{base}/seen", data={"csrf_token": csrf}, headers={"Origin": "http://evil"}
        )
        assert alerts(kit)[0].seen_at is None
        seen = await http.post(
            f"{base}/seen?kind=admitted", data={"csrf_token": csrf}, headers={"Origin": ORIGIN}
        )
        no_outcome = await http.post(f"{base}/actioned", data={"csrf_token": csrf})
        odd_outcome = await http.post(
            f"{base}/actioned", data={"csrf_token": csrf, "outcome": "shrugged"}
        )
        actioned = await http.post(
            f"{base}/actioned", data={"csrf_token": csrf, "outcome": "booked_review"}
        )
        page = await http.get("/practice/")
    assert (no_csrf.status_code, bad_csrf.status_code, cross.status_code) == (403, 403, 403)
    assert (seen.status_code, seen.headers["location"]) == (
        303,
        f"/practice/?kind=admitted#alert-{alert.alert_id}",
    )
    assert (no_outcome.status_code, odd_outcome.status_code, actioned.status_code) == (
        422,
        422,
        303,
    )
    (stored,) = alerts(kit)
    assert (stored.seen_by, stored.actioned_by, stored.outcome) == (
        "L85001",
        "L85001",
        "booked_review",
    )
    assert "Actioned: Booked review" in page.text


async def test_another_practice_s_alert_is_not_found_from_the_page(kit: FeedKit) -> None:
    kit.consume(encounter(practice_ods="L85002"))
    (theirs,) = alerts(kit)
    async with kit.client() as http:
        await sign_in(http, "L85001")
        csrf = csrf_of(await http.get("/practice/"))
        answer = await http.post(
            f"/practice/alerts/{theirs.alert_id}/seen", data={"csrf_token": csrf}
        )
    assert answer.status_code == 404
    assert alerts(kit)[0].seen_at is None


async def test_a_post_without_a_session_goes_to_sign_in(kit: FeedKit) -> None:
    kit.consume(encounter())
    (alert,) = alerts(kit)
    async with kit.client() as http:
        answer = await http.post(
            f"/practice/alerts/{alert.alert_id}/seen", data={"csrf_token": "z"}
        )
        stream = await http.get("/practice/stream")
    assert (answer.status_code, answer.headers["location"]) == (303, "/practice/")
    assert stream.status_code == 401
    assert alerts(kit)[0].seen_at is None


async def test_sessions_expire_end_at_sign_out_and_outlive_a_restart(
    kit: FeedKit, tmp_path: Path
) -> None:
    async with kit.client() as http:
        await sign_in(http, "L85001")
        session_id = http.cookies[SESSION_COOKIE]
    restarted = feed_kit(kit.settings.database_url, clock=kit.clock)
    try:
        async with restarted.client() as http:
            http.cookies.set(SESSION_COOKIE, session_id, path="/practice")
            after_restart = await http.get("/practice/")
            csrf = csrf_of(after_restart)
            out = await http.post("/practice/sign-out", data={"csrf_token": csrf})
        async with restarted.client() as http:
            http.cookies.set(SESSION_COOKIE, session_id, path="/practice")
            after_sign_out = await http.get("/practice/")
            await sign_in(http, "L85001")
            kit.clock.advance(hours=12)
            expired = await http.get("/practice/")
    finally:
        restarted.dispose()
    assert "Hospital alerts for L85001" in after_restart.text
    assert out.status_code == 303 and SESSION_COOKIE in out.headers["set-cookie"]
    assert "Sign in to your practice" in after_sign_out.text
    assert "Sign in to your practice" in expired.text
    assert session_sha256(session_id) not in {s.session_sha256 for s in page_sessions(kit)}


async def test_the_risk_band_is_shown_in_words_with_its_reasons(kit: FeedKit) -> None:
    kit.consume(encounter(nhs_number="9990000018", visit_number="V1"))
    kit.consume(encounter(nhs_number="9990000026", visit_number="V2"))
    reasons = [{"factor": "admissions", "points": 30, "detail": "3 admissions in 12 months"}]
    with Session(kit.service.engine) as session:
        session.add(
            PatientRisk(
                nhs_number="9990000018",
                band="very_high",
                score=91,
                model_version="test",
                reasons=json.dumps(reasons),
                scored_at=kit.clock.now,
                event_id=uuid4(),
            )
        )
        session.commit()
    async with kit.client() as http:
        await sign_in(http, "L85001")
        page = await http.get("/practice/")
        very_high = await http.get("/practice/", params={"band": "very_high"})
    assert '<span class="band band-very_high" data-field="band">Very high</span>' in page.text
    assert "3 admissions in 12 months" in page.text
    assert "Not scored" in listed(page)  # the other patient
    assert len(re.findall(r'<li class="alert', listed(very_high))) == 1
    assert "999 000 0018" in listed(very_high) and "999 000 0026" not in listed(very_high)


async def test_every_signed_in_page_read_is_one_audit_line_without_patient_data(
    kit: FeedKit,
) -> None:
    kit.consume(encounter(visit_number="V1"))
    async with kit.client() as http, kit.client() as stranger:
        await sign_in(http, "L85001")
        stranger.cookies.set(SESSION_COOKIE, "not-a-session")
        with structlog.testing.capture_logs() as captured:
            page = await http.get("/practice/", params={"kind": "admitted"})
            anonymous = await stranger.get("/practice/")  # the sign-in page: no patient data
    assert page.status_code == 200 and anonymous.status_code == 200
    audit = [line for line in captured if line["event"] == "audit"]
    assert audit == [
        {
            "event": "audit",
            "log_level": "info",
            "principal_kind": "practice",
            "principal": "L85001",
            "user": "L85001",
            "method": "GET",
            "route": "/practice/",
            "status": 200,
        }
    ]
    assert "9990000018" not in json.dumps(captured)

"""The outcomes page for a browser: the sign-in form in its place, a staff or practice token
once, then a session kept hashed in scoring's store that reads what its token would."""

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import structlog
from sqlmodel import Session, select

from ensemble_devkit.testkit import hidden_fields, token
from ensemble_runtime.page_sessions import session_sha256
from scoring.adapters.page_sessions import ScoringPageSession
from scoring.entrypoints.outcomes_sign_in import SESSION_COOKIE, SIGN_IN_COOKIE

from ..outcome_support import PRACTICE, outcomes_kit, seed_practice
from ..support import STAFF, Kit

PAGE = "/v1/outcomes/page"
ORIGIN = "http://scoring"


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    kit = outcomes_kit(tmp_path)
    yield kit
    kit.dispose()


def fields(page: httpx.Response) -> dict[str, str]:
    return hidden_fields(page.text)


def sessions(kit: Kit) -> list[ScoringPageSession]:
    def query(session: Session) -> list[ScoringPageSession]:
        return list(session.exec(select(ScoringPageSession)))

    return kit.read(query)


async def sign_in(
    http: httpx.AsyncClient, secret: str, page: str = PAGE, **changes: str
) -> httpx.Response:
    form = await http.get(page)
    assert form.status_code == 401, form.text
    return await http.post(
        "/v1/outcomes/sign-in",
        data=fields(form) | {"token": secret} | changes,
        headers={"Origin": ORIGIN},
    )


async def test_a_browser_not_signed_in_gets_the_form_that_returns_to_the_page(kit: Kit) -> None:
    async with kit.client() as browser:
        page = await browser.get(PAGE, params={"programme": "health_coaching"})
        bad = await browser.get(PAGE, params={"practice": "L8-5"})
        digits = await browser.get(PAGE, params={"practice": "9990000018"})
    assert page.status_code == 401 and 'name="token"' in page.text
    assert fields(page)["next"] == f"{PAGE}?programme=health_coaching"
    cookie = page.headers["set-cookie"]
    assert cookie.startswith(f"{SIGN_IN_COOKIE}=")
    assert all(part in cookie for part in ("HttpOnly", "Path=/v1/outcomes", "SameSite=strict"))
    assert fields(digits)["next"] == PAGE and "9990000018" not in digits.text  # NHS-like
    assert bad.status_code == 400  # a bad filter is refused before anyone is asked to sign in


async def test_a_practice_session_reads_its_own_practice_only(kit: Kit) -> None:
    seed_practice(kit)
    async with kit.client() as browser:
        with structlog.testing.capture_logs() as captured:
            signed = await sign_in(browser, token("practice", PRACTICE))
            session_id = browser.cookies[SESSION_COOKIE]
            own = await browser.get(PAGE)
            other = await browser.get(PAGE, params={"practice": "L85002"})
    assert (signed.status_code, signed.headers["location"]) == (303, PAGE)
    (stored,) = sessions(kit)
    assert stored.session_sha256 == session_sha256(session_id) != session_id
    assert (stored.kind, stored.principal) == ("practice", PRACTICE)
    assert own.status_code == 200 and f"practice {PRACTICE}" in own.text
    assert "2 enrolments" in own.text
    assert other.status_code == 403 and "not your practice" in other.text
    logged = repr(captured)
    assert token("practice", PRACTICE) not in logged and session_id not in logged
    audit = {(line["principal_kind"], line["principal"]) for line in captured if "route" in line}
    assert audit == {("practice", PRACTICE)}


async def test_a_staff_session_reads_every_practice_or_the_one_asked_for(kit: Kit) -> None:
    seed_practice(kit)
    async with kit.client() as browser:
        await sign_in(browser, token("staff", STAFF), page=f"{PAGE}?practice=L85002")
        other = await browser.get(PAGE, params={"practice": "L85002"})
        every = await browser.get(PAGE)
        signed_in = await browser.get("/v1/outcomes/sign-in")
    assert other.status_code == 200 and "practice L85002" in other.text
    assert every.status_code == 200 and "all practices" in every.text
    assert f"(staff {STAFF})" in signed_in.text
    (stored,) = sessions(kit)
    assert stored.kind == "staff"


async def test_forged_or_unknown_sign_ins_open_nothing(kit: Kit) -> None:
    async with kit.client() as browser:
        unknown = await sign_in(browser, "not-a-token-at-all")
        forged = await sign_in(browser, token("staff", STAFF), csrf_token="x" * 43)
    assert unknown.status_code == 401 and "That token was not recognised." in unknown.text
    assert forged.status_code == 403
    assert sessions(kit) == []


async def test_signing_out_and_expiry_end_the_session(kit: Kit) -> None:
    async with kit.client() as browser, kit.client() as later:
        await sign_in(browser, token("staff", STAFF))
        csrf = fields(await browser.get("/v1/outcomes/sign-in"))["csrf_token"]
        out = await browser.post(
            "/v1/outcomes/sign-out", data={"csrf_token": csrf}, headers={"Origin": ORIGIN}
        )
        after = await browser.get(PAGE)
        await sign_in(later, token("staff", STAFF))
        kit.clock.advance(hours=12)
        expired = await later.get(PAGE)
    assert (out.status_code, out.headers["location"]) == (303, PAGE)
    assert after.status_code == 401 and expired.status_code == 401
    assert [s.expires_at - s.created_at for s in sessions(kit)] == [timedelta(hours=12)]

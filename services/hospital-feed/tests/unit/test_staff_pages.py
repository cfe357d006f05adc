"""The staff message page: staff sign-in sessions of their own, CSRF and Origin checks,
search by POST, an audited message view, and the resubmit and discard forms."""

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from structlog.testing import capture_logs

from ensemble_devkit.testkit import token
from hospital_feed.entrypoints.staff_pages import SESSION_COOKIE, SIGN_IN_COOKIE

from ..samples import adt
from ..support import FeedKit, feed_kit, receive, stored
from .test_message_browser import KEY, PATIENT, audit_rows, rejected
from .test_pages import ORIGIN, csrf_of
from .test_pages import sign_in as practice_sign_in


@pytest.fixture
def keyed(tmp_path: Path) -> Iterator[FeedKit]:
    kit = feed_kit(f"sqlite:///{tmp_path / 'feed.db'}", message_search_key=KEY)
    yield kit
    kit.dispose()


async def sign_in(http: httpx.AsyncClient, who: str = "staff") -> httpx.Response:
    form = await http.get("/staff/messages")
    return await http.post(
        "/staff/sign-in",
        data={"token": token("staff", who), "csrf_token": csrf_of(form)},
        headers={"Origin": ORIGIN},
    )


def listed_ids(page: httpx.Response) -> list[int]:
    return [int(found) for found in re.findall(r'data-message-id="(\d+)"', page.text)]


async def test_staff_sign_in_with_a_staff_token_only(keyed: FeedKit) -> None:
    async with keyed.client() as http:
        form = await http.get("/staff/messages")
        assert form.status_code == 200 and '<label for="token">' in form.text
        cookie = form.headers["set-cookie"]
        assert cookie.startswith(f"{SIGN_IN_COOKIE}=") and "Path=/staff" in cookie
        assert form.headers["cache-control"] == "no-store"
        wrong = await http.post(
            "/staff/sign-in",
            data={"token": token("practice", "L85001"), "csrf_token": csrf_of(form)},
            headers={"Origin": ORIGIN},
        )
        assert wrong.status_code == 401 and "not recognised" in wrong.text
        forged = await http.post(
            "/staff/sign-in",
            data={"token": token("staff", "staff"), "csrf_token": "guess"},
            headers={"Origin": ORIGIN},
        )
        assert forged.status_code == 403
        signed = await sign_in(http)
        assert (signed.status_code, signed.headers["location"]) == (303, "/staff/messages")
        session = next(c for c in signed.headers.get_list("set-cookie") if SESSION_COOKIE in c)
        assert all(part in session for part in ("HttpOnly", "Path=/staff", "SameSite=strict"))
        page = await http.get("/staff/messages")
        assert "Signed in: staff" in page.text and "Stored messages" in page.text
    # A practice's session is no staff session, even sent to /staff.
    async with keyed.client() as http:
        await practice_sign_in(http, "L85001")
        practice_session = http.cookies["practice_session"]
        http.cookies.set(SESSION_COOKIE, practice_session)
        assert "Sign in to the message browser" in (await http.get("/staff/messages")).text


async def test_staff_search_view_resubmit_and_discard_on_the_page(keyed: FeedKit) -> None:
    receive(keyed, adt(control_id="OK-1"))
    receive(keyed, rejected("BAD-1", visit="V2"))
    receive(keyed, adt(nhs="9999999999", control_id="HELD-1", visit="V3"))
    accepted, refused, held = stored(keyed)
    with capture_logs() as logs:
        async with keyed.client() as http:
            await sign_in(http)
            newest = await http.get("/staff/messages")
            csrf = csrf_of(newest)
            by_patient = await http.post(
                "/staff/messages",
                data={"csrf_token": csrf, "nhs_number": PATIENT, "status": "rejected"},
                headers={"Origin": ORIGIN},
            )
            cross_site = await http.post(
                "/staff/messages",
                data={"csrf_token": csrf, "control_id": "OK-1"},
                headers={"Origin": "https://elsewhere.example"},
            )
            bad_date = await http.post(
                "/staff/messages",
                data={"csrf_token": csrf, "received_from": "yesterday"},
                headers={"Origin": ORIGIN},
            )
            view = await http.get(f"/staff/messages/{refused.id}")
            # A textarea sends CRLF line ends: they become HL7's CR again.
            corrected = adt(control_id="BAD-1", visit="V2", admit_at="202611221000").replace(
                "\r", "\r\n"
            )
            resubmitted = await http.post(
                f"/staff/messages/{refused.id}/resubmit",
                data={"csrf_token": csrf, "text": corrected, "note": "fixed PV1-44"},
                headers={"Origin": ORIGIN},
            )
            new_page = await http.get(resubmitted.headers["location"])
            discarded = await http.post(
                f"/staff/messages/{held.id}/discard",
                data={"csrf_token": csrf, "reason": "test patient"},
                headers={"Origin": ORIGIN},
            )
            not_again = await http.post(
                f"/staff/messages/{held.id}/discard",
                data={"csrf_token": csrf, "reason": "again"},
                headers={"Origin": ORIGIN},
            )
            out = await http.post(
                "/staff/sign-out", data={"csrf_token": csrf}, headers={"Origin": ORIGIN}
            )
            after = await http.get("/staff/messages")
    assert listed_ids(newest) == [held.id, refused.id, accepted.id]
    assert listed_ids(by_patient) == [refused.id]
    assert f'value="{PATIENT}"' in by_patient.text  # kept in the form, not in a URL
    assert cross_site.status_code == 403
    assert bad_date.status_code == 422 and "is not a date" in bad_date.text
    assert view.status_code == 200 and view.headers["cache-control"] == "no-store"
    assert "PV1-44 is not an HL7 timestamp" in view.text
    assert "MSA|AE|BAD-1|" in view.text and 'id="resubmit-form"' in view.text
    new = stored(keyed)[-1]
    assert resubmitted.status_code == 303
    assert resubmitted.headers["location"] == f"/staff/messages/{new.id}"
    assert (new.raw, new.status, new.resubmitted_from) == (
        adt(control_id="BAD-1", visit="V2", admit_at="202611221000"),
        "accepted",
        refused.id,
    )
    assert f"message {refused.id}</a>" in new_page.text and "MSA|AA|BAD-1|" in new_page.text
    assert 'id="resubmit-form"' not in new_page.text  # accepted: nothing to correct
    assert discarded.status_code == 303 and not_again.status_code == 409
    assert [m.status for m in stored(keyed)] == ["accepted", "resubmitted", "discarded", "accepted"]
    assert (out.status_code, "Sign in to the message browser" in after.text) == (303, True)
    assert audit_rows(keyed) == [
        (refused.id, "viewed", "staff", "page"),
        (refused.id, "resubmitted", "staff", "page"),
        (new.id, "viewed", "staff", "page"),
        (held.id, "discarded", "staff", "page"),
    ]
    audit_lines = [e for e in logs if e["event"] == "audit"]
    assert {e["principal_kind"] for e in audit_lines} == {"staff"}
    assert any(e.get("action") == "messages.search" for e in audit_lines)
    assert not any(PATIENT in str(event) for event in logs)


async def test_channels_page_lists_every_sender(keyed: FeedKit) -> None:
    receive(keyed, adt(control_id="OK-1"))
    async with keyed.client() as http:
        await sign_in(http)
        page = await http.get("/staff/channels")
    assert page.status_code == 200
    assert 'data-sender="RCB"' in page.text and 'data-sender="RVJ"' in page.text
    assert "Never" in page.text


async def test_a_staff_session_ends_when_its_token_file_drops_the_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens_file = tmp_path / "staff-tokens"
    tokens_file.write_text(json.dumps({"staff": token("staff", "staff")}))
    monkeypatch.setenv("HOSPITAL_FEED_STAFF_TOKENS_FILE", str(tokens_file))
    kit = feed_kit(f"sqlite:///{tmp_path / 'feed.db'}", secret_reload_seconds=0)
    try:
        async with kit.client() as http:
            await sign_in(http)
            signed_in = await http.get("/staff/messages")
            tokens_file.write_text(json.dumps({"staff": "staff-rotated-token-0123"}))
            rotated = await http.get("/staff/messages")
    finally:
        kit.dispose()
    assert "Signed in: staff" in signed_in.text
    assert "Sign in to the message browser" in rotated.text

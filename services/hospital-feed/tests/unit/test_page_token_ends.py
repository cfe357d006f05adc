"""A practice page session signed in with a token held in the store ends with that token: the
next page request after a revoke, a disable, a rotation's grace or the token's own expiry is
refused, as the practice API refuses the token itself."""

from datetime import timedelta

import httpx

from hospital_feed.adapters.access import IssuedToken
from hospital_feed.entrypoints.pages import SESSION_COOKIE
from hospital_feed.service_layer.access import (
    AddUser,
    DisableUser,
    IssueToken,
    RevokeToken,
    RevokeUserTokens,
    RotateTokens,
)

from ..support import FeedKit, alerts
from .test_alerts import encounter
from .test_pages import ORIGIN, csrf_of, sign_in

SIGNED_IN = "Hospital alerts for L85001"


async def sign_in_with(http: httpx.AsyncClient, token: str) -> None:
    form = await http.get("/practice/")
    signed = await http.post(
        "/practice/sign-in",
        data={"token": token, "csrf_token": csrf_of(form)},
        headers={"Origin": ORIGIN},
    )
    assert signed.status_code == 303 and SESSION_COOKIE in http.cookies


def alice(kit: FeedKit, lifetime: timedelta | None = None) -> IssuedToken:
    kit.execute(AddUser("L85001", "alice"))
    issued: IssuedToken = kit.execute(IssueToken("L85001", "alice", lifetime=lifetime))
    return issued


async def test_a_revoked_store_token_s_session_is_refused_at_its_next_request(
    kit: FeedKit,
) -> None:
    kit.consume(encounter())
    (alert,) = alerts(kit)
    issued = alice(kit)
    async with kit.client() as http:
        await sign_in_with(http, issued.token)
        before = await http.get("/practice/")
        csrf = csrf_of(before)
        assert kit.execute(RevokeToken(issued.token_id)) is True
        inbox = await http.get("/practice/")
        seen = await http.post(
            f"/practice/alerts/{alert.alert_id}/seen",
            data={"csrf_token": csrf},
            headers={"Origin": ORIGIN},
        )
        stream = await http.get("/practice/stream")
        out = await http.post("/practice/sign-out", data={"csrf_token": csrf})
    assert SIGNED_IN in before.text
    assert inbox.status_code == 200 and SIGNED_IN not in inbox.text
    assert "Sign in to your practice" in inbox.text
    assert (seen.status_code, seen.headers["location"]) == (303, "/practice/")
    assert stream.status_code == 401
    assert (out.status_code, out.headers["location"]) == (303, "/practice/")
    assert alerts(kit)[0].seen_at is None


async def test_a_disabled_user_s_and_a_user_s_revoked_tokens_sessions_end(
    kit: FeedKit,
) -> None:
    issued = alice(kit)
    kit.execute(AddUser("L85001", "bob"))
    bob = kit.execute(IssueToken("L85001", "bob"))
    async with kit.client() as alice_http, kit.client() as bob_http:
        await sign_in_with(alice_http, issued.token)
        await sign_in_with(bob_http, bob.token)
        assert kit.execute(DisableUser("L85001", "alice")) == 1
        alice_inbox = await alice_http.get("/practice/")
        bob_inbox = await bob_http.get("/practice/")  # another user's session goes on
        assert kit.execute(RevokeUserTokens("L85001", "bob")) == 1
        bob_after = await bob_http.get("/practice/")
    assert SIGNED_IN not in alice_inbox.text
    assert SIGNED_IN in bob_inbox.text
    assert SIGNED_IN not in bob_after.text


async def test_revoking_one_token_leaves_the_sessions_of_the_user_s_others(
    kit: FeedKit,
) -> None:
    first = alice(kit)
    second = kit.execute(IssueToken("L85001", "alice"))
    async with kit.client() as by_first, kit.client() as by_second:
        await sign_in_with(by_first, first.token)
        await sign_in_with(by_second, second.token)
        kit.execute(RevokeToken(first.token_id))
        ended = await by_first.get("/practice/")
        kept = await by_second.get("/practice/")
    assert SIGNED_IN not in ended.text
    assert SIGNED_IN in kept.text


async def test_a_session_ends_with_its_token_s_lifetime_and_a_rotation_s_grace(
    kit: FeedKit,
) -> None:
    short = alice(kit, lifetime=timedelta(hours=1))
    async with kit.client() as http:
        await sign_in_with(http, short.token)
        kit.clock.advance(minutes=59)
        within = await http.get("/practice/")
        kit.clock.advance(minutes=1)
        after = await http.get("/practice/")
    rotated = kit.execute(IssueToken("L85001", "alice"))
    async with kit.client() as old, kit.client() as new:
        await sign_in_with(old, rotated.token)
        fresh, _ending = kit.execute(RotateTokens("L85001", "alice", timedelta(hours=2)))
        await sign_in_with(new, fresh.token)
        in_grace = await old.get("/practice/")
        kit.clock.advance(hours=2)
        after_grace = await old.get("/practice/")
        new_token = await new.get("/practice/")
    assert SIGNED_IN in within.text and SIGNED_IN not in after.text
    assert SIGNED_IN in in_grace.text and SIGNED_IN not in after_grace.text
    assert SIGNED_IN in new_token.text


async def test_an_env_token_s_session_still_lasts_while_the_token_does(kit: FeedKit) -> None:
    kit.consume(encounter())
    (alert,) = alerts(kit)
    async with kit.client() as http:
        await sign_in(http, "L85001")
        inbox = await http.get("/practice/")
        seen = await http.post(
            f"/practice/alerts/{alert.alert_id}/seen",
            data={"csrf_token": csrf_of(inbox)},
            headers={"Origin": ORIGIN},
        )
    assert SIGNED_IN in inbox.text
    assert (seen.status_code, seen.headers["location"]) == (
        303,
        f"/practice/#alert-{alert.alert_id}",
    )
    assert alerts(kit)[0].seen_at is not None

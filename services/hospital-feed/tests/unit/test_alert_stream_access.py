"""An open alert stream ends once its caller's access ends (a revoked token, a disabled user,
an ended page session), at its next check (`alert_stream_recheck_seconds`: until then it may
still send), and sends nothing after; a caller whose access holds streams on across checks."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest

from hospital_feed.adapters.access import IssuedToken
from hospital_feed.entrypoints.pages import SESSION_COOKIE
from hospital_feed.service_layer.access import AddUser, DisableUser, IssueToken, RevokeToken

from ..support import FeedKit
from .test_alert_stream import RECHECK, STREAM, WAIT, Events, Server, kit, new_alert, server
from .test_pages import csrf_of

__all__ = ["kit", "server"]  # the fixtures, shared with the stream's own tests


def alice(kit: FeedKit) -> IssuedToken:
    kit.execute(AddUser("L85001", "alice"))
    issued: IssuedToken = kit.execute(IssueToken("L85001", "alice"))
    return issued


@contextlib.asynccontextmanager
async def bearer_stream(server: Server, bearer: str) -> AsyncIterator[Events]:
    headers = {"Authorization": f"Bearer {bearer}"}
    async with (
        httpx.AsyncClient(base_url=server.url, headers=headers, timeout=WAIT) as client,
        client.stream("GET", STREAM.format(ods="L85001")) as response,
    ):
        assert response.status_code == 200
        yield Events(response)


async def ends_with_nothing_more(events: Events, kit: FeedKit, received: int) -> None:
    """Once a check has passed, the stream has ended: an alert committed then is not sent."""
    await asyncio.sleep(RECHECK * 2)
    new_alert(kit)
    with pytest.raises(EOFError):
        await events.take(received + 1)
    assert len(events.received) == received


async def test_a_stream_of_a_revoked_store_token_ends_at_its_next_check(
    server: Server, kit: FeedKit
) -> None:
    issued = alice(kit)
    async with bearer_stream(server, issued.token) as events:
        first = new_alert(kit)
        assert [int(e["id"]) for e in await events.take(1)] == [first]
        assert kit.execute(RevokeToken(issued.token_id)) is True
        await ends_with_nothing_more(events, kit, 1)


async def test_a_stream_of_a_disabled_user_ends(server: Server, kit: FeedKit) -> None:
    issued = alice(kit)
    async with bearer_stream(server, issued.token) as events:
        await asyncio.sleep(0)
        assert kit.execute(DisableUser("L85001", "alice")) == 1
        await ends_with_nothing_more(events, kit, 0)


async def test_a_stream_whose_access_holds_goes_on_across_checks(
    server: Server, kit: FeedKit
) -> None:
    issued = alice(kit)
    async with bearer_stream(server, issued.token) as events:
        first = new_alert(kit)
        await events.take(1)
        await asyncio.sleep(RECHECK * 4)  # several checks pass
        second = new_alert(kit)
        assert [int(e["id"]) for e in await events.take(2)] == [first, second]


async def test_a_page_stream_ends_when_its_session_s_token_is_revoked(
    server: Server, kit: FeedKit
) -> None:
    issued = alice(kit)
    async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as http:
        form = await http.get("/practice/")
        signed = await http.post(
            "/practice/sign-in",
            data={"token": issued.token, "csrf_token": csrf_of(form)},
            headers={"Origin": server.url},
        )
        assert signed.status_code == 303 and SESSION_COOKIE in http.cookies
        async with http.stream("GET", "/practice/stream") as response:
            assert response.status_code == 200
            events = Events(response)
            first = new_alert(kit)
            assert [int(e["id"]) for e in await events.take(1)] == [first]
            assert kit.execute(RevokeToken(issued.token_id)) is True
            await ends_with_nothing_more(events, kit, 1)

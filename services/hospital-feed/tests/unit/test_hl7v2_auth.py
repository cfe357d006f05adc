"""`POST /v1/hl7v2` checks its sender itself (no dependency on the busiest route): the same
answers as the `Sender` dependency gives, and the route checks still know it needs one."""

from ensemble_runtime.http_guard import caller_kinds
from hospital_feed.entrypoints.http import router

from ..samples import RCB_A01
from ..support import FeedKit, msa, stored


def test_the_route_is_known_to_need_a_sender() -> None:
    [route] = [r for r in router.routes if getattr(r, "path", "") == "/v1/hl7v2"]
    assert caller_kinds(route) == frozenset({"sender"})


async def test_strangers_get_the_sender_dependency_s_401s(kit: FeedKit) -> None:
    async with kit.client() as anonymous:
        missing = await anonymous.post("/v1/hl7v2", content=RCB_A01)
        anonymous.headers["Authorization"] = "Bearer not-a-sender-token"
        unknown = await anonymous.post("/v1/hl7v2", content=RCB_A01)
    assert (missing.status_code, missing.json()) == (401, {"detail": "missing bearer token"})
    assert (unknown.status_code, unknown.json()) == (401, {"detail": "unknown token"})
    assert missing.headers["www-authenticate"] == unknown.headers["www-authenticate"] == "Bearer"
    assert stored(kit) == []


async def test_a_sender_s_message_is_stored_under_its_principal(kit: FeedKit) -> None:
    async with kit.client("sender", "RCB") as sender:
        response = await sender.post("/v1/hl7v2", content=RCB_A01)
    assert msa(response.text) == "MSA|AA|RCB0000001|"
    assert response.headers["x-correlation-id"]
    [message] = stored(kit)
    assert message.sender == "RCB"  # the principal the route authenticated

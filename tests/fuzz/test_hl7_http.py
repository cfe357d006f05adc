"""HL7 intake over HTTP: whatever the bytes, an authenticated sender gets an HL7 ACK (never a
5xx) and the message is kept; anyone else gets 401 and nothing is kept."""

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import Session, col, func, select

from ensemble_devkit.testkit import ServiceKit
from hospital_feed.adapters.orm import Hl7Message
from hospital_feed.domain.hl7_message import decode_body
from hospital_feed.domain.stored_text import digest
from hospital_feed.service import DEFINITION

from .report import CRASH, SERVER_ERROR, Stats
from .strategies import hl7_messages
from .support import Loop, bearer, fuzz_settings, fuzz_target, timeout_for

AUTHS = st.sampled_from(
    [("sender", "RCB")] * 8
    + [("sender", "RVJ"), (None, None), ("practice", "L85001"), ("garbage", "garbage")]
)


def msa_code(ack: str) -> str | None:
    for segment in ack.replace("\n", "\r").split("\r"):
        if segment.startswith("MSA|"):
            return segment.split("|")[1] if segment.count("|") >= 1 else None
    return None


def stored_as(kit: ServiceKit[Any, Any], sender: str, sha: str) -> list[str]:
    """ACK codes of the stored messages from `sender` with this content."""

    def query(session: Session) -> list[str]:
        rows = session.exec(
            select(Hl7Message.ack_code).where(
                Hl7Message.sender == sender, Hl7Message.content_sha256 == sha
            )
        )
        return list(rows)

    return kit.read(query)


def count_stored(kit: ServiceKit[Any, Any]) -> int:
    return int(kit.read(lambda s: s.exec(select(func.count(col(Hl7Message.id)))).one()))


def fuzz_hl7_http(
    kit: ServiceKit[Any, Any],
    loop: Loop,
    stats: Stats,
    bodies: st.SearchStrategy[bytes] | None = None,
    examples: int | None = None,
) -> None:
    """POST generated ADT bodies with generated credentials; check each answer and record."""
    limit = kit.settings.max_message_bytes
    client = kit.client()

    @fuzz_settings(examples)
    @given(body=hl7_messages() if bodies is None else bodies, auth=AUTHS)
    def case(body: bytes, auth: tuple[str | None, str | None]) -> None:
        kind, principal = auth
        headers = {"content-type": "application/hl7-v2"}
        if kind == "garbage":
            headers["Authorization"] = "Bearer not-a-token-of-anyone-at-all"
        elif kind is not None and principal is not None:
            headers |= bearer(kind, principal)
        before = count_stored(kit) if kind != "sender" else 0
        with stats.case(body):
            try:
                response = loop.run(client.post("/v1/hl7v2", content=body, headers=headers))
            except Exception as error:  # the app raised through the guard
                stats.violation(CRASH, f"{type(error).__name__}: {error}"[:300], body)
                return
        if response.status_code >= 500:
            stats.violation(SERVER_ERROR, f"HTTP {response.status_code}", body)
            return
        if kind != "sender":
            if len(body) > limit and response.status_code == 413:
                stats.note("413 before authentication (over the size limit)")
            elif response.status_code != 401:
                stats.violation("auth", f"{kind}: HTTP {response.status_code}, not 401", body)
            elif count_stored(kit) != before:
                stats.violation("auth", "an unauthenticated message was stored", body)
            return
        if len(body) > limit:
            if response.status_code != 413:
                stats.violation("size", f"{len(body)} bytes: HTTP {response.status_code}", body)
            stats.note("413 (over the size limit)")
            return
        code = msa_code(response.text) if response.status_code == 200 else None
        if code not in ("AA", "AE", "AR"):
            detail = f"HTTP {response.status_code}, no MSA AA/AE/AR: {response.text[:200]!r}"
            stats.violation("no ack", detail, body)
            return
        stats.note(f"MSA {code}")
        assert principal is not None
        codes = stored_as(kit, principal, digest(decode_body(body)[0]))
        if code not in codes:
            stats.violation("not stored", f"answered {code}; stored with {codes}", body)

    try:
        case()
    finally:
        loop.run(client.aclose())


@timeout_for()
def test_every_hl7_body_is_answered_and_kept(database_url: str, loop: Loop) -> None:
    with fuzz_target("hl7-http", DEFINITION, database_url) as (kit, stats):
        fuzz_hl7_http(kit, loop, stats)

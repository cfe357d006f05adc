"""Every malformed or hostile JSON body is a 4xx, stores nothing and announces nothing.

Bodies are bounded by the referrals topic's documented maxima (`ensemble_contracts.limits`),
so whatever referral accepts it can also publish. Decoding itself (NaN, lone surrogates,
huge numbers, deep nesting, body size) is the runtime's HTTP guard; these tests hold referral
to the outcome either way.
"""

import json
from typing import Any

import pytest

from ensemble_contracts import limits

from ..support import Kit, published, stored

VALID = {"nhs_number": "9990000026", "service": "health_coaching"}
SERVICE_ONLY = {"service": "complex_care"}
NHS_NUMBER_ONLY = {"nhs_number": "9990000026"}


def raw(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


def with_field(name: str, value: bytes, base: dict[str, Any] = VALID) -> bytes:
    """`base` plus a field whose JSON text is given as is (escapes, NaN, raw bytes, ...)."""
    return raw(base)[:-1] + b', "' + name.encode() + b'": ' + value + b"}"


# Refused by referral's own models: lengths, types, shapes, characters no store can hold.
REFUSED_BY_THE_MODEL: dict[str, bytes] = {
    "reason over TEXT": raw(VALID | {"reason": "x" * (limits.TEXT + 1)}),
    "a megabyte of reason": raw(VALID | {"reason": "x" * 1_000_000}),
    "language over LANGUAGE": raw(VALID | {"preferred_language": "a" * (limits.LANGUAGE + 1)}),
    "language not BCP 47": raw(VALID | {"preferred_language": "en GB; drop"}),
    "NUL in reason": raw(VALID | {"reason": "a\x00b"}),
    "control character in reason": raw(VALID | {"reason": "bell\x07"}),
    "nhs_number as a number": raw(VALID | {"nhs_number": 9990000026}),
    "nhs_number too long": raw(VALID | {"nhs_number": "9" * 21}),
    "service as a list": raw(VALID | {"service": ["health_coaching"]}),
    "unknown service": raw(VALID | {"service": "physiotherapy"}),
    "reason as an object": raw(VALID | {"reason": {"text": "x"}}),
    "language as a boolean": raw(VALID | {"preferred_language": True}),
    "missing service": raw({"nhs_number": "9990000026"}),
    "an array": b"[]",
    "null": b"null",
    "a string": b'"referral"',
}
# Not JSON the services take at all: refused before any model sees it.
MALFORMED: dict[str, bytes] = {
    "empty": b"",
    "truncated": raw(VALID)[:-1],
    "trailing garbage": raw(VALID) + b"}",
    "not UTF-8": b'{"nhs_number": "\xff\xfe"}',
    "UTF-8-encoded surrogate": with_field("reason", b'"\xed\xa0\x80"'),
    "lone surrogate in reason": with_field("reason", b'"\\ud800"'),
    "lone surrogate in nhs_number": with_field("nhs_number", b'"\\udfff"', SERVICE_ONLY),
    "lone surrogate in service": with_field("service", b'"\\ud83d"', NHS_NUMBER_ONLY),
    "NaN": with_field("reason", b"NaN"),
    "Infinity as nhs_number": with_field("nhs_number", b"Infinity", SERVICE_ONLY),
    "1e999": with_field("preferred_language", b"1e999"),
    "a 5000-digit integer": with_field("reason", b"9" * 5000),
    "deep nesting": with_field("reason", b"[" * 100_000 + b"]" * 100_000),
    "deep objects": with_field("reason", b'{"a":' * 50_000 + b"1" + b"}" * 50_000),
}


async def _post(kit: Kit, path: str, content: bytes) -> int:
    async with kit.client("practice", "L85001") as http:
        answer = await http.post(
            path, content=content, headers={"Content-Type": "application/json"}
        )
    assert answer.is_success or "9990000026" not in answer.text  # refusals echo no input
    return answer.status_code


@pytest.mark.parametrize("content", REFUSED_BY_THE_MODEL.values(), ids=REFUSED_BY_THE_MODEL)
async def test_a_body_the_model_refuses_is_422(kit: Kit, content: bytes) -> None:
    assert await _post(kit, "/v1/referrals", content) == 422
    assert stored(kit) == []
    assert published(kit) == []


@pytest.mark.parametrize("content", MALFORMED.values(), ids=MALFORMED)
async def test_malformed_json_is_a_4xx(kit: Kit, content: bytes) -> None:
    assert 400 <= await _post(kit, "/v1/referrals", content) < 500
    assert stored(kit) == []
    assert published(kit) == []


async def test_the_limits_themselves_are_accepted_and_published(kit: Kit) -> None:
    body = VALID | {
        "reason": "line one\n\tline two " + "x" * (limits.TEXT - 19),
        "preferred_language": "zh-Hant-" + "a" * 8,
    }
    assert len(body["reason"]) == limits.TEXT
    assert await _post(kit, "/v1/referrals", raw(body)) == 201
    (event,) = published(kit)
    assert event.reason == body["reason"]
    assert event.preferred_language == "zh-Hant-aaaaaaaa"


async def test_a_decline_reason_is_bounded_like_the_topic(kit: Kit) -> None:
    assert await _post(kit, "/v1/referrals", raw(VALID)) == 201
    (referral,) = stored(kit)
    path = f"/v1/referrals/{referral.referral_id}/decline"
    async with kit.client("staff", "staff") as member:
        answers = [
            await member.post(path, content=content, headers={"Content-Type": "application/json"})
            for content in (
                raw({"reason": "x" * (limits.TEXT + 1)}),
                raw({"reason": ""}),
                raw({"reason": "a\x00b"}),
                raw({"reason": 42}),
                b'{"reason": "\\udc00"}',
                b'{"reason": NaN}',
                b"[" * 100_000,
            )
        ]
        assert [a.status_code // 100 for a in answers] == [4] * len(answers)
        declined = await member.post(path, json={"reason": "x" * limits.TEXT})
    assert declined.status_code == 200
    assert published(kit)[-1].reason == "x" * limits.TEXT


@pytest.mark.parametrize(
    "params",
    [
        {"nhs_number": "99900\x000026"},
        {"nhs_number": "9434765918"},  # wrong check digit
        {"nhs_number": "9" * 5000},
        {"practice_ods": "L85001\x00"},
        {"practice_ods": "L" * 13},
        {"limit": "9" * 5000},
        {"limit": "0"},
    ],
    ids=["NUL", "check digit", "long", "ODS NUL", "ODS long", "huge limit", "zero"],
)
async def test_bad_staff_filters_are_422(kit: Kit, params: dict[str, str]) -> None:
    async with kit.client("staff", "staff") as member:
        answer = await member.get("/v1/referrals", params=params)
    assert answer.status_code == 422
    assert "9434765918" not in answer.text


@pytest.mark.parametrize(
    "query", ["nhs_number=%ED%A0%80", "practice_ods=%FF", "status=%ED%B0%80", "limit=1e999"]
)
async def test_undecodable_staff_filters_are_4xx(kit: Kit, query: str) -> None:
    async with kit.client("staff", "staff") as member:
        answer = await member.get(f"/v1/referrals?{query}")
    assert 400 <= answer.status_code < 500

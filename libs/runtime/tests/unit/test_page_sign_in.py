"""The page sign-in's pure parts: where a sign-in may return to, what the form echoes, and
which tokens a session's kept sha256 still matches."""

import json
from pathlib import Path

import pytest
from starlette.requests import Request

from ensemble_runtime.auth import FileTokenRegistry, parse_token_map, token_sha256
from ensemble_runtime.page_forms import PlainPages
from ensemble_runtime.page_sessions import SessionRepository
from ensemble_runtime.page_sign_in import PageSignIn, has_bearer, this_page
from ensemble_runtime.secrets import SecretFile

PAGES = PlainPages("the test pages", "/v1/things/sign-in", "/v1/things/sign-out")


def _store(uow: object) -> SessionRepository:
    raise AssertionError("not used here")


SIGN_IN = PageSignIn[object](  # type: ignore[type-var]
    prefix="/v1/things",
    home="/v1/things/sign-in",
    kinds=("staff",),
    session_cookie="things_session",
    sign_in_cookie="things_sign_in",
    sign_in_form=PAGES.sign_in_form,
    max_form_fields=8,
    live=lambda *_: None,
    principal_of=str,
    store_of=_store,
    refused=PAGES.refused,
    log=None,
    log_field="principal",
)


def request(path: str, query: str = "", headers: dict[str, str] | None = None) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    scope = {"type": "http", "method": "GET", "path": path, "query_string": query.encode()}
    return Request(scope | {"headers": raw, "scheme": "http", "server": ("x", 80)})


@pytest.mark.parametrize(
    ("page", "returned"),
    [
        ("/v1/things/a/sheet", "/v1/things/a/sheet"),
        ("/v1/things/page?practice=L85001", "/v1/things/page?practice=L85001"),
        ("/v1/things", ""),  # the prefix itself is no page
        ("/v1/thingsmore/x", ""),  # another path that starts alike
        ("/v1/other", ""),
        ("https://evil.example/v1/things/x", ""),
        ("//evil.example/v1/things/x", ""),
        ("/v1/things/x\\..\\y", ""),
        ("/v1/things/x\r\nSet-Cookie: a=b", ""),
        ("/v1/things/" + "x" * 600, ""),
        (None, ""),
    ],
)
def test_a_sign_in_returns_only_to_a_page_under_its_prefix(page: str | None, returned: str) -> None:
    assert SIGN_IN._returnable(page) == returned


def test_the_form_keeps_the_query_unless_it_may_hold_an_nhs_number() -> None:
    assert this_page(request("/v1/things/page", "cohort=frail")) == "/v1/things/page?cohort=frail"
    assert this_page(request("/v1/things/page", "x=9990000018")) == "/v1/things/page"
    assert this_page(request("/v1/things/page")) == "/v1/things/page"


def test_a_bearer_header_means_an_api_client() -> None:
    assert has_bearer(request("/", headers={"Authorization": "Bearer x"}))
    assert not has_bearer(request("/"))


def test_the_plain_form_escapes_what_it_shows() -> None:
    page = PAGES.sign_in_form('"><script>', "<b>no</b>", 401, '/v1/things/"x"')
    html = bytes(page.body).decode()
    assert "<script>" not in html and "&lt;b&gt;no&lt;/b&gt;" in html
    assert 'value="/v1/things/&quot;x&quot;"' in html
    assert page.status_code == 401 and page.headers["cache-control"] == "no-store"


def test_a_token_file_holds_a_session_s_token_only_while_the_token_is_in_it(
    tmp_path: Path,
) -> None:
    old, new = "ops-old-token-0123456", "ops-new-token-6543210"
    path = tmp_path / "staff-tokens"
    path.write_text(json.dumps({"ops": old}))
    registry = FileTokenRegistry(SecretFile(path, "X_STAFF_TOKENS_FILE", parse_token_map, 0))
    assert registry.holds(token_sha256(old)) and not registry.holds(token_sha256(new))
    path.write_text(json.dumps({"ops": new}))  # rotated
    assert registry.holds(token_sha256(new)) and not registry.holds(token_sha256(old))
    assert not registry.holds(old)  # the token itself is no sha256 of one


async def test_the_sign_in_form_parses_with_the_runtime_alone() -> None:
    """Starlette's form parser is the runtime's dependency: a service that installs only the
    runtime (make test's package run) parses its sign-in forms instead of answering 500."""
    body = b"csrf_token=abc&next=%2Fv1%2Fthings%2Fx&token=a+b"
    headers = [
        (b"content-type", b"application/x-www-form-urlencoded"),
        (b"content-length", str(len(body)).encode()),
    ]
    scope = {"type": "http", "method": "POST", "path": "/v1/things/sign-in", "headers": headers}

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": body, "more_body": False}

    form = await SIGN_IN.form(Request(scope, receive))
    assert dict(form) == {"csrf_token": "abc", "next": "/v1/things/x", "token": "a b"}

"""Each auth kind against the local API: accepted with the right credential, refused without it."""

from __future__ import annotations

import base64
import logging
from typing import Any

import pytest
from pydantic import SecretStr

from datakit.connectors.rest import RestError, RestSource
from datakit.connectors.rest.params import (
    ApiKeyAuthParams,
    AuthParams,
    BasicAuthParams,
    BearerAuthParams,
    OAuth2ClientCredentialsParams,
    PageNumberPaginator,
)
from tests.connectors.rest.conftest import FakeApi, Req, Resp, params, resource, rows
from tests.connectors.rest.helpers import ids, read_rows

SECRET = "s3cr3t-Value-42"
WRONG = "wrong-Value-99"


def _guarded(api: FakeApi, check: Any) -> None:
    @api.route("/items")
    def _(req: Req) -> Resp:
        if not check(req):
            return Resp(
                401,
                {
                    "error": "unauthorized",
                    "echo": dict(req.query) | {"auth": req.headers.get("authorization")},
                },
            )
        return Resp(body=rows(3))


def _basic(req: Req) -> bool:
    expected = "Basic " + base64.b64encode(f"ann:{SECRET}".encode()).decode()
    return req.headers.get("authorization") == expected


CASES: dict[str, tuple[Any, Any]] = {
    "bearer": (
        lambda s: BearerAuthParams(token=SecretStr(s)),
        lambda r: r.headers.get("authorization") == f"Bearer {SECRET}",
    ),
    "basic": (lambda s: BasicAuthParams(username="ann", password=SecretStr(s)), _basic),
    "api_key_header": (
        lambda s: ApiKeyAuthParams(name="X-Key", key=SecretStr(s)),
        lambda r: r.headers.get("x-key") == SECRET,
    ),
    "api_key_query": (
        lambda s: ApiKeyAuthParams(name="api_key", location="query", key=SecretStr(s)),
        lambda r: r.query.get("api_key") == SECRET,
    ),
}


@pytest.mark.parametrize("kind", list(CASES))
def test_the_right_credential_is_accepted(api: FakeApi, kind: str) -> None:
    make, check = CASES[kind]
    _guarded(api, check)
    auth: AuthParams = make(SECRET)
    assert ids(read_rows(RestSource(params(api, resource(), auth=auth)))) == [0, 1, 2]


@pytest.mark.parametrize("kind", list(CASES))
def test_a_wrong_credential_fails_at_once_without_showing_it(
    api: FakeApi, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    make, check = CASES[kind]
    _guarded(api, check)
    with pytest.raises(RestError) as info:
        read_rows(RestSource(params(api, resource(), auth=make(WRONG))))
    error = info.value
    assert error.status == 401
    assert len(api.requests) == 1  # a refused credential is not retried
    assert "401" in str(error) and "/items" in str(error) and "unauthorized" in str(error)
    assert "credentials" in (error.hint or "")
    assert WRONG not in str(error)  # not in the URL, nor in the echoed response snippet
    assert WRONG not in caplog.text


def _oauth_api(api: FakeApi, *, expires_in: int = 3600) -> dict[str, Any]:
    state: dict[str, Any] = {"issued": 0, "valid": None}

    @api.route("/oauth/token")
    def _(req: Req) -> Resp:
        good = "Basic " + base64.b64encode(f"client-1:{SECRET}".encode()).decode()
        if req.headers.get("authorization") != good or b"grant_type=client_credentials" not in req.body:
            return Resp(401, {"error": "invalid_client"})
        state["issued"] += 1
        state["valid"] = f"tok-{state['issued']}-abcdef"
        return Resp(body={"access_token": state["valid"], "expires_in": expires_in})

    @api.route("/items")
    def _items(req: Req) -> Resp:
        if req.headers.get("authorization") != f"Bearer {state['valid']}":
            return Resp(401, {"error": "expired"})
        page = int(req.query.get("page", "1"))
        return Resp(body={"data": rows(2, page * 2) if page <= 3 else [], "page": page})

    return state


def _oauth_source(api: FakeApi, secret: str) -> RestSource:
    auth = OAuth2ClientCredentialsParams(
        token_url=f"{api.url}/oauth/token",
        client_id="client-1",
        client_secret=SecretStr(secret),
        scopes=["read"],
    )
    return RestSource(params(api, resource(paginator=PageNumberPaginator()), auth=auth))


def test_oauth2_fetches_one_token_and_reuses_it(api: FakeApi, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    state = _oauth_api(api)
    source = _oauth_source(api, SECRET)
    assert ids(read_rows(source)) == [2, 3, 4, 5, 6, 7]
    assert ids(read_rows(source)) == [2, 3, 4, 5, 6, 7]
    assert state["issued"] == 1  # cached across pages and reads
    assert api.paths().count("/oauth/token") == 1
    assert "tok-1-abcdef" not in caplog.text and SECRET not in caplog.text


def test_oauth2_fetches_a_new_token_when_the_api_rejects_the_cached_one(api: FakeApi) -> None:
    state = _oauth_api(api)
    source = _oauth_source(api, SECRET)
    assert ids(read_rows(source)) == [2, 3, 4, 5, 6, 7]
    state["valid"] = None  # the API revokes the token
    assert ids(read_rows(source)) == [2, 3, 4, 5, 6, 7]
    assert state["issued"] == 2


def test_oauth2_fetches_a_new_token_when_it_expires(api: FakeApi) -> None:
    state = _oauth_api(api, expires_in=0)
    assert ids(read_rows(_oauth_source(api, SECRET))) == [2, 3, 4, 5, 6, 7]
    assert state["issued"] == 4  # one per request: pages 1-3 and the empty page 4


def test_oauth2_token_refused(api: FakeApi, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    _oauth_api(api)
    with pytest.raises(RestError, match=r"OAuth2 token request .* failed with HTTP 401") as info:
        read_rows(_oauth_source(api, WRONG))
    assert WRONG not in str(info.value) and WRONG not in caplog.text
    assert "/items" not in api.paths()


def test_oauth2_token_endpoint_outage_is_retried(api: FakeApi) -> None:
    state = _oauth_api(api)
    token_route = api.routes["/oauth/token"]
    calls: list[int] = []

    def flaky(req: Req) -> Resp:
        calls.append(1)
        return Resp(503, {"error": "busy"}) if len(calls) == 1 else token_route(req)

    api.routes["/oauth/token"] = flaky
    assert ids(read_rows(_oauth_source(api, SECRET))) == [2, 3, 4, 5, 6, 7]
    assert len(calls) == 2 and state["issued"] == 1


def test_an_echoed_basic_authorization_header_is_masked(api: FakeApi) -> None:
    _guarded(api, _basic)
    with pytest.raises(RestError) as info:
        read_rows(RestSource(params(api, resource(), auth=CASES["basic"][0](WRONG))))
    encoded = base64.b64encode(f"ann:{WRONG}".encode()).decode()
    assert "Basic ***" in str(info.value) and encoded not in str(info.value)

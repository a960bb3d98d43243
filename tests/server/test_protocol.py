"""The wire protocol as documented: the OpenAPI document lists every endpoint of the API and
every answer it gives, in one error shape, and the live server answers generated requests
(schemathesis, signed in and with a real channel, so they reach the success paths) without
server errors and with responses that conform to that document."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup

from protocol import wire as p
from tests.server.harness import PASSWORD, Api, LiveServer, Workspace

P = p.API_PREFIX
ENDPOINTS = {
    ("get", "/healthz"),
    ("post", f"{P}/auth/login"),
    ("post", f"{P}/auth/refresh"),
    ("post", f"{P}/auth/logout"),
    ("get", f"{P}/sync/bootstrap"),
    ("get", f"{P}/sync/pull"),
    ("post", f"{P}/sync/push"),
    ("get", f"{P}/sync/events"),
    ("post", f"{P}/channels/{{channel_id}}/inbound"),
    ("get", f"{P}/channels/{{channel_id}}/outbound"),
    ("get", f"{P}/articles"),
    ("post", f"{P}/articles"),
    ("get", f"{P}/articles/{{article_id}}"),
    ("patch", f"{P}/articles/{{article_id}}"),
    ("post", f"{P}/articles/{{article_id}}/publish"),
    ("post", f"{P}/articles/{{article_id}}/archive"),
    ("get", f"{P}/articles/{{article_id}}/versions"),
    ("post", f"{P}/articles/{{article_id}}/versions/{{version}}/restore"),
}
METHODS = {"get", "post", "put", "patch", "delete"}
# Every answer each operation gives besides its success (413: any request may carry a body;
# 422: any parameter may be malformed; 503: the database may be down).
ERRORS = {
    ("get", "/healthz"): {413, 503},
    ("post", f"{P}/auth/login"): {400, 401, 413, 422, 429, 503},
    ("post", f"{P}/auth/refresh"): {400, 401, 413, 422, 503},
    ("post", f"{P}/auth/logout"): {401, 413, 422, 503},
    ("get", f"{P}/sync/bootstrap"): {400, 401, 413, 422, 503},
    ("get", f"{P}/sync/pull"): {401, 410, 413, 422, 503},
    ("post", f"{P}/sync/push"): {400, 401, 409, 413, 422, 503},
    ("get", f"{P}/sync/events"): {400, 401, 413, 422, 503},
    ("post", f"{P}/channels/{{channel_id}}/inbound"): {400, 401, 404, 413, 422, 503},
    ("get", f"{P}/channels/{{channel_id}}/outbound"): {401, 404, 413, 422, 503},
    ("get", f"{P}/articles"): {401, 413, 422, 503},
    ("post", f"{P}/articles"): {400, 401, 403, 409, 413, 422, 503},
    ("get", f"{P}/articles/{{article_id}}"): {401, 404, 413, 422, 503},
    ("patch", f"{P}/articles/{{article_id}}"): {400, 401, 403, 404, 409, 413, 422, 503},
    ("post", f"{P}/articles/{{article_id}}/publish"): {401, 403, 404, 413, 422, 503},
    ("post", f"{P}/articles/{{article_id}}/archive"): {401, 403, 404, 413, 422, 503},
    ("get", f"{P}/articles/{{article_id}}/versions"): {401, 403, 404, 413, 422, 503},
    ("post", f"{P}/articles/{{article_id}}/versions/{{version}}/restore"): {
        401, 403, 404, 409, 413, 422, 503},
}


@pytest.fixture
def openapi(live_server: LiveServer) -> dict[str, Any]:
    r = httpx.get(f"{live_server.url}/openapi.json")
    assert r.status_code == 200
    return r.json()


def test_openapi_lists_every_endpoint(openapi: dict[str, Any]) -> None:
    listed = {(method, path) for path, item in openapi["paths"].items()
              for method in item if method in METHODS}
    assert listed == ENDPOINTS


def _ref(openapi: dict[str, Any], path: str, method: str, status: str = "200") -> str:
    content = openapi["paths"][path][method]["responses"][status]["content"]
    return content["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]


def test_openapi_uses_the_protocol_models(openapi: dict[str, Any]) -> None:
    """The document is generated from ``protocol.wire``, so clients can trust its shapes."""
    assert _ref(openapi, f"{P}/sync/pull", "get") == "PullResponse"
    boot = openapi["paths"][f"{P}/sync/bootstrap"]["get"]
    one_of = boot["responses"]["200"]["content"]["application/json"]["schema"]["anyOf"]
    assert [s["$ref"].rsplit("/", 1)[1] for s in one_of] == ["BootstrapResponse",
                                                             "BootstrapColumnsResponse"]
    formats = [q for q in boot["parameters"] if q["name"] == "format"]
    assert formats and formats[0]["in"] == "query"
    assert _ref(openapi, f"{P}/sync/push", "post") == "PushResponse"
    assert _ref(openapi, f"{P}/auth/login", "post") == "LoginResponse"
    assert _ref(openapi, f"{P}/channels/{{channel_id}}/inbound", "post") == "InboundResult"
    assert _ref(openapi, f"{P}/sync/pull", "get", "410") == "ErrorBody"
    assert _ref(openapi, f"{P}/sync/bootstrap", "get", "400") == "ErrorBody"
    assert _ref(openapi, f"{P}/sync/push", "post", "409") == "ErrorBody"
    push_body = openapi["paths"][f"{P}/sync/push"]["post"]["requestBody"]["content"]
    assert push_body["application/json"]["schema"]["$ref"].endswith("/PushRequest")
    schemas = openapi["components"]["schemas"]
    for model in (p.PullResponse, p.BootstrapResponse, p.BootstrapColumnsResponse,
                  p.BootstrapGroup, p.PushRequest, p.PushResponse,
                  p.Change, p.MutationResult, p.ErrorBody, p.LoginRequest, p.InboundMessage):
        assert set(schemas[model.__name__]["properties"]) == set(model.model_fields), model
    events = openapi["paths"][f"{P}/sync/events"]["get"]["responses"]["200"]["content"]
    assert "text/event-stream" in events


def test_openapi_documents_every_answer_in_the_one_error_shape(openapi: dict[str, Any]) -> None:
    assert set(ERRORS) == ENDPOINTS
    for (method, path), errors in ERRORS.items():
        responses = openapi["paths"][path][method]["responses"]
        assert {int(s) for s in responses if not s.startswith("2")} == errors, (method, path)
        for status in errors:
            assert _ref(openapi, path, method, str(status)) == "ErrorBody", (path, status)
            assert responses[str(status)]["description"], (path, status)
        for status in {429, 503} & errors:
            assert "Retry-After" in responses[str(status)]["headers"]
    schemas = openapi["components"]["schemas"]
    assert "HTTPValidationError" not in schemas  # FastAPI's own 422 shape, never sent
    # The bodies push and inbound read after authenticating are still described.
    inbound = openapi["paths"][f"{P}/channels/{{channel_id}}/inbound"]["post"]["requestBody"]
    assert inbound["content"]["application/json"]["schema"]["$ref"].endswith("/InboundMessage")
    assert {"PushRequest", "Mutation", "InboundMessage"} <= set(schemas)
    # The NUL rule and the range of times are part of the schema.
    text_fields = [schemas["LoginRequest"]["properties"]["email"],
                   schemas["InboundMessage"]["properties"]["text"],
                   schemas["RefreshRequest"]["properties"]["refresh_token"]]
    assert all(f["pattern"] == "^[^\\u0000]*$" for f in text_fields)
    sent_at = schemas["InboundMessage"]["properties"]["sent_at"]["anyOf"][0]
    assert (sent_at["type"], sent_at["minimum"], sent_at["maximum"]) == (
        "integer", 0, p.MAX_EPOCH_MS)
    bootstrap = openapi["paths"][f"{P}/sync/bootstrap"]["get"]["responses"]
    assert "bad_page_token" in bootstrap["400"]["description"]
    pull = openapi["paths"][f"{P}/sync/pull"]["get"]["responses"]
    assert "resync_required" in pull["410"]["description"]


def test_the_frameworks_own_answers_come_in_the_one_error_shape(live_server: LiveServer
                                                               ) -> None:
    with httpx.Client(base_url=live_server.url, timeout=10) as http:
        for r, status in ((http.get("/no/such/page"), 404),
                          (http.get(f"{P}/auth/login"), 405),
                          (http.post(f"{P}/auth/login", content=b"{", headers={
                              "Content-Type": "application/json"}), 400),
                          (http.post(f"{P}/auth/login", content=b'{"email": "\xff"}', headers={
                              "Content-Type": "application/json"}), 400),
                          (http.post(f"{P}/auth/login", json={"email": "a"}), 422)):
            assert r.status_code == status, r.text
            assert set(r.json()) == {"error", "message"}, r.text
            p.ErrorBody.model_validate(r.json())
        assert http.get(f"{P}/auth/login").headers["allow"] == "POST"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_describe(e) for e in exc.exceptions) + f" [{exc}]"
    return f"{type(exc).__name__}: {exc}"


def own_session(url: str, email: str) -> Api:
    with Api(url) as api:
        return api.login(email, PASSWORD)


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


def _fuzz(operation: Any, url: str, workspace: Workspace, auth: dict[str, str],
          statuses: list[int], supervisor: dict[str, str], article_id: str) -> Any:
    """A Hypothesis test sending up to 25 generated requests to one operation, with real
    credentials (a supervisor's for articles; and, for half of them, a real channel or
    article id, real sign-in values or a new article in the body), so they get past
    authentication and lookups to the success paths."""
    path = operation.path
    cid = workspace.channels["a_sms"]

    @settings(max_examples=25, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(), real=st.booleans())
    def run(case: schemathesis.Case, real: bool) -> None:
        headers = auth
        if path.endswith("/auth/logout"):  # signing out ends the session it is called with
            tina = own_session(url, workspace.emails["tina"])
            headers = {"Authorization": f"Bearer {tina.token}"}
        elif "/channels/" in path:
            headers = {"X-Relaydesk-Channel-Secret": workspace.secrets[cid]}
            if real:
                case.path_parameters = {**(case.path_parameters or {}), "channel_id": cid}
        elif path.endswith("/auth/login") and real:
            case.body = {"email": workspace.emails["alice"], "password": PASSWORD}
        elif path.endswith("/auth/refresh") and real:
            session = own_session(url, workspace.emails["tina"])
            case.body = {"refresh_token": session.refresh_token}
        elif "/articles" in path:
            headers = supervisor
            if real and "{article_id}" in path:
                case.path_parameters = {**(case.path_parameters or {}),
                                        "article_id": article_id,
                                        **({"version": 1} if "{version}" in path else {})}
                if case.method == "PATCH" and isinstance(case.body, dict):
                    # Its own generated fields, less those that must name what exists.
                    case.body = {k: v for k, v in case.body.items()
                                 if k not in ("team_ids", "base_version") and v is not None}
            elif real and case.method == "POST":
                case.body = {"key": f"fuzz-{uuid.uuid4().hex}", "locale": "en",
                             "title": "Generated", "team_ids": [workspace.teams["B"]]}
        response = case.call(headers=headers)
        statuses.append(response.status_code)
        case.validate_response(response, checks=CHECKS, headers=headers)

    return run


def test_generated_requests_get_documented_answers(live_server: LiveServer,
                                                   workspace: Workspace) -> None:
    """Up to 25 generated requests per operation of auth, sync, channels and articles (the
    event stream never ends, so it is left out): no 5xx, every status code, content type and
    body is what the OpenAPI document says, and each operation succeeds at least once."""
    with Api(live_server.url) as alice, Api(live_server.url) as sam:
        alice.login(workspace.emails["alice"])
        auth = {"Authorization": f"Bearer {alice.token}"}
        sam.login(workspace.emails["sam"])
        r = sam.post("/articles", json={"key": "fuzzed", "locale": "en", "title": "Fuzzed"})
        assert r.status_code == 201, r.text
        article_id = r.json()["id"]
        schema = schemathesis.openapi.from_url(f"{live_server.url}/openapi.json")
        subset = schema.include(path_regex=rf"^{P}/(sync|auth|channels|articles)(/|$)").exclude(
            path_regex=r"/sync/events$")
        operations = [result.ok() for result in subset.get_all_operations()]
        labels = sorted(op.label for op in operations)
        assert len(labels) == len(ENDPOINTS) - 2, labels  # all but /healthz and events
        failures: list[str] = []
        answered: dict[str, list[int]] = {}
        for operation in operations:
            statuses = answered.setdefault(operation.label, [])
            run = _fuzz(operation, live_server.url, workspace, auth, statuses, sam.headers,
                        article_id)
            try:
                run()
            except (Exception, FailureGroup) as exc:  # collect every operation's failures
                failures.append(f"{operation.label}: {_describe(exc)}")
        assert not failures, "\n\n".join(failures)
        never = {label: sorted(set(s)) for label, s in answered.items()
                 if not any(200 <= status < 300 for status in s)}
        assert not never, f"operations that never got past their checks: {never}"


def test_hostile_values_get_client_errors_not_server_errors(live_server: LiveServer,
                                                             workspace: Workspace) -> None:
    """Values the schema allows but no column can hold (NUL characters: PostgreSQL text
    rejects them; integers beyond 64 bits) must never surface as 500s."""
    cid = workspace.channels["a_email"]
    channel = {"X-Relaydesk-Channel-Secret": workspace.secrets[cid]}
    with Api(live_server.url) as alice, Api(live_server.url) as sam:
        alice.login(workspace.emails["alice"])
        sam.login(workspace.emails["sam"])
        requests: list[tuple[str, str, dict[str, Any]]] = [
            ("POST", f"{P}/auth/login", {"json": {"email": "a\x00b@example.com",
                                                   "password": "x\x00y"}}),
            ("POST", f"{P}/auth/refresh", {"json": {"refresh_token": "t\x00"}}),
            ("GET", f"{P}/sync/pull", {"params": {"cursor": 0, "client_id": "abc\x00defgh"},
                                       "headers": alice.headers}),
            ("GET", f"{P}/sync/pull", {"params": {"cursor": 2**70}, "headers": alice.headers}),
            ("GET", f"{P}/sync/bootstrap", {"params": {"limit": 2**70},
                                            "headers": alice.headers}),
            ("POST", f"{P}/sync/push", {"headers": alice.headers, "json": {
                "client_id": "hostile-client", "mutations": [
                    {"id": 1, "name": "x\x00", "args": {"conversation_id": "c\x00"}},
                    {"id": 2, "name": "mark_read", "args": {"conversation_id": "c\x00"}}]}}),
            ("POST", f"{P}/channels/{cid}/inbound", {"headers": channel, "json": {
                "handle": "nul\x00@example.com", "text": "a\x00b",
                "provider_message_id": "n\x001"}}),
            ("POST", f"{P}/channels/{cid}/inbound", {"headers": channel, "json": {
                "handle": "big@example.com", "text": "hi", "provider_message_id": "n2",
                "sent_at": 2**70}}),
            ("GET", f"{P}/channels/{cid}/outbound", {"headers": channel,
                                                     "params": {"after": 2**62}}),
            ("GET", f"{P}/channels/{cid}/outbound", {"headers": channel,
                                                     "params": {"after": 2**64}}),
            ("GET", f"{P}/channels/nul%00id/outbound", {"headers": channel}),
            ("GET", f"{P}/articles/nul%00id", {"headers": sam.headers}),
            ("POST", f"{P}/articles/nul%00id/publish", {"headers": sam.headers}),
            ("GET", f"{P}/articles", {"headers": sam.headers,
                                      "params": {"locale": "e\x00n", "after": "a\x00"}}),
            ("GET", f"{P}/articles", {"headers": sam.headers, "params": {"limit": 2**70}}),
            ("POST", f"{P}/articles", {"headers": sam.headers, "json": {
                "key": "nul", "locale": "en", "title": "a\x00b", "tags": ["t\x00"],
                "team_ids": ["x\x00"]}}),
            ("PATCH", f"{P}/articles/nul%00id", {"headers": sam.headers,
                                                 "json": {"team_ids": ["x\x00"]}}),
            ("POST", f"{P}/articles/a/versions/{2**70}/restore", {"headers": sam.headers}),
        ]
        server_errors = []
        for method, url, kwargs in requests:
            # A fresh connection each: a 500 may come with the connection closed.
            with httpx.Client(base_url=live_server.url, timeout=10) as client:
                r = client.request(method, url, **kwargs)
            if r.status_code >= 500:
                server_errors.append(f"{method} {url} {kwargs}: {r.status_code} {r.text[:80]}")
            elif r.status_code >= 400:
                p.ErrorBody.model_validate(r.json())
        assert not server_errors, "\n".join(server_errors)

"""The execute-api plane without a network: moto's backends filled through boto3
under `mock_aws`, requests built as `HttpRequest`s, a recording invoker."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventModel
from moto import mock_aws

from localcloud.apigateway import ExecuteApiRoute, localize_stage_url, parse_target
from localcloud.apigateway.event import ProxyEventBuilder
from localcloud.apigateway.lambda_proxy import (
    LambdaProxyIntegration,
    function_from_uri,
    map_proxy_response,
)
from localcloud.apigateway.media import matches_media_type
from localcloud.apigateway.openapi import import_definition
from localcloud.http import HttpRequest
from localcloud.invoker import InvocationResult

pytestmark = pytest.mark.unit

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:echo"
ALLOW_ORIGIN = "method.response.header.Access-Control-Allow-Origin"
URI = (
    "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
    f"{FUNCTION_ARN}/invocations"
)


@dataclass
class RecordingInvoker:
    """Answers every invocation with `result` and keeps the events it got."""

    result: InvocationResult = field(
        default_factory=lambda: InvocationResult(
            200, json.dumps({"statusCode": 200, "body": "ok"}).encode()
        )
    )
    events: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)

    def invoke(
        self,
        function: str,
        payload: bytes,
        *,
        qualifier: str | None = None,
        invocation_type: str = "RequestResponse",
        timeout_override: float | None = None,
    ) -> InvocationResult:
        self.events.append(json.loads(payload))
        self.calls.append(
            {"function": function, "qualifier": qualifier, "timeout": timeout_override}
        )
        return self.result


class SteppingClock:
    """A monotonic clock that advances `step` seconds at each reading."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def request(
    path: str,
    *,
    api_id: str = "abc123",
    method: str = "GET",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
) -> HttpRequest:
    raw, _, query = path.partition("?")
    return HttpRequest(
        method,
        raw,
        raw,
        query,
        [("Host", f"{api_id}.execute-api.localhost:4566"), *(headers or [])],
        body,
    )


@dataclass
class Api:
    client: Any
    api_id: str
    root: str

    def resource(self, parent: str, part: str) -> str:
        created = self.client.create_resource(
            restApiId=self.api_id, parentId=parent, pathPart=part
        )
        return str(created["id"])

    def proxy(self, resource_id: str, method: str, **integration: Any) -> None:
        self.client.put_method(
            restApiId=self.api_id,
            resourceId=resource_id,
            httpMethod=method,
            authorizationType="NONE",
        )
        self.client.put_integration(
            restApiId=self.api_id,
            resourceId=resource_id,
            httpMethod=method,
            type="AWS_PROXY",
            integrationHttpMethod="POST",
            uri=URI,
            **integration,
        )

    def deploy(self, stage: str = "prod", **variables: str) -> None:
        self.client.create_deployment(
            restApiId=self.api_id, stageName=stage, variables=variables
        )


@pytest.fixture
def api() -> Iterator[Api]:
    with mock_aws():
        client = boto3.client("apigateway", region_name="us-east-1")
        api_id = client.create_rest_api(name="unit")["id"]
        root = client.get_resources(restApiId=api_id)["items"][0]["id"]
        yield Api(client, api_id, root)


def test_the_three_addressing_forms_name_the_same_api_stage_and_path() -> None:
    by_host = parse_target(request("/prod/a/b"))
    by_user_request = parse_target(
        HttpRequest("GET", "/", "/restapis/abc123/prod/_user_request_/a/b", "", [], b"")
    )
    by_aws_path = parse_target(
        HttpRequest("GET", "/", "/_aws/execute-api/abc123/prod/a/b", "", [], b"")
    )

    assert by_host is not None
    assert by_user_request is not None
    assert by_aws_path is not None
    assert {
        (t.api_id, t.stage, t.path) for t in (by_host, by_user_request, by_aws_path)
    } == {("abc123", "prod", "/a/b")}


def test_requests_that_are_not_execute_api_ones_are_left_to_others() -> None:
    control_plane = HttpRequest(
        "GET",
        "/restapis/abc123/stages/prod",
        "/restapis/abc123/stages/prod",
        "",
        [("Host", "localhost:4566")],
        b"",
    )
    website = HttpRequest(
        "GET", "/", "/", "", [("Host", "site.s3-website.localhost")], b""
    )

    assert parse_target(control_plane) is None
    assert parse_target(website) is None


def test_a_literal_resource_beats_a_parameter_which_beats_a_greedy_one(
    api: Api,
) -> None:
    users = api.resource(api.root, "users")
    me = api.resource(users, "me")
    user = api.resource(users, "{id}")
    anything = api.resource(api.root, "{proxy+}")
    for resource_id in (me, user, anything):
        api.proxy(resource_id, "GET")
    api.deploy()
    invoker = RecordingInvoker()
    route = ExecuteApiRoute(invoker, port=4566)

    for path in ("/prod/users/me", "/prod/users/42", "/prod/users/42/posts", "/prod/x"):
        route.handle(request(path, api_id=api.api_id))

    assert [(e["resource"], e["pathParameters"]) for e in invoker.events] == [
        ("/users/me", None),
        ("/users/{id}", {"id": "42"}),
        ("/{proxy+}", {"proxy": "users/42/posts"}),
        ("/{proxy+}", {"proxy": "x"}),
    ]


def test_a_method_beats_any_and_a_missing_method_is_403(api: Api) -> None:
    items = api.resource(api.root, "items")
    api.proxy(items, "ANY")
    api.proxy(items, "POST", timeoutInMillis=5000)
    api.deploy()
    invoker = RecordingInvoker()
    route = ExecuteApiRoute(invoker, port=4566)

    route.handle(request("/prod/items", api_id=api.api_id, method="POST"))
    route.handle(request("/prod/items", api_id=api.api_id, method="PATCH"))
    root = route.handle(request("/prod/", api_id=api.api_id))

    assert [call["timeout"] for call in invoker.calls] == [5.0, 29.0]
    assert root.status == 403
    assert root.body == b'{"message":"Missing Authentication Token"}'


def test_the_proxy_event_passes_powertools_validation_with_every_field(
    api: Api,
) -> None:
    api.proxy(api.resource(api.root, "{proxy+}"), "ANY")
    api.deploy(color="blue")
    invoker = RecordingInvoker()
    events = ProxyEventBuilder(
        account_id="123456789012",
        port=4566,
        clock=lambda: 1_700_000_000.5,
        new_request_id=lambda: "11111111-2222-3333-4444-555555555555",
    )
    route = ExecuteApiRoute(invoker, port=4566, events=events)

    route.handle(
        request(
            "/prod/a%20b/c?x=1&x=2&y=",
            api_id=api.api_id,
            method="POST",
            headers=[("Accept", "a"), ("Accept", "b"), ("Content-Type", "text/plain")],
            body=b"hello",
        )
    )

    event = invoker.events[0]
    model = APIGatewayProxyEventModel.model_validate(event)
    assert model.requestContext.requestId == "11111111-2222-3333-4444-555555555555"
    assert event["path"] == "/a%20b/c"
    assert event["pathParameters"] == {"proxy": "a%20b/c"}
    assert event["headers"]["Accept"] == "b"
    assert event["multiValueHeaders"]["Accept"] == ["a", "b"]
    assert event["queryStringParameters"] == {"x": "2", "y": ""}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"], "y": [""]}
    assert event["stageVariables"] == {"color": "blue"}
    assert event["body"] == "hello"
    assert event["requestContext"]["requestTimeEpoch"] == 1_700_000_000_500
    assert event["requestContext"]["requestTime"] == "14/Nov/2023:22:13:20 +0000"
    assert event["requestContext"]["path"] == "/prod/a%20b/c"
    assert event["headers"]["X-Forwarded-Proto"] == "http"


def test_an_integration_uri_names_the_function_and_its_qualifier() -> None:
    qualified = URI.replace(":function:echo/", ":function:echo:live/")
    by_variable = URI.replace(":function:echo/", ":function:${stageVariables.fn}/")

    assert function_from_uri(URI, {}) == (FUNCTION_ARN, None)
    assert function_from_uri(qualified, {}) == (FUNCTION_ARN, "live")
    assert function_from_uri(by_variable, {"fn": "other"})[0].endswith(
        ":function:other"
    )


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"not json", "it is not JSON"),
        (b"[1, 2]", "it is not a JSON object"),
        (b'{"statusCode": 200, "extra": 1}', "unexpected fields ['extra']"),
        (b'{"body": "x"}', "statusCode is missing"),
        (b'{"statusCode": "abc"}', "statusCode is not an integer"),
        (b'{"statusCode": 200, "body": {"a": 1}}', "body is not a string"),
        (b'{"statusCode": 200, "headers": ["a"]}', "headers are not an object"),
    ],
)
def test_a_malformed_proxy_response_is_a_502_naming_what_is_wrong(
    payload: bytes, reason: str
) -> None:
    with pytest.raises(Exception, match="Malformed Lambda proxy response") as raised:
        map_proxy_response(payload, None, [])

    assert raised.value.response.status == 502  # type: ignore[attr-defined]
    assert reason in str(raised.value)


def test_a_function_error_and_an_overrun_timeout_are_502_and_504() -> None:
    failing = RecordingInvoker(
        InvocationResult(200, b'{"errorMessage": "boom"}', function_error="Unhandled")
    )
    slow = LambdaProxyIntegration(RecordingInvoker(), clock=SteppingClock(step=2.0))

    with pytest.raises(Exception, match="failed") as error:
        LambdaProxyIntegration(failing).invoke(
            {},
            uri=URI,
            stage_variables={},
            timeout_ms=29000,
            accept=None,
            binary_media_types=[],
        )
    with pytest.raises(Exception, match="integration timeout of 1000 ms") as timeout:
        slow.invoke(
            {},
            uri=URI,
            stage_variables={},
            timeout_ms=1000,
            accept=None,
            binary_media_types=[],
        )

    assert error.value.response.status == 502  # type: ignore[attr-defined]
    assert timeout.value.response.status == 504  # type: ignore[attr-defined]
    assert timeout.value.response.body == '{"message": "Endpoint request timed out"}'  # type: ignore[attr-defined]


def test_a_base64_response_is_decoded_only_for_an_accepted_binary_type() -> None:
    payload = json.dumps(
        {
            "statusCode": 200,
            "body": base64.b64encode(b"\x00\x01").decode(),
            "isBase64Encoded": True,
        }
    ).encode()

    accepted = map_proxy_response(payload, "image/png, */*", ["image/*"])
    not_first = map_proxy_response(payload, "text/html, image/png", ["image/png"])

    assert accepted.body == b"\x00\x01"
    assert not_first.body == base64.b64encode(b"\x00\x01")


def test_media_types_match_exactly_by_wildcard_and_in_the_escaped_form() -> None:
    assert matches_media_type("image/png; q=1", ["image/png"])
    assert matches_media_type("image/gif", ["image/*"])
    assert matches_media_type("application/pdf", ["application~1pdf"])
    assert matches_media_type("text/plain", ["*/*"])
    assert not matches_media_type("text/plain", ["image/*"])
    assert not matches_media_type("", ["*/*"])


def test_a_method_without_an_integration_is_a_500(api: Api) -> None:
    items = api.resource(api.root, "items")
    api.proxy(items, "GET")
    api.client.put_method(
        restApiId=api.api_id,
        resourceId=items,
        httpMethod="DELETE",
        authorizationType="NONE",
    )
    api.deploy()

    response = ExecuteApiRoute(RecordingInvoker(), port=4566).handle(
        request("/prod/items", api_id=api.api_id, method="DELETE")
    )

    assert response.status == 500
    assert response.body == b'{"message": "Internal server error"}'


def test_an_unknown_api_id_is_404_as_on_localstack() -> None:
    with mock_aws():
        response = ExecuteApiRoute(RecordingInvoker(), port=4566).handle(
            request("/prod/x", api_id="nosuchapi")
        )

    assert response.status == 404
    assert b"does not correspond to a deployed API" in response.body


def test_a_swagger_definition_with_cors_and_binary_types_is_imported(api: Api) -> None:
    from moto.apigateway.models import apigateway_backends

    backend = apigateway_backends["123456789012"]["us-east-1"]
    definition = {
        "swagger": "2.0",
        "info": {"title": "t"},
        "x-amazon-apigateway-binary-media-types": ["image~1png"],
        "paths": {
            "/things/{id}": {
                "get": {
                    "x-amazon-apigateway-integration": {"type": "aws_proxy", "uri": URI}
                },
                "options": {
                    "responses": {
                        "200": {"headers": {"Access-Control-Allow-Origin": {}}}
                    },
                    "x-amazon-apigateway-integration": {
                        "type": "mock",
                        "requestTemplates": {"application/json": '{"statusCode": 200}'},
                        "responses": {
                            "default": {
                                "statusCode": "200",
                                "responseParameters": {ALLOW_ORIGIN: "'*'"},
                            }
                        },
                    },
                },
            }
        },
    }

    import_definition(backend, backend.apis[api.api_id], definition)
    api.deploy()
    route = ExecuteApiRoute(RecordingInvoker(), port=4566)
    preflight = route.handle(
        request("/prod/things/1", api_id=api.api_id, method="OPTIONS")
    )
    proxied = route.handle(request("/prod/things/1", api_id=api.api_id))

    assert preflight.status == 200
    assert ("Access-Control-Allow-Origin", "*") in preflight.headers
    assert proxied.status == 200
    assert backend.apis[api.api_id].binaryMediaTypes == ["image/png"]


def test_aws_stage_urls_are_given_in_their_local_form() -> None:
    local = localize_stage_url(
        "https://abc123.execute-api.eu-west-1.amazonaws.com/Prod/items", 4566
    )

    assert local == "http://abc123.execute-api.localhost:4566/Prod/items"
    assert localize_stage_url("https://example.com/Prod/", 4566) is None

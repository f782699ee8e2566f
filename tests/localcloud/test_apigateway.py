"""API Gateway REST APIs through the local cloud: a Lambda proxy API built with
boto3, called over plain HTTP on every execute-api URL form, with AWS's error
responses; the proxy events validated with Powertools' event models."""

from __future__ import annotations

import base64
import http.client
import json
import subprocess
import time
from dataclasses import dataclass
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventModel

from tests.fixtures.localcloud import RunningCloud
from tests.localcloud.conftest import lambda_role, zip_source

pytestmark = pytest.mark.localcloud

HANDLER = """
import base64, json, time

def handler(event, context):
    path = event["path"]
    if path.endswith("/malformed"):
        return {"statusCode": 200, "body": {"not": "a string"}}
    if path.endswith("/error"):
        raise RuntimeError("boom")
    if path.endswith("/slow"):
        time.sleep(6)
        return {"statusCode": 200, "body": "late"}
    if path.endswith("/picture"):
        return {
            "statusCode": 200,
            "headers": {"Content-Type": "image/png"},
            "body": base64.b64encode(b"\\x89PNG\\x00\\xff").decode(),
            "isBase64Encoded": True,
        }
    if path.endswith("/cookies"):
        return {
            "statusCode": 201,
            "headers": {"X-Single": "one"},
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
            "body": "made",
        }
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
            "body": json.dumps(event)}
"""


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    port: int,
    path: str,
    *,
    host: str = "localhost",
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> Response:
    """An HTTP request to the edge with the given Host header (a browser resolves
    `*.localhost` to the loopback address by itself; Python's resolver may not)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(
            method,
            path,
            body=body,
            headers={"Host": f"{host}:{port}", **(headers or {})},
        )
        answer = connection.getresponse()
        return Response(answer.status, answer.headers, answer.read())
    finally:
        connection.close()


@dataclass
class ProxyApi:
    cloud: RunningCloud
    api_id: str
    function_name: str

    @property
    def host(self) -> str:
        return f"{self.api_id}.execute-api.localhost"

    def get(self, path: str, **kwargs: Any) -> Response:
        return call(self.cloud.port, f"/test{path}", host=self.host, **kwargs)


def _build_api(cloud: RunningCloud) -> ProxyApi:
    name = f"apigw-{int(time.time() * 1000)}"
    lambda_client = cloud.client("lambda")
    function = lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=lambda_role(cloud),
        Handler="app.handler",
        Timeout=10,
        Code={"ZipFile": zip_source({"app.py": HANDLER})},
    )
    uri = (
        "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
        f"{function['FunctionArn']}/invocations"
    )
    apigateway = cloud.client("apigateway")
    api_id = apigateway.create_rest_api(name=name, binaryMediaTypes=["image/png"])["id"]
    root = apigateway.get_resources(restApiId=api_id)["items"][0]["id"]

    def resource(parent: str, part: str) -> str:
        created = apigateway.create_resource(
            restApiId=api_id, parentId=parent, pathPart=part
        )
        return str(created["id"])

    def proxy_method(resource_id: str, method: str, timeout_ms: int = 29000) -> None:
        apigateway.put_method(
            restApiId=api_id,
            resourceId=resource_id,
            httpMethod=method,
            authorizationType="NONE",
        )
        apigateway.put_integration(
            restApiId=api_id,
            resourceId=resource_id,
            httpMethod=method,
            type="AWS_PROXY",
            integrationHttpMethod="POST",
            uri=uri,
            timeoutInMillis=timeout_ms,
        )

    items = resource(root, "items")
    proxy_method(resource(items, "{id}"), "GET")
    proxy_method(resource(root, "{proxy+}"), "ANY")
    proxy_method(resource(root, "slow"), "GET", timeout_ms=1000)

    cors = resource(root, "cors")
    apigateway.put_method(
        restApiId=api_id,
        resourceId=cors,
        httpMethod="OPTIONS",
        authorizationType="NONE",
    )
    apigateway.put_integration(
        restApiId=api_id,
        resourceId=cors,
        httpMethod="OPTIONS",
        type="MOCK",
        requestTemplates={"application/json": '{"statusCode": 200}'},
    )
    apigateway.put_method_response(
        restApiId=api_id,
        resourceId=cors,
        httpMethod="OPTIONS",
        statusCode="200",
        responseParameters={
            "method.response.header.Access-Control-Allow-Origin": False,
            "method.response.header.Access-Control-Allow-Methods": False,
        },
    )
    apigateway.put_integration_response(
        restApiId=api_id,
        resourceId=cors,
        httpMethod="OPTIONS",
        statusCode="200",
        responseParameters={
            "method.response.header.Access-Control-Allow-Origin": "'*'",
            "method.response.header.Access-Control-Allow-Methods": "'GET,OPTIONS'",
        },
        responseTemplates={"application/json": ""},
    )
    apigateway.create_deployment(
        restApiId=api_id, stageName="test", variables={"color": "blue"}
    )
    return ProxyApi(cloud, api_id, name)


@pytest.fixture(scope="module")
def proxy_api(local_cloud: RunningCloud) -> ProxyApi:
    return _build_api(local_cloud)


def test_a_proxy_request_reaches_the_function_as_a_complete_proxy_event(
    proxy_api: ProxyApi,
) -> None:
    response = proxy_api.get(
        "/items/42?tag=a&tag=b&single=x%20y",
        headers={"X-Custom": "first", "User-Agent": "pytest-agent"},
    )

    assert response.status == 200
    event = response.json()
    model = APIGatewayProxyEventModel.model_validate(event)
    assert model.resource == "/items/{id}"
    assert model.requestContext.stage == "test"
    data = APIGatewayProxyEvent(event)
    assert data.path == "/items/42"
    assert data.http_method == "GET"
    assert data.path_parameters == {"id": "42"}
    assert data.query_string_parameters == {"tag": "b", "single": "x y"}
    assert data.multi_value_query_string_parameters == {
        "tag": ["a", "b"],
        "single": ["x y"],
    }
    assert data.stage_variables == {"color": "blue"}
    assert data.headers.get("x-custom") == "first"
    assert data.request_context.identity.user_agent == "pytest-agent"
    assert data.request_context.identity.source_ip == "127.0.0.1"
    assert data.request_context.api_id == proxy_api.api_id
    assert data.request_context.account_id == "123456789012"
    assert data.request_context.resource_path == "/items/{id}"
    assert data.request_context.path == "/test/items/42"
    assert event["requestContext"]["requestTimeEpoch"] > 1_600_000_000_000
    assert response.headers["x-amzn-RequestId"] == data.request_context.request_id
    assert data.body is None
    assert data.is_base64_encoded is False


def test_every_execute_api_url_form_serves_the_stage(proxy_api: ProxyApi) -> None:
    port, api = proxy_api.cloud.port, proxy_api.api_id
    forms = [
        call(port, "/test/items/7", host=f"{api}.execute-api.localhost"),
        call(
            port, "/test/items/7", host=f"{api}.execute-api.localhost.localstack.cloud"
        ),
        call(port, f"/restapis/{api}/test/_user_request_/items/7"),
        call(port, f"/_aws/execute-api/{api}/test/items/7"),
    ]

    assert [form.status for form in forms] == [200, 200, 200, 200]
    assert {form.json()["pathParameters"]["id"] for form in forms} == {"7"}


def test_the_reported_url_opens_with_curl_which_resolves_localhost_names_itself(
    proxy_api: ProxyApi,
) -> None:
    url = f"http://{proxy_api.host}:{proxy_api.cloud.port}/test/items/9"

    result = subprocess.run(
        ["curl", "-s", "--max-time", "20", url], capture_output=True, check=True
    )

    assert json.loads(result.stdout)["pathParameters"] == {"id": "9"}


def test_a_greedy_path_takes_the_rest_of_the_path_and_any_method(
    proxy_api: ProxyApi,
) -> None:
    response = proxy_api.get(
        "/deep/er/path",
        method="POST",
        body=b'{"a": 1}',
        headers={"Content-Type": "application/json"},
    )

    event = response.json()
    assert event["resource"] == "/{proxy+}"
    assert event["pathParameters"] == {"proxy": "deep/er/path"}
    assert event["httpMethod"] == "POST"
    assert json.loads(event["body"]) == {"a": 1}
    assert event["isBase64Encoded"] is False


def test_a_binary_request_body_arrives_base64_encoded(proxy_api: ProxyApi) -> None:
    payload = bytes(range(256))

    response = proxy_api.get(
        "/upload", method="PUT", body=payload, headers={"Content-Type": "image/png"}
    )

    event = response.json()
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == payload


def test_a_base64_response_is_decoded_when_the_client_accepts_a_binary_type(
    proxy_api: ProxyApi,
) -> None:
    as_binary = proxy_api.get("/picture", headers={"Accept": "image/png"})
    as_text = proxy_api.get("/picture", headers={"Accept": "application/json"})

    assert as_binary.status == 200
    assert as_binary.body == b"\x89PNG\x00\xff"
    assert as_binary.headers["Content-Type"] == "image/png"
    assert as_text.body == base64.b64encode(b"\x89PNG\x00\xff")


def test_headers_and_multi_value_headers_of_the_response_are_merged(
    proxy_api: ProxyApi,
) -> None:
    response = proxy_api.get("/cookies")

    assert response.status == 201
    assert response.body == b"made"
    assert response.headers["X-Single"] == "one"
    assert response.headers.get_all("Set-Cookie") == ["a=1", "b=2"]
    assert response.headers["Content-Type"] == "application/json"


def test_a_path_no_resource_serves_is_403_missing_authentication_token(
    proxy_api: ProxyApi,
) -> None:
    response = proxy_api.get("/items", method="DELETE")

    assert response.status == 403
    assert response.body == b'{"message":"Missing Authentication Token"}'
    assert response.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


def test_a_stage_that_was_never_deployed_is_403_forbidden(proxy_api: ProxyApi) -> None:
    response = call(proxy_api.cloud.port, "/nostage/items/1", host=proxy_api.host)

    assert response.status == 403
    assert response.body == b'{"message":"Forbidden"}'


def test_a_malformed_proxy_response_is_502(proxy_api: ProxyApi) -> None:
    response = proxy_api.get("/malformed")

    assert response.status == 502
    assert response.json() == {"message": "Internal server error"}
    assert response.body == b'{"message": "Internal server error"}'


def test_a_function_error_is_502(proxy_api: ProxyApi) -> None:
    response = proxy_api.get("/error")

    assert response.status == 502
    assert response.json() == {"message": "Internal server error"}


def test_a_function_slower_than_the_integration_timeout_is_504(
    proxy_api: ProxyApi,
) -> None:
    started = time.monotonic()
    response = proxy_api.get("/slow")
    elapsed = time.monotonic() - started

    assert response.status == 504
    assert response.json() == {"message": "Endpoint request timed out"}
    assert elapsed < 5  # the 1 s integration timeout, not the function's 6 s


def test_a_mock_options_method_answers_the_cors_preflight(proxy_api: ProxyApi) -> None:
    response = proxy_api.get(
        "/cors",
        method="OPTIONS",
        headers={
            "Origin": "http://site.localhost",
            "Access-Control-Request-Method": "GET",
        },
    )

    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Access-Control-Allow-Methods"] == "GET,OPTIONS"


def test_binary_media_types_given_at_creation_and_patched_later_are_kept(
    proxy_api: ProxyApi,
) -> None:
    apigateway = proxy_api.cloud.client("apigateway")

    apigateway.update_rest_api(
        restApiId=proxy_api.api_id,
        patchOperations=[{"op": "add", "path": "/binaryMediaTypes/application~1pdf"}],
    )
    after_add = apigateway.get_rest_api(restApiId=proxy_api.api_id)["binaryMediaTypes"]
    apigateway.update_rest_api(
        restApiId=proxy_api.api_id,
        patchOperations=[
            {"op": "remove", "path": "/binaryMediaTypes/application~1pdf"}
        ],
    )
    after_remove = apigateway.get_rest_api(restApiId=proxy_api.api_id)[
        "binaryMediaTypes"
    ]

    assert after_add == ["image/png", "application/pdf"]
    assert after_remove == ["image/png"]


def test_the_aws_cli_imports_a_swagger_definition_that_is_then_served(
    proxy_api: ProxyApi, tmp_path: Any
) -> None:
    cloud = proxy_api.cloud
    function_arn = cloud.client("lambda").get_function(
        FunctionName=proxy_api.function_name
    )["Configuration"]["FunctionArn"]
    definition = {
        "swagger": "2.0",
        "info": {"title": "imported", "version": "1"},
        "paths": {
            "/hello/{name}": {
                "get": {
                    "x-amazon-apigateway-integration": {
                        "type": "aws_proxy",
                        "httpMethod": "POST",
                        "uri": "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/"
                        f"functions/{function_arn}/invocations",
                    }
                }
            }
        },
    }
    document = tmp_path / "api.json"
    document.write_text(json.dumps(definition))

    imported = subprocess.run(
        [
            ".venv/bin/aws",
            "apigateway",
            "import-rest-api",
            "--body",
            f"fileb://{document}",
        ],
        env=cloud.env,
        capture_output=True,
        text=True,
        check=True,
    )
    api_id = json.loads(imported.stdout)["id"]
    subprocess.run(
        [
            ".venv/bin/aws",
            "apigateway",
            "create-deployment",
            "--rest-api-id",
            api_id,
            "--stage-name",
            "v1",
        ],
        env=cloud.env,
        capture_output=True,
        check=True,
    )
    response = call(cloud.port, "/v1/hello/ada", host=f"{api_id}.execute-api.localhost")

    assert response.status == 200
    assert response.json()["pathParameters"] == {"name": "ada"}
    assert response.json()["resource"] == "/hello/{name}"

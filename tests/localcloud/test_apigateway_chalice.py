"""A Chalice app behind the local API Gateway, deployed the way `chalice deploy`
does it: the function from a zip holding the app and Chalice's runtime module,
the API imported from the Swagger 2.0 definition Chalice generates (with its
CORS preflight MOCK methods and binary media types), then a stage."""

from __future__ import annotations

import http.client
import importlib.util
import inspect
import json
import sys
import textwrap
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import chalice
import chalice.app
import pytest
from chalice.deploy.swagger import SwaggerGenerator

from tests.fixtures.localcloud import RunningCloud
from tests.localcloud.conftest import lambda_role

pytestmark = pytest.mark.localcloud

APP = """
from chalice import BadRequestError, Chalice, Response

app = Chalice(app_name="localcloud-demo")


@app.route("/")
def index():
    return {"hello": "world"}


@app.route("/items/{item_id}", methods=["GET", "PUT"], cors=True)
def item(item_id):
    request = app.current_request
    return {
        "id": item_id,
        "method": request.method,
        "query": request.query_params,
        "body": request.json_body if request.method == "PUT" else None,
        "stage": request.context["stage"],
        "resource": request.context["resourcePath"],
    }


@app.route("/fail")
def fail():
    raise BadRequestError("the item is not valid")


@app.route("/crash")
def crash():
    raise RuntimeError("kaboom")


@app.route("/reverse", methods=["POST"], content_types=["application/octet-stream"])
def reverse():
    return Response(
        body=app.current_request.raw_body[::-1],
        headers={"Content-Type": "application/octet-stream"},
    )
"""


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class ChaliceApi:
    cloud: RunningCloud
    api_id: str

    def call(
        self,
        path: str,
        *,
        method: str = "GET",
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> Reply:
        port = self.cloud.port
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.request(
                method,
                f"/api{path}",
                body=body,
                headers={
                    "Host": f"{self.api_id}.execute-api.localhost:{port}",
                    **(headers or {}),
                },
            )
            answer = connection.getresponse()
            return Reply(answer.status, answer.headers, answer.read())
        finally:
            connection.close()


def _package(project: Path) -> bytes:
    """The deployment package `chalice package` builds: app.py and Chalice's
    runtime (chalice/app.py, chalice/__init__.py), no dependencies."""
    (project / "app.py").write_text(textwrap.dedent(APP))
    archive = project / "deployment.zip"
    with zipfile.ZipFile(archive, "w") as package:
        package.write(project / "app.py", "app.py")
        package.write(inspect.getfile(chalice.app), "chalice/app.py")
        package.write(inspect.getfile(chalice), "chalice/__init__.py")
    return archive.read_bytes()


def _load_app(project: Path) -> Any:
    spec = importlib.util.spec_from_file_location(
        "localcloud_demo_app", project / "app.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules.pop("localcloud_demo_app", None)
    return module.app


@pytest.fixture(scope="module")
def chalice_api(
    local_cloud: RunningCloud, tmp_path_factory: pytest.TempPathFactory
) -> ChaliceApi:
    project = tmp_path_factory.mktemp("chalice-app")
    name = f"chalice-demo-{int(time.time() * 1000)}"
    function = local_cloud.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=lambda_role(local_cloud),
        Handler="app.app",
        Timeout=10,
        Code={"ZipFile": _package(project)},
    )
    swagger = SwaggerGenerator(
        "us-east-1", {"api_handler_arn": function["FunctionArn"]}
    ).generate_swagger(_load_app(project))
    apigateway = local_cloud.client("apigateway")
    api_id = apigateway.import_rest_api(body=json.dumps(swagger).encode())["id"]
    apigateway.create_deployment(restApiId=api_id, stageName="api")
    return ChaliceApi(local_cloud, api_id)


def test_a_route_returns_the_view_s_json(chalice_api: ChaliceApi) -> None:
    reply = chalice_api.call("/")

    assert reply.status == 200
    assert reply.json() == {"hello": "world"}
    assert reply.headers["Content-Type"] == "application/json"


def test_uri_parameters_query_strings_and_request_context_reach_the_view(
    chalice_api: ChaliceApi,
) -> None:
    reply = chalice_api.call("/items/42?color=red")

    assert reply.status == 200
    assert reply.json() == {
        "id": "42",
        "method": "GET",
        "query": {"color": "red"},
        "body": None,
        "stage": "api",
        "resource": "/items/{item_id}",
    }
    assert reply.headers["Access-Control-Allow-Origin"] == "*"


def test_a_json_body_is_parsed_by_chalice(chalice_api: ChaliceApi) -> None:
    reply = chalice_api.call(
        "/items/7",
        method="PUT",
        body=json.dumps({"name": "drill"}).encode(),
        headers={"Content-Type": "application/json"},
    )

    assert reply.status == 200
    assert reply.json()["body"] == {"name": "drill"}


def test_a_chalice_error_keeps_its_status_and_body(chalice_api: ChaliceApi) -> None:
    reply = chalice_api.call("/fail")

    assert reply.status == 400
    assert reply.json() == {
        "Code": "BadRequestError",
        "Message": "the item is not valid",
    }


def test_an_unhandled_exception_in_a_view_is_chalice_s_500(
    chalice_api: ChaliceApi,
) -> None:
    reply = chalice_api.call("/crash")

    assert reply.status == 500
    assert reply.json() == {
        "Code": "InternalServerError",
        "Message": "An internal server error occurred.",
    }


def test_the_cors_preflight_is_answered_by_the_mock_integration(
    chalice_api: ChaliceApi,
) -> None:
    reply = chalice_api.call(
        "/items/7",
        method="OPTIONS",
        headers={
            "Origin": "http://dashboard.localhost",
            "Access-Control-Request-Method": "PUT",
        },
    )

    assert reply.status == 200
    assert reply.headers["Access-Control-Allow-Origin"] == "*"
    assert set(reply.headers["Access-Control-Allow-Methods"].split(",")) == {
        "GET",
        "PUT",
        "OPTIONS",
    }


def test_binary_bodies_travel_both_ways(chalice_api: ChaliceApi) -> None:
    payload = bytes([0, 255, 1, 254, 2])

    reply = chalice_api.call(
        "/reverse",
        method="POST",
        body=payload,
        headers={
            "Content-Type": "application/octet-stream",
            "Accept": "application/octet-stream",
        },
    )

    assert reply.status == 200
    assert reply.body == payload[::-1]


def test_a_route_the_app_does_not_define_is_api_gateway_s_403(
    chalice_api: ChaliceApi,
) -> None:
    unknown_path = chalice_api.call("/nothing-here")
    unknown_method = chalice_api.call("/", method="DELETE")

    assert unknown_path.status == 403
    assert unknown_path.json() == {"message": "Missing Authentication Token"}
    assert unknown_method.status == 403
    assert unknown_method.json() == {"message": "Missing Authentication Token"}


def test_a_content_type_the_route_does_not_accept_is_chalice_s_415(
    chalice_api: ChaliceApi,
) -> None:
    reply = chalice_api.call(
        "/reverse", method="POST", body=b"x", headers={"Content-Type": "text/plain"}
    )

    assert reply.status == 415
    assert reply.json()["Code"] == "UnsupportedMediaType"

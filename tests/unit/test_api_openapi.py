"""The OpenAPI document is generated from the app, valid, and complete; CORS
follows CORS_ALLOW_ORIGIN; a greedy-proxy API Gateway reaches the same routes."""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from chalice.config import Config
from chalice.local import LocalGateway
from chalice.test import Client
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

import app as api_app
from chalicelib.routing import route_doc
from tests.unit.test_api_support import Api

pytestmark = pytest.mark.unit

APP_PATH = Path(api_app.__file__)
ORIGIN = "http://dashboard.localhost:4566"


def load_app(monkeypatch: pytest.MonkeyPatch, origin: str | None) -> Any:
    """A fresh copy of app.py, as a cold start with this environment makes it."""
    if origin is None:
        monkeypatch.delenv("CORS_ALLOW_ORIGIN", raising=False)
    else:
        monkeypatch.setenv("CORS_ALLOW_ORIGIN", origin)
    spec = importlib.util.spec_from_file_location("app_cold_start", APP_PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    reply = Api(Client(api_app.app)).get("/openapi.json")
    assert reply.status == 200
    return reply.body  # type: ignore[no-any-return]


def test_the_openapi_document_is_a_valid_openapi_3_1_document(
    document: dict[str, Any],
) -> None:
    validate(document)

    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [
        {"url": ".", "description": "Where this document was fetched"}
    ]


def test_the_document_lists_every_route_and_method_chalice_serves(
    document: dict[str, Any],
) -> None:
    served = {
        (path, method.lower())
        for path, methods in api_app.app.routes.items()
        for method in methods
    }
    documented = {
        (path, method) for path, item in document["paths"].items() for method in item
    }

    assert documented == served
    assert {
        "/health",
        "/machines",
        "/machines/{machine_id}",
        "/machines/{machine_id}/status",
        "/machine/status",
        "/machines/{machine_id}/readings",
        "/machines/{machine_id}/series",
        "/parameters",
        "/alerts",
        "/alerts/{alert_id}/ack",
        "/openapi.json",
    } == {path for path, _ in served}


def test_every_query_and_path_parameter_is_documented_with_a_schema(
    document: dict[str, Any],
) -> None:
    for path, methods in api_app.app.routes.items():
        for method, entry in methods.items():
            doc = route_doc(entry)
            assert doc is not None, f"{method} {path} has no RouteDoc"
            operation = document["paths"][path][method.lower()]
            listed = {(p["in"], p["name"]): p for p in operation["parameters"]}
            for param in doc.query.params:
                assert ("query", param.name) in listed, (path, param.name)
                assert listed[("query", param.name)]["required"] == param.required
            for name in entry.view_args:
                assert listed[("path", name)]["required"] is True
            assert all("schema" in p for p in operation["parameters"])


def test_limits_enums_and_defaults_appear_in_the_parameter_schemas(
    document: dict[str, Any],
) -> None:
    readings = document["paths"]["/machines/{machine_id}/readings"]["get"]
    schema = {p["name"]: p["schema"] for p in readings["parameters"]}
    alerts = document["paths"]["/alerts"]["get"]
    alert_schema = {p["name"]: p["schema"] for p in alerts["parameters"]}

    assert schema["limit"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 10000,
        "default": 1000,
    }
    assert schema["order"]["enum"] == ["asc", "desc"]
    assert schema["from"]["format"] == "date-time"
    assert alert_schema["state"] == {
        "type": "string",
        "enum": ["open", "cleared", "all"],
        "default": "open",
    }


def test_every_response_references_a_component_schema_that_exists(
    document: dict[str, Any],
) -> None:
    components = document["components"]["schemas"]
    text = json.dumps(document["paths"])
    refs = {
        ref.split("/")[-1]
        for ref in (piece.split('"')[0] for piece in text.split('"$ref": "')[1:])
    }

    assert refs <= set(components)
    assert {"ErrorBody", "MachineList", "ReadingsPage", "Series", "Alert"} <= refs
    for schema in components.values():
        Draft202012Validator.check_schema(schema)
    ack = document["paths"]["/alerts/{alert_id}/ack"]["post"]
    assert set(ack["responses"]) >= {"200", "400", "404", "409", "415", "503"}
    assert ack["requestBody"]["required"] is False


def test_without_cors_allow_origin_no_cors_header_is_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api = Api(Client(load_app(monkeypatch, None)))

    reply = api.get("/parameters")

    assert reply.status == 200
    assert "Access-Control-Allow-Origin" not in reply.headers


def test_the_configured_origin_is_allowed_on_successes_and_on_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = load_app(monkeypatch, ORIGIN)
    api = Api(Client(app))
    # Chalice's test client cannot read a body-less reply; its gateway can.
    gateway = LocalGateway(app, Config.create())

    ok = api.get("/parameters")
    bad = api.get("/parameters", machine_type="Boat")
    not_allowed = api.request("DELETE", "/parameters")
    preflight = gateway.handle_request("OPTIONS", "/alerts/1/ack", {}, b"")

    assert ok.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert bad.status == 400
    assert bad.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert not_allowed.status == 405
    assert not_allowed.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert preflight["headers"]["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in preflight["headers"]["Access-Control-Allow-Methods"]


def test_a_cors_origin_that_is_not_an_origin_turns_cors_off_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        api = Api(Client(load_app(monkeypatch, "dashboard please")))

    reply = api.get("/parameters")

    assert "Access-Control-Allow-Origin" not in reply.headers
    assert "CORS_ALLOW_ORIGIN 'dashboard please' is not an origin" in caplog.text


def proxy_event(method: str, path: str, query: dict[str, str] | None = None) -> Any:
    """What API Gateway sends through one greedy /{proxy+} resource."""
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": {"Origin": ORIGIN},
        "multiValueHeaders": {"Origin": [ORIGIN]},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": (
            {k: [v] for k, v in query.items()} if query else None
        ),
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/api{path}",
            "stage": "api",
        },
        "body": None,
        "isBase64Encoded": False,
    }


def test_a_greedy_proxy_event_reaches_the_route_its_path_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = load_app(monkeypatch, ORIGIN)

    catalog = app(proxy_event("GET", "/parameters", {"machine_type": "Lathe"}), None)
    status = app(proxy_event("GET", "/machines/a%2Bb/status"), None)

    assert catalog["statusCode"] == 200
    assert [t["name"] for t in json.loads(catalog["body"])["machine_types"]] == [
        "Lathe"
    ]
    assert status["statusCode"] == 400
    assert json.loads(status["body"])["message"].startswith('machine id "a+b"')


def test_a_greedy_proxy_event_for_no_route_is_a_json_404_and_preflight_is_answered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = load_app(monkeypatch, ORIGIN)

    missing = app(proxy_event("GET", "/machinez"), None)
    preflight = app(proxy_event("OPTIONS", "/alerts/7/ack"), None)

    assert missing["statusCode"] == 404
    assert json.loads(missing["body"]) == {
        "error": "NotFound",
        "message": "no route /machinez; GET /openapi.json lists the routes of this API",
    }
    assert missing["headers"]["Access-Control-Allow-Origin"] == ORIGIN
    assert preflight["statusCode"] == 204
    assert preflight["headers"]["Access-Control-Allow-Methods"] == "POST,OPTIONS"


def test_the_machine_id_grammar_is_the_one_ingestion_stores() -> None:
    from chalicelib.validation import MACHINE_ID_PATTERN
    from orchestralink import telemetry

    assert telemetry._MACHINE_ID_RE.pattern == MACHINE_ID_PATTERN

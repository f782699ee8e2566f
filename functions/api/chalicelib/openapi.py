"""The OpenAPI 3.1 document, generated from the Chalice app itself.

Paths and methods come from `app.routes` (what Chalice will actually route);
summaries, query parameters, path parameter schemas, request bodies and
response schemas come from the `RouteDoc` each view carries (see routing.py),
and the JSON Schemas from the pydantic models in models.py. A route without a
RouteDoc still appears, with a generic response, so nothing routable is ever
missing from the document. The server URL is relative ("."), so Swagger UI
and fuzzers call the API wherever the document itself was fetched from (any
stage, any local-cloud URL form).
"""

from __future__ import annotations

from typing import Any

from chalice.app import Chalice

from chalicelib.routing import RouteDoc, route_doc
from chalicelib.validation import (
    INTERVAL_PATTERN,
    MACHINE_ID_PATTERN,
    PARAMETER_PATTERN,
    QueryParam,
)

OPENAPI_VERSION = "3.1.0"
_REF = "#/components/schemas/{model}"
_STATUS_TEXT = {
    400: "Bad input: the message names the parameter and the fix",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    415: "Unsupported media type",
    503: "Database unavailable; retry",
}


def component_schemas() -> dict[str, Any]:
    # Imported here: pydantic is needed for this document only, not per request.
    from pydantic.json_schema import models_json_schema

    from chalicelib.models import RESPONSE_MODELS

    _, top = models_json_schema(
        [(model, "serialization") for model in RESPONSE_MODELS],
        ref_template=_REF,
    )
    schemas: dict[str, Any] = top.get("$defs", {})
    return schemas


def _ref(model: str) -> dict[str, str]:
    return {"$ref": _REF.format(model=model)}


def query_param_schema(param: QueryParam) -> dict[str, Any]:
    schema: dict[str, Any]
    if param.kind == "integer":
        schema = {"type": "integer", "minimum": param.minimum}
        schema["maximum"] = param.maximum
    elif param.kind == "enum":
        schema = {"type": "string", "enum": list(param.choices)}
    elif param.kind == "timestamp":
        schema = {"type": "string", "format": "date-time"}
    elif param.kind == "interval":
        schema = {"type": "string", "pattern": INTERVAL_PATTERN}
    elif param.kind == "machine_id":
        schema = {"type": "string", "maxLength": 64, "pattern": MACHINE_ID_PATTERN}
    elif param.kind == "parameter":
        schema = {"type": "string", "pattern": PARAMETER_PATTERN}
    else:
        schema = {"type": "string", "minLength": 1, "maxLength": 200}
    if param.default is not None:
        schema["default"] = param.default
    return {key: value for key, value in schema.items() if value is not None}


def _parameters(path: str, doc: RouteDoc | None) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = []
    for segment in path.split("/"):
        if not (segment.startswith("{") and segment.endswith("}")):
            continue
        name = segment[1:-1]
        declared = doc.path_params.get(name) if doc else None
        parameters.append(
            {
                "name": name,
                "in": "path",
                "required": True,
                "description": declared.description if declared else name,
                "schema": declared.schema if declared else {"type": "string"},
            }
        )
    for param in doc.query.params if doc else ():
        entry: dict[str, Any] = {
            "name": param.name,
            "in": "query",
            "required": param.required,
            "description": param.description,
            "schema": query_param_schema(param),
        }
        if param.example is not None:
            entry["example"] = param.example
        parameters.append(entry)
    return parameters


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _operation(path: str, method: str, view_name: str, doc: RouteDoc | None) -> Any:
    operation: dict[str, Any] = {
        "operationId": view_name,
        "summary": doc.summary if doc else view_name.replace("_", " "),
        "parameters": _parameters(path, doc),
    }
    if doc and doc.description:
        operation["description"] = doc.description
    if doc and doc.tags:
        operation["tags"] = list(doc.tags)

    success: dict[str, Any] = {"description": "OK"}
    schema: dict[str, Any] = {"type": "object"}
    if doc is not None:
        response = doc.response
        schema = _ref(response) if isinstance(response, str) else dict(response)
    success["content"] = _json(schema)
    responses: dict[str, Any] = {"200": success}
    errors = dict(doc.errors) if doc else {}
    errors.setdefault(400, _STATUS_TEXT[400])  # unknown query parameters
    errors.setdefault(503, _STATUS_TEXT[503])
    if method in ("POST", "PUT", "PATCH"):
        errors.setdefault(415, _STATUS_TEXT[415])
    for status, text in sorted(errors.items()):
        responses[str(status)] = {
            "description": text,
            "content": _json(_ref("ErrorBody")),
        }
    operation["responses"] = responses

    if doc and doc.request_body is not None:
        operation["requestBody"] = {
            "required": False,
            "content": _json(_ref(doc.request_body)),
        }
    return operation


def build_document(app: Chalice, version: str = "1") -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for path in sorted(app.routes):
        item: dict[str, Any] = {}
        for method, entry in sorted(app.routes[path].items()):
            item[method.lower()] = _operation(
                path, method, entry.view_name, route_doc(entry)
            )
        paths[path] = item

    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "OrchestraLink API",
            "version": version,
            "description": (
                "Fleet status, raw readings, bucketed series, the machine catalog "
                "and alerts of the OrchestraLink telemetry platform. Times are "
                "UTC ISO-8601; every error is JSON {error, message}."
            ),
        },
        "servers": [{"url": ".", "description": "Where this document was fetched"}],
        "paths": paths,
        "components": {"schemas": component_schemas()},
    }

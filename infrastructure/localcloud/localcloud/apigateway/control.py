"""The API Gateway control-plane calls moto gets wrong, answered in its place.

- ImportRestApi and PutRestApi: moto refuses Swagger 2.0, which SAM and
  `chalice deploy` send, and drops most of API Gateway's extensions. Here the
  definition goes through the local importer (see `openapi`) into moto's
  backend, and the answer is the RestApi document, as moto would write it.
- CreateRestApi: moto ignores binaryMediaTypes, and answers 200 instead of 201.
- UpdateRestApi: `add`/`remove` operations on `/binaryMediaTypes/{type}` (the
  type in the path, `/` escaped as `~1`) fail in moto. They are applied here;
  the other operations of the same request still go to moto.

Every other API Gateway request is left to moto.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import replace
from typing import Any, Protocol

from moto.apigateway.models import apigateway_backends
from moto.cloudformation.models import Stack as MotoStack

from localcloud.http import HttpRequest, HttpResponse

from .openapi import import_definition

logger = logging.getLogger(__name__)

_API_PATH = re.compile(r"^/restapis/(?P<api>[A-Za-z0-9]+)/?$")
_BINARY_PATH = "/binaryMediaTypes/"


class Cloud(Protocol):
    """What this route needs from `LocalCloud`."""

    def moto(self, request: HttpRequest) -> HttpResponse: ...


def _is_apigateway(request: HttpRequest) -> bool:
    return "/apigateway/aws4_request" in (request.header("authorization") or "")


class RestApiControlRoute:
    """The `DataPlaneRoute` mending ImportRestApi, PutRestApi and binary types."""

    name = "apigateway-control"

    def __init__(self, cloud: Cloud, account_id: str, default_region: str) -> None:
        self._cloud = cloud
        self._account_id = account_id
        self._default_region = default_region

    def match(self, request: HttpRequest) -> bool:
        if not request.path.startswith("/restapis") or not _is_apigateway(request):
            return False
        if request.method == "POST" and request.path.rstrip("/") == "/restapis":
            return True
        return request.method in ("PUT", "PATCH") and bool(
            _API_PATH.match(request.path)
        )

    def handle(self, request: HttpRequest) -> HttpResponse:
        backend = self._backend(request)
        query = dict(request.query_params)
        if request.method == "POST" and query.get("mode") == "import":
            return self._import(backend, request, query)
        if request.method == "POST":
            return self._create(backend, request)
        api_id = _API_PATH.match(request.path).group("api")  # type: ignore[union-attr]
        if api_id not in backend.apis:
            return _not_found(api_id)
        if request.method == "PUT":
            return self._put(backend, backend.apis[api_id], request, query)
        return self._update(backend.apis[api_id], request)

    def _backend(self, request: HttpRequest) -> Any:
        match = re.search(
            r"Credential=[^/]*/\d{8}/([^/]*)/", request.header("authorization") or ""
        )
        region = match.group(1) if match else self._default_region
        return apigateway_backends[self._account_id][region]

    def _import(
        self, backend: Any, request: HttpRequest, query: dict[str, str]
    ) -> HttpResponse:
        document = _definition(request.body)
        if isinstance(document, HttpResponse):
            return document
        info = document.get("info") or {}
        api = backend.create_rest_api(
            name=str(info.get("title") or "imported"),
            description=str(info.get("description") or ""),
            endpoint_configuration=_endpoint_types(query),
        )
        failure = _apply(backend, api, document, merge=False)
        if failure is not None:
            backend.delete_rest_api(api.id)
            return failure
        return _rest_api(201, api)

    def _put(
        self, backend: Any, api: Any, request: HttpRequest, query: dict[str, str]
    ) -> HttpResponse:
        document = _definition(request.body)
        if isinstance(document, HttpResponse):
            return document
        failure = _apply(backend, api, document, merge=query.get("mode") != "overwrite")
        return failure or _rest_api(200, api)

    def _create(self, backend: Any, request: HttpRequest) -> HttpResponse:
        response = self._cloud.moto(request)
        if not 200 <= response.status < 300:
            return response
        created = backend.apis.get(_json(response.body).get("id"))
        if created is None:
            return response
        sent = _json(request.body).get("binaryMediaTypes") or []
        created.binaryMediaTypes = [_media_type(t) for t in sent]
        return _rest_api(201, created)  # moto answers 200; AWS 201 Created

    def _update(self, api: Any, request: HttpRequest) -> HttpResponse:
        document = _json(request.body)
        operations = document.get("patchOperations") or []
        remaining = []
        for operation in operations:
            path = str(operation.get("path", ""))
            if not path.startswith(_BINARY_PATH):
                remaining.append(operation)
                continue
            media_type = _media_type(path[len(_BINARY_PATH) :])
            if operation.get("op") == "add" and media_type not in api.binaryMediaTypes:
                api.binaryMediaTypes.append(media_type)
            elif operation.get("op") == "remove" and media_type in api.binaryMediaTypes:
                api.binaryMediaTypes.remove(media_type)
        if not remaining:
            return _rest_api(200, api)
        body = json.dumps({**document, "patchOperations": remaining}).encode()
        return self._cloud.moto(replace(request, body=body))


def _apply(
    backend: Any, api: Any, document: dict[str, Any], *, merge: bool
) -> HttpResponse | None:
    try:
        import_definition(backend, api, document, merge=merge)
    except (ValueError, KeyError, TypeError) as error:
        return _bad_request(f"Errors found during import: {error}")
    return None


def _definition(body: bytes) -> dict[str, Any] | HttpResponse:
    try:
        document = MotoStack.parse_template(body.decode())
    except Exception as error:  # YAML and JSON parsers raise their own errors
        return _bad_request(f"Invalid OpenAPI input: {error}")
    if not isinstance(document, dict) or not isinstance(document.get("paths"), dict):
        return _bad_request(
            "Invalid OpenAPI input: the definition needs a 'paths' object "
            "(Swagger 2.0 or OpenAPI 3)"
        )
    return document


def _endpoint_types(query: dict[str, str]) -> Any:
    kind = query.get("endpointConfigurationTypes")
    return {"types": [kind]} if kind else None


def _media_type(value: str) -> str:
    return value.replace("~1", "/")


def _json(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _rest_api(status: int, api: Any) -> HttpResponse:
    return HttpResponse.json(status, json.dumps(api.to_dict(), default=str))


def _bad_request(message: str) -> HttpResponse:
    body = json.dumps({"message": message})
    return HttpResponse.json(400, body, **{"x-amzn-ErrorType": "BadRequestException"})


def _not_found(api_id: str) -> HttpResponse:
    body = json.dumps({"message": f"Invalid API identifier specified {api_id}"})
    return HttpResponse.json(404, body, **{"x-amzn-ErrorType": "NotFoundException"})

"""Names the AWS service and operation of a request, for logs, listeners and errors.

The service is the signing name in the SigV4 credential scope (what AWS itself
routes on); the operation comes from `X-Amz-Target` (JSON protocols), `Action=`
(query protocols) or, for REST protocols, from matching the method and path
against the request URIs of botocore's service model, loaded once per service.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

from localcloud.http import HttpRequest

# Signing names whose botocore model has another name.
_MODEL_NAMES = {"iotdata": "iot-data", "monitoring": "cloudwatch", "email": "ses"}
_CREDENTIAL = re.compile(r"Credential=[^/]*/\d{8}/([^/]*)/([^/]*)/aws4_request")


@dataclass(frozen=True, slots=True)
class AwsCall:
    service: str | None  # signing name, e.g. "lambda", "sqs", "iotdata"
    operation: str | None  # e.g. "CreateFunction"; None when it cannot be told
    region: str | None
    protocol: str  # "json", "query", "rest-json", "rest-xml" or "unknown"


@dataclass(frozen=True, slots=True)
class _RestOperation:
    name: str
    method: str
    pattern: re.Pattern[str]
    query_keys: tuple[str, ...]
    literal_length: int


_lock = threading.Lock()


def signing_region(request: HttpRequest) -> str | None:
    """The region of the request's SigV4 credential scope, cheaply."""
    match = _CREDENTIAL.search(request.header("authorization", "") or "")
    return match.group(1) if match else None


def identify(request: HttpRequest) -> AwsCall:
    """The AWS call a request makes, as far as cheap inspection tells."""
    service = region = None
    match = _CREDENTIAL.search(request.header("authorization", "") or "")
    if match:
        region, service = match.group(1), match.group(2)

    target = request.header("x-amz-target")
    if target:
        prefix, _, operation = target.rpartition(".")
        return AwsCall(service or prefix.lower() or None, operation, region, "json")

    content_type = request.header("content-type", "") or ""
    if content_type.startswith("application/x-www-form-urlencoded") and request.body:
        action = _form_action(request.body)
        if action:
            return AwsCall(service, action, region, "query")
    if "Action=" in request.query_string:
        action = dict(request.query_params).get("Action")
        if action:
            return AwsCall(service, action, region, "query")

    if service is None:
        return AwsCall(None, None, region, "unknown")
    model = _rest_model(_MODEL_NAMES.get(service, service))
    if model is None:
        return AwsCall(service, None, region, "unknown")
    protocol, operations = model
    return AwsCall(service, _match_rest(operations, request), region, protocol)


def _form_action(body: bytes) -> str | None:
    for key, value in parse_qsl(body.decode("utf-8", "replace")):
        if key == "Action":
            return value
    return None


def _match_rest(operations: list[_RestOperation], request: HttpRequest) -> str | None:
    query_keys = {key for key, _ in request.query_params}
    best: _RestOperation | None = None
    for operation in operations:
        if operation.method != request.method:
            continue
        if not operation.pattern.fullmatch(request.raw_path):
            continue
        if not set(operation.query_keys) <= query_keys:
            continue
        rank = (len(operation.query_keys), operation.literal_length)
        if best is None or rank > (len(best.query_keys), best.literal_length):
            best = operation
    return best.name if best else None


@lru_cache(maxsize=64)
def _rest_model(model_name: str) -> tuple[str, list[_RestOperation]] | None:
    from botocore.exceptions import DataNotFoundError
    from botocore.loaders import Loader

    with _lock:
        try:
            model: dict[str, Any] = Loader().load_service_model(model_name, "service-2")
        except DataNotFoundError:
            return None
    protocol = str(model["metadata"].get("protocol", "unknown"))
    if not protocol.startswith("rest"):
        return protocol, []
    operations = []
    for name, spec in model["operations"].items():
        http = spec.get("http", {})
        uri, _, query = str(http.get("requestUri", "/")).partition("?")
        regex = ""
        literal = 0
        for piece in re.split(r"(\{[^}]+\})", uri):
            if piece.startswith("{"):
                regex += ".+" if piece.endswith("+}") else "[^/]+"
            else:
                regex += re.escape(piece)
                literal += len(piece)
        keys = tuple(part.split("=")[0] for part in query.split("&") if part)
        operations.append(
            _RestOperation(
                name,
                str(http.get("method", "GET")),
                re.compile(regex + "/?"),
                keys,
                literal,
            )
        )
    return protocol, operations

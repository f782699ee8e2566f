"""The AWS_PROXY Lambda integration: invoke, then map the proxy response back.

Like API Gateway:
- the function comes from the integration URI
  `arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations`,
  with `${stageVariables.x}` substituted;
- the call is synchronous and capped by the integration timeout (29 s by
  default); beyond it the client gets 504 while the function runs on;
- a function error is 502, and so is a response that is not an object made of
  `statusCode`, `headers`, `multiValueHeaders`, `body` and `isBase64Encoded` of
  the right types (AWS logs "Malformed Lambda proxy response");
- `headers` and `multiValueHeaders` are merged, a name in both keeping the
  multi-value list; Content-Type defaults to application/json;
- a base64 body is decoded only when the first media type of the request's
  Accept header is one of the API's binary media types, else sent as the text.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from localcloud.http import HttpResponse
from localcloud.invoker import LambdaInvoker

from .exceptions import IntegrationError
from .media import first_accepted, matches_media_type
from .responses import (
    CONFIGURATION_ERROR,
    INTEGRATION_FAILURE,
    INTEGRATION_TIMEOUT,
)

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_MS = 29_000

_LAMBDA_URI = re.compile(
    r"^arn:[^:]+:apigateway:[^:]*:lambda:path/[^/]+/functions/(?P<function>.+)"
    r"/invocations$"
)
_STAGE_VARIABLE = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_.-]+)\}")
_RESPONSE_KEYS = frozenset(
    {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}
)
# Set by the edge from the body it writes; a value from the function would lie.
_SERVER_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})


def function_from_uri(
    uri: str, stage_variables: dict[str, str]
) -> tuple[str, str | None]:
    """The function ARN (or name) and qualifier an integration URI points to."""
    found = _LAMBDA_URI.match(uri or "")
    if found is None:
        raise IntegrationError(
            CONFIGURATION_ERROR,
            f"integration URI {uri!r} is not a Lambda invocation URI "
            "(arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/"
            "{function-arn}/invocations)",
        )
    function = _STAGE_VARIABLE.sub(
        lambda variable: stage_variables.get(variable.group(1), ""),
        found.group("function"),
    )
    parts = function.split(":")
    if function.startswith("arn:") and len(parts) == 8:
        return ":".join(parts[:7]), parts[7]
    return function, None


class LambdaProxyIntegration:
    """Invokes the function through the local cloud's `LambdaInvoker`."""

    def __init__(
        self, invoker: LambdaInvoker, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._invoker = invoker
        self._clock = clock

    def invoke(
        self,
        event: dict[str, Any],
        *,
        uri: str,
        stage_variables: dict[str, str],
        timeout_ms: int,
        accept: str | None,
        binary_media_types: list[str],
    ) -> HttpResponse:
        function, qualifier = function_from_uri(uri, stage_variables)
        timeout = timeout_ms / 1000
        started = self._clock()
        result = self._invoker.invoke(
            function,
            json.dumps(event).encode(),
            qualifier=qualifier,
            timeout_override=timeout,
        )
        elapsed = self._clock() - started

        if elapsed >= timeout:
            raise IntegrationError(
                INTEGRATION_TIMEOUT,
                f"function {function} did not answer within the integration "
                f"timeout of {timeout_ms} ms",
            )
        if result.function_error:
            raise IntegrationError(
                INTEGRATION_FAILURE,
                f"function {function} failed ({result.function_error}): "
                f"{result.payload[:500].decode(errors='replace')}",
            )
        if result.status_code >= 300:
            raise IntegrationError(
                CONFIGURATION_ERROR,
                f"invoking {function} returned status {result.status_code}: "
                f"{result.payload[:500].decode(errors='replace')}",
            )
        return map_proxy_response(result.payload, accept, binary_media_types)


def map_proxy_response(
    payload: bytes, accept: str | None, binary_media_types: list[str]
) -> HttpResponse:
    """The HTTP response for a function's proxy response document."""
    try:
        document = json.loads(payload)
    except ValueError as error:
        raise _malformed(payload, "it is not JSON") from error
    if not isinstance(document, dict):
        raise _malformed(payload, "it is not a JSON object")
    unknown = set(document) - _RESPONSE_KEYS
    if unknown:
        raise _malformed(payload, f"unexpected fields {sorted(unknown)}")

    status = _status(document.get("statusCode"), payload)
    headers = _headers(document, payload)
    body = document.get("body")
    if body is None:
        data = b""
    elif not isinstance(body, str):
        raise _malformed(payload, "body is not a string")
    elif document.get("isBase64Encoded") is True and matches_media_type(
        first_accepted(accept), binary_media_types
    ):
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as error:
            raise _malformed(payload, "body is not valid base64") from error
    else:
        data = body.encode()

    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return HttpResponse(status, data, headers)


def _status(value: Any, payload: bytes) -> int:
    if isinstance(value, bool) or value is None:
        raise _malformed(payload, "statusCode is missing")
    if isinstance(value, int):
        status = value
    elif isinstance(value, str) and value.isdigit():
        status = int(value)
    else:
        raise _malformed(payload, "statusCode is not an integer")
    if not 100 <= status <= 599:
        raise _malformed(payload, f"statusCode {status} is not an HTTP status")
    return status


def _headers(document: dict[str, Any], payload: bytes) -> list[tuple[str, str]]:
    single = document.get("headers") or {}
    multi = document.get("multiValueHeaders") or {}
    if not isinstance(single, dict) or not isinstance(multi, dict):
        raise _malformed(payload, "headers are not an object")

    merged: dict[str, list[str]] = {}
    for name, value in single.items():
        if isinstance(value, dict | list):
            raise _malformed(payload, f"header {name} is not a string")
        merged[name] = [_header_text(value)]
    for name, values in multi.items():
        if not isinstance(values, list):
            raise _malformed(payload, f"multiValueHeaders {name} is not a list")
        merged[name] = [_header_text(value) for value in values]
    return [
        (name, value)
        for name, values in merged.items()
        if name.lower() not in _SERVER_HEADERS
        for value in values
    ]


def _header_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _malformed(payload: bytes, reason: str) -> IntegrationError:
    return IntegrationError(
        INTEGRATION_FAILURE,
        f"Malformed Lambda proxy response ({reason}): "
        f"{payload[:500].decode(errors='replace')}",
    )

"""The Lambda proxy integration event (payload format 1.0) of a REST API request.

Copies what API Gateway sends for REST APIs:
- `headers` and `queryStringParameters` hold the last value of a repeated name,
  the `multiValue*` maps hold them all; maps are null when empty.
- `path` and `pathParameters` stay percent-encoded as the client sent them
  (REST APIs do not decode paths), query strings are decoded.
- `body` is base64 text with `isBase64Encoded: true` when the request's
  Content-Type matches one of the API's binary media types, UTF-8 text otherwise.
- API Gateway adds X-Forwarded-For/-Port/-Proto and X-Amzn-Trace-Id headers.

Where it cannot: no authorizer output (`requestContext.authorizer` is absent, as
for methods without an authorizer), no CloudFront-* or Via headers (there is no
CloudFront in front), and `identity` carries only sourceIp and userAgent.
"""

from __future__ import annotations

import base64
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from localcloud.http import HttpRequest

from .matcher import RouteMatch
from .media import matches_media_type
from .urls import ExecuteApiTarget

logger = logging.getLogger(__name__)

_IDENTITY_KEYS = (
    "cognitoIdentityPoolId",
    "accountId",
    "cognitoIdentityId",
    "caller",
    "principalOrgId",
    "accessKey",
    "cognitoAuthenticationType",
    "cognitoAuthenticationProvider",
    "userArn",
    "user",
)
# Hop-by-hop headers of the connection to the edge, which API Gateway's
# front end consumes and does not pass on.
_DROPPED_HEADERS = frozenset({"connection", "keep-alive", "transfer-encoding"})


class ProxyEventBuilder:
    """Builds proxy events; the clock and request ids are injected for tests."""

    def __init__(
        self,
        *,
        account_id: str,
        port: int,
        clock: Callable[[], float] = time.time,
        new_request_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._account_id = account_id
        self._port = port
        self._clock = clock
        self._new_request_id = new_request_id

    def new_request_id(self) -> str:
        return self._new_request_id()

    def build(
        self,
        request: HttpRequest,
        target: ExecuteApiTarget,
        match: RouteMatch,
        *,
        stage: str,
        stage_variables: dict[str, str],
        binary_media_types: list[str],
        request_id: str,
    ) -> dict[str, Any]:
        now = self._clock()
        headers, multi_headers = self._headers(request, request_id)
        query, multi_query = _query(request)
        body, is_base64 = _body(request, binary_media_types)
        return {
            "resource": match.resource_path,
            "path": target.path,
            "httpMethod": request.method,
            "headers": headers,
            "multiValueHeaders": multi_headers,
            "queryStringParameters": query,
            "multiValueQueryStringParameters": multi_query,
            "pathParameters": match.path_parameters or None,
            "stageVariables": stage_variables or None,
            "requestContext": {
                "resourceId": match.resource.id,
                "resourcePath": match.resource_path,
                "httpMethod": request.method,
                "extendedRequestId": _extended_id(request_id),
                "requestTime": time.strftime(
                    "%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)
                ),
                "path": f"/{stage}{target.path}",
                "accountId": self._account_id,
                "protocol": "HTTP/1.1",
                "stage": stage,
                "domainPrefix": target.domain_name.split(".", 1)[0],
                "requestTimeEpoch": int(now * 1000),
                "requestId": request_id,
                "identity": {
                    **dict.fromkeys(_IDENTITY_KEYS),
                    "sourceIp": request.client_ip,
                    "userAgent": request.header("user-agent"),
                },
                "domainName": target.domain_name,
                "deploymentId": None,
                "apiId": target.api_id,
            },
            "body": body,
            "isBase64Encoded": is_base64,
        }

    def _headers(
        self, request: HttpRequest, request_id: str
    ) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
        multi: dict[str, list[str]] = {}
        seen: dict[str, str] = {}  # lower-case name -> name as first sent
        for name, value in request.headers:
            lower = name.lower()
            if lower in _DROPPED_HEADERS:
                continue
            key = seen.setdefault(lower, name)
            multi.setdefault(key, []).append(value)

        trace = f"Root=1-{int(self._clock()):08x}-{request_id.replace('-', '')[:24]}"
        added = (
            ("X-Forwarded-For", request.client_ip),
            ("X-Forwarded-Port", str(self._port)),
            ("X-Forwarded-Proto", "http"),
            ("X-Amzn-Trace-Id", trace),
        )
        for name, value in added:
            if name.lower() not in seen:
                multi[name] = [value]
        if not multi:
            return None, None
        return {name: values[-1] for name, values in multi.items()}, multi


def _query(
    request: HttpRequest,
) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    if not request.query_string:
        return None, None
    multi: dict[str, list[str]] = {}
    for name, value in request.query_params:
        multi.setdefault(name, []).append(value)
    if not multi:
        return None, None
    return {name: values[-1] for name, values in multi.items()}, multi


def _body(
    request: HttpRequest, binary_media_types: list[str]
) -> tuple[str | None, bool]:
    if not request.body:
        return None, False
    content_type = request.header("content-type") or ""
    if binary_media_types and matches_media_type(content_type, binary_media_types):
        return base64.b64encode(request.body).decode("ascii"), True
    try:
        return request.body.decode("utf-8"), False
    except UnicodeDecodeError:
        # API Gateway would hand the function mangled text here; sending the
        # bytes base64-encoded at least loses nothing.
        logger.warning(
            "request body is not UTF-8 and Content-Type %r is not one of the API's "
            "binary media types %s; passing it base64-encoded. Add the type to "
            "binaryMediaTypes, as AWS would otherwise corrupt the body",
            content_type,
            binary_media_types,
        )
        return base64.b64encode(request.body).decode("ascii"), True


def _extended_id(request_id: str) -> str:
    return base64.b64encode(request_id.encode()[:12]).decode("ascii").rstrip("=") + "="

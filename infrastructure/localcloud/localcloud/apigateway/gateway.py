"""The execute-api data plane: REST API stages served from moto's state.

A request is addressed to an API and stage (see `urls`), matched to a resource
and method (see `matcher`), and passed to the method's integration: AWS_PROXY
Lambda functions (see `lambda_proxy`) and MOCK (see `mock`). The API, its
resources and stages are read from moto's apigateway backend on every request,
whichever way they were created.

Not reproduced, with a warning when met: authorizers and API keys (requests
pass as if authorized), request validators, HTTP/HTTP_PROXY/AWS integrations,
customised gateway responses, resource policies, throttling and caching.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from moto.apigateway.models import apigateway_backends

from localcloud.http import HttpRequest, HttpResponse
from localcloud.invoker import LambdaInvoker

from .event import ProxyEventBuilder
from .exceptions import IntegrationError
from .lambda_proxy import DEFAULT_TIMEOUT_MS, LambdaProxyIntegration
from .matcher import ResourceMatcher, RouteMatch
from .mock import mock_response
from .responses import (
    CONFIGURATION_ERROR,
    FORBIDDEN,
    MISSING_AUTHENTICATION_TOKEN,
    UNKNOWN_API,
)
from .urls import ExecuteApiTarget, parse_target

logger = logging.getLogger(__name__)


class ExecuteApiRoute:
    """The `DataPlaneRoute` answering execute-api requests."""

    name = "apigateway"

    def __init__(
        self,
        invoker: LambdaInvoker,
        *,
        port: int,
        account_id: str = "123456789012",
        events: ProxyEventBuilder | None = None,
        lambda_proxy: LambdaProxyIntegration | None = None,
    ) -> None:
        self._events = events or ProxyEventBuilder(account_id=account_id, port=port)
        self._lambda_proxy = lambda_proxy or LambdaProxyIntegration(invoker)
        self._matcher = ResourceMatcher()
        self._api_homes: dict[str, tuple[str, str]] = {}
        self._warned: set[tuple[str, ...]] = set()
        self._warned_lock = threading.Lock()

    def match(self, request: HttpRequest) -> bool:
        return parse_target(request) is not None

    def handle(self, request: HttpRequest) -> HttpResponse:
        target = parse_target(request)
        request_id = self._events.new_request_id()
        if target is None:  # only when called without match()
            return MISSING_AUTHENTICATION_TOKEN.render(request_id)
        try:
            response = self._serve(request, target, request_id)
        except IntegrationError as error:
            level = logging.WARNING if error.response.status >= 500 else logging.INFO
            logger.log(
                level,
                "execute-api %s %s %s%s -> %d: %s",
                target.api_id,
                request.method,
                target.stage,
                target.path,
                error.response.status,
                error.reason,
            )
            return error.response.render(request_id)
        response.headers.extend(
            [
                ("x-amzn-RequestId", request_id),
                ("x-amz-apigw-id", request_id.replace("-", "")[:16]),
            ]
        )
        return response

    def _serve(
        self, request: HttpRequest, target: ExecuteApiTarget, request_id: str
    ) -> HttpResponse:
        found = self._find_api(target.api_id)
        if found is None:
            raise IntegrationError(UNKNOWN_API, f"no REST API with id {target.api_id}")
        account_id, api = found

        stage = api.stages.get(target.stage) if target.stage else None
        if stage is None or api.disableExecuteApiEndpoint:
            raise IntegrationError(
                FORBIDDEN, f"API {api.id} has no stage {target.stage!r} deployed"
            )

        match = self._matcher.match(api, request.method, target.path)
        if match is None:
            raise IntegrationError(
                MISSING_AUTHENTICATION_TOKEN,
                f"no resource of API {api.id} serves {request.method} {target.path}",
            )
        self._warn_about_unenforced(api, match)

        integration = match.method.method_integration
        if integration is None:
            raise IntegrationError(
                CONFIGURATION_ERROR,
                f"{request.method} {match.resource_path} of API {api.id} has no "
                "integration (AWS refuses to deploy such an API)",
            )
        variables: dict[str, str] = dict(stage.variables or {})
        kind = integration.integration_type
        if kind == "AWS_PROXY":
            event = self._events.build(
                request,
                target,
                match,
                stage=target.stage or "",
                stage_variables=variables,
                binary_media_types=api.binaryMediaTypes,
                request_id=request_id,
            )
            event["requestContext"]["accountId"] = account_id
            event["requestContext"]["deploymentId"] = stage.deployment_id
            return self._lambda_proxy.invoke(
                event,
                uri=integration.uri,
                stage_variables=variables,
                timeout_ms=_timeout_ms(integration.timeout_in_millis),
                accept=request.header("accept"),
                binary_media_types=api.binaryMediaTypes,
            )
        if kind == "MOCK":
            return mock_response(request, match.method, integration)

        self._warn_once(
            ("integration", api.id, match.resource_path, request.method),
            "integration type %s (%s %s of API %s) is not supported by the local "
            "cloud; it answers 500. Supported: AWS_PROXY (Lambda) and MOCK",
            kind,
            request.method,
            match.resource_path,
            api.id,
        )
        raise IntegrationError(
            CONFIGURATION_ERROR, f"unsupported integration type {kind}"
        )

    def _find_api(self, api_id: str) -> tuple[str, Any] | None:
        home = self._api_homes.get(api_id)
        if home is not None:
            api = _api_in(home[0], home[1], api_id)
            if api is not None:
                return home[0], api
        for account_id, regions in list(dict.items(apigateway_backends)):
            for region, backend in list(dict.items(regions)):
                api = backend.apis.get(api_id)
                if api is not None:
                    self._api_homes[api_id] = (account_id, region)
                    return account_id, api
        return None

    def _warn_about_unenforced(self, api: Any, match: RouteMatch) -> None:
        method = match.method
        authorization = method.authorization_type or "NONE"
        if authorization != "NONE":
            self._warn_once(
                ("auth", api.id, match.resource_path, method.http_method),
                "authorization %s on %s %s of API %s is not enforced by the local "
                "cloud: every request passes",
                authorization,
                method.http_method,
                match.resource_path,
                api.id,
            )
        if method.api_key_required:
            self._warn_once(
                ("apikey", api.id, match.resource_path, method.http_method),
                "API keys are not checked by the local cloud (%s %s of API %s)",
                method.http_method,
                match.resource_path,
                api.id,
            )

    def _warn_once(self, key: tuple[str, ...], message: str, *args: object) -> None:
        with self._warned_lock:
            if key in self._warned:
                return
            self._warned.add(key)
        logger.warning(message, *args)


def _api_in(account_id: str, region: str, api_id: str) -> Any:
    regions = dict.get(apigateway_backends, account_id)
    backend = dict.get(regions, region) if regions is not None else None
    return backend.apis.get(api_id) if backend is not None else None


def _timeout_ms(configured: Any) -> int:
    try:
        value = int(configured)
    except (TypeError, ValueError):
        return DEFAULT_TIMEOUT_MS
    return value if 50 <= value <= DEFAULT_TIMEOUT_MS else DEFAULT_TIMEOUT_MS

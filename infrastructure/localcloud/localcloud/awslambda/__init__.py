"""Lambda execution: warm awslambdaric workers for the functions moto stores.

`install(cloud)` mounts the Invoke API on the edge, registers the service
(workers, asynchronous queue) and follows Lambda API calls answered by moto:
after UpdateFunctionCode, UpdateFunctionConfiguration or DeleteFunction idle
workers of the function are stopped (running ones finish first), and
`DeadLetterConfig`, which moto drops, is kept on moto's function object.
"""

from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from localcloud.awslambda.functions import DEAD_LETTER_ATTRIBUTE, FunctionLookupError
from localcloud.awslambda.route import InvokeRoute
from localcloud.awslambda.service import LambdaService
from localcloud.http import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

logger = logging.getLogger(__name__)

__all__ = ["LambdaService", "install"]

_FUNCTION_PATH = re.compile(r"^/20\d\d-\d\d-\d\d/functions/([^/]+)")
_FOLLOWED = {
    "CreateFunction",
    "UpdateFunctionCode",
    "UpdateFunctionConfiguration",
    "DeleteFunction",
}


def install(cloud: LocalCloud) -> LambdaService:
    service = LambdaService(cloud.config, cloud.endpoint_url)
    cloud.add_route(InvokeRoute(service))
    cloud.add_service(service)
    cloud.on_reset(service.reset)

    def follow(request: HttpRequest, response: HttpResponse) -> None:
        call = cloud.aws_call(request)
        if call.operation in _FOLLOWED:
            _follow(service, call.operation, call.region, request, response)

    cloud.add_aws_listener("lambda", follow)
    return service


def _follow(
    service: LambdaService,
    operation: str,
    region: str | None,
    request: HttpRequest,
    response: HttpResponse,
) -> None:
    region = region or service.config.region
    body = _json(request.body)
    answer = _json(response.body)
    name = str(answer.get("FunctionName") or body.get("FunctionName") or "")
    if not name:
        found = _FUNCTION_PATH.match(request.raw_path)
        name = unquote(found.group(1)) if found else ""
    if not name:
        return
    if operation in ("CreateFunction", "UpdateFunctionConfiguration"):
        _remember_dead_letter(service, name, region, body)
        runtime = answer.get("Runtime")
        if isinstance(runtime, str):
            service.runtimes.prepare_in_background(runtime)
        if (body.get("VpcConfig") or {}).get("SubnetIds"):
            logger.warning(
                "%s has a VpcConfig: recorded, but local workers use the host's "
                "network (differs from AWS)",
                name,
            )
    if operation != "CreateFunction":
        arn = str(answer.get("FunctionArn") or "")
        if not arn.startswith("arn:"):
            arn = (
                f"arn:aws:lambda:{region}:{service.config.account_id}:function:"
                f"{name.rsplit(':', 1)[-1]}"
            )
        service.pool.retire_function(":".join(arn.split(":")[:7]))


def _remember_dead_letter(
    service: LambdaService, name: str, region: str, body: dict[str, Any]
) -> None:
    if "DeadLetterConfig" not in body:
        return
    target = (body.get("DeadLetterConfig") or {}).get("TargetArn") or None
    try:
        function = service.catalog.moto_function(name, None, region)
    except FunctionLookupError:
        return
    setattr(function, DEAD_LETTER_ATTRIBUTE, target)


def _json(data: bytes) -> dict[str, Any]:
    try:
        document = json.loads(data or b"{}")
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}

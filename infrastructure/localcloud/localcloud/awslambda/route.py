"""The Invoke and InvokeAsync API operations, served on the edge before moto.

`POST /2015-03-31/functions/{FunctionName}/invocations` (Invoke) and
`POST /2014-11-13/functions/{FunctionName}/invoke-async/` (InvokeAsync,
deprecated by AWS, still sent by old tools). The request is read the way the
REST-JSON protocol writes it: headers `X-Amz-Invocation-Type`, `X-Amz-Log-Type`,
`X-Amz-Client-Context`, query `Qualifier`, the payload as the body.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from typing import TYPE_CHECKING
from urllib.parse import unquote

from localcloud.awslambda.service import TAIL_BYTES, InvokeError
from localcloud.edge.operations import signing_region
from localcloud.http import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from localcloud.awslambda.service import LambdaService

_INVOKE = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations/?$")
_INVOKE_ASYNC = re.compile(r"^/2014-11-13/functions/([^/]+)/invoke-async/?$")


class InvokeRoute:
    name = "lambda"

    def __init__(self, service: LambdaService) -> None:
        self._service = service

    def match(self, request: HttpRequest) -> bool:
        return (
            request.method == "POST"
            and (
                request.raw_path.endswith(("/invocations", "/invocations/"))
                or request.raw_path.endswith(("/invoke-async", "/invoke-async/"))
            )
            and request.raw_path.startswith(("/2015-03-31/functions/", "/2014-11-13/"))
        )

    def handle(self, request: HttpRequest) -> HttpResponse:
        request_id = str(uuid.uuid4())
        found = _INVOKE.match(request.raw_path)
        asynchronous = found is None
        if found is None:
            found = _INVOKE_ASYNC.match(request.raw_path)
        if found is None:
            return _error(
                404, "ResourceNotFoundException", "no such function path", request_id
            )
        function = unquote(found.group(1))
        region = signing_region(request) or self._service.config.region
        invocation_type = (
            "Event"
            if asynchronous
            else (request.header("X-Amz-Invocation-Type") or "RequestResponse")
        )
        qualifier = dict(request.query_params).get("Qualifier")
        try:
            result = self._service.dispatch(
                function,
                request.body,
                qualifier=qualifier,
                invocation_type=invocation_type,
                region=region,
                client_context=request.header("X-Amz-Client-Context"),
            )
        except InvokeError as error:
            headers = [
                ("Content-Type", "application/json"),
                ("x-amzn-RequestId", request_id),
                ("x-amzn-ErrorType", error.code),
            ]
            return HttpResponse(error.status, error.body, headers)
        if asynchronous:
            body = b'{"Status": 202}'
            return HttpResponse(202, body, [("Content-Type", "application/json")])

        headers = [
            ("Content-Type", "application/json"),
            ("x-amzn-RequestId", request_id),
            ("X-Amz-Executed-Version", result.executed_version),
        ]
        if result.function_error:
            headers.append(("X-Amz-Function-Error", result.function_error))
        if (request.header("X-Amz-Log-Type") or "None") == "Tail" and (
            invocation_type == "RequestResponse"
        ):
            tail = result.log_tail.encode()[-TAIL_BYTES:]
            headers.append(("X-Amz-Log-Result", base64.b64encode(tail).decode()))
        return HttpResponse(result.status_code, result.payload, headers)


def _error(status: int, code: str, message: str, request_id: str) -> HttpResponse:
    body = json.dumps({"Type": "User", "message": message}).encode()
    return HttpResponse(
        status,
        body,
        [
            ("Content-Type", "application/json"),
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", code),
        ],
    )

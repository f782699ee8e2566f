"""How data planes call Lambda functions, without knowing how workers run.

API Gateway, SQS event source mappings and IoT rule actions all go through a
`LambdaInvoker`; the Lambda service of the local cloud implements it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class InvocationResult:
    status_code: int  # what Invoke's HTTP status would be (200, 202, 204, 4xx, 5xx)
    payload: bytes  # the function's response, or AWS's error document
    function_error: str | None = None  # "Unhandled" like X-Amz-Function-Error
    log_tail: str = ""  # last 4 KB of the invocation's log, decoded
    executed_version: str = "$LATEST"


class LambdaInvoker(Protocol):
    def invoke(
        self,
        function: str,  # name, ARN or partial ARN, as Invoke accepts
        payload: bytes,
        *,
        qualifier: str | None = None,
        invocation_type: str = "RequestResponse",  # or "Event", "DryRun"
        timeout_override: float | None = None,  # API Gateway caps at 29 s
    ) -> InvocationResult: ...

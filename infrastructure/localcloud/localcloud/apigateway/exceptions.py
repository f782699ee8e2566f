"""Errors of the API Gateway data plane.

    ApiGatewayError
    └── IntegrationError   a request that ends in one of API Gateway's own
                           error responses (502 malformed response, 504, ...)

None of them reaches the edge: the route turns each into the AWS response it
carries, and logs the reason, which AWS would write to the execution log.
"""

from __future__ import annotations

from localcloud.errors import LocalCloudError

from .responses import GatewayResponse


class ApiGatewayError(LocalCloudError):
    """Base of the errors raised by localcloud.apigateway."""


class IntegrationError(ApiGatewayError):
    def __init__(self, response: GatewayResponse, reason: str) -> None:
        super().__init__(reason)
        self.response = response
        self.reason = reason

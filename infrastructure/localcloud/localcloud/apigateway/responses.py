"""API Gateway's own responses (gateway responses), byte for byte as AWS sends
them by default: the body, the status and the `x-amzn-ErrorType` header.

AWS's default templates differ in spacing: gateway-made errors read
`{"message":"..."}`, the errors of a failed Lambda integration read
`{"message": "..."}`. Clients that compare bodies see the same bytes here.
Customised gateway responses (PutGatewayResponse) are not applied.
"""

from __future__ import annotations

from dataclasses import dataclass

from localcloud.http import HttpResponse


@dataclass(frozen=True, slots=True)
class GatewayResponse:
    status: int
    body: str
    error_type: str

    def render(self, request_id: str) -> HttpResponse:
        return HttpResponse(
            self.status,
            self.body.encode(),
            [
                ("Content-Type", "application/json"),
                ("x-amzn-RequestId", request_id),
                ("x-amzn-ErrorType", self.error_type),
            ],
        )


MISSING_AUTHENTICATION_TOKEN = GatewayResponse(
    403,
    '{"message":"Missing Authentication Token"}',
    "MissingAuthenticationTokenException",
)
FORBIDDEN = GatewayResponse(403, '{"message":"Forbidden"}', "ForbiddenException")
CONFIGURATION_ERROR = GatewayResponse(
    500, '{"message": "Internal server error"}', "InternalServerErrorException"
)
INTEGRATION_FAILURE = GatewayResponse(
    502, '{"message": "Internal server error"}', "InternalServerErrorException"
)
INTEGRATION_TIMEOUT = GatewayResponse(
    504, '{"message": "Endpoint request timed out"}', "InternalServerErrorException"
)
# AWS has no such response: an unknown API id fails in DNS there. The text is
# LocalStack's, so tools written for it recognise the case.
UNKNOWN_API = GatewayResponse(
    404,
    '{"message":"The API id does not correspond to a deployed API Gateway API"}',
    "NotFoundException",
)

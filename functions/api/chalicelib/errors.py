"""The API's errors and the one JSON body every error response has.

Every response that is not a success carries `{"error": "<Code>", "message":
"<what was wrong and how to fix it>"}`, whether the API raised it, Chalice
answered on its own (405, 415) or something failed unexpectedly (500, never
caused by client input). The hierarchy::

    ApiError                       base; status, code and message
     ├── BadRequestError           400, code names the input (InvalidLimit, ...)
     ├── NotFoundError             404 (MachineNotFound, AlertNotFound, NotFound)
     ├── ConflictError             409 (AlertAlreadyAcknowledged)
     └── ServiceUnavailableError   503 (DatabaseUnavailable)

`ApiError` derives from Chalice's `ChaliceUnhandledError` on purpose: Chalice
turns any other exception raised by a view into a bare 500 before middleware
sees it, while this one reaches the API's middleware, which renders it.
"""

from __future__ import annotations

from typing import Any

from chalice.app import ChaliceUnhandledError, Response


class ApiError(ChaliceUnhandledError):
    """An error answered to the client; the message names the value and the fix."""

    status_code = 500

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def to_response(self, headers: dict[str, str] | None = None) -> Response:
        return error_response(self.status_code, self.code, self.message, headers)


class BadRequestError(ApiError):
    status_code = 400


class NotFoundError(ApiError):
    status_code = 404


class ConflictError(ApiError):
    status_code = 409


class ServiceUnavailableError(ApiError):
    status_code = 503


def error_response(
    status_code: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {"error": code, "message": message}
    return Response(
        body=body,
        status_code=status_code,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def normalise_chalice_error(response: Response) -> Response:
    """Rewrite Chalice's own `{"Code", "Message"}` bodies into the API's shape.

    Chalice answers some requests without calling a view: an unsupported method
    (405, `MethodNotAllowedError`), a Content-Type the route does not accept
    (415, `UnsupportedMediaType`) and an unhandled exception (500,
    `InternalServerError`). Clients should not need two error formats.
    """
    body = response.body
    if response.status_code < 400 or not isinstance(body, dict):
        return response
    if set(body) != {"Code", "Message"}:
        return response
    code = str(body["Code"]).removesuffix("Error") or "Error"
    message = str(body["Message"])
    if code == "MethodNotAllowed":
        allowed = response.headers.get("Allow", "")
        message = f"{message}; this path allows {allowed or 'no other method'}"
    elif code == "UnsupportedMediaType":
        message = f"{message}; send the body as application/json"
    elif code == "InternalServer":
        code = "InternalServerError"
        message = "an internal error occurred; it has been logged, please report it"
    response.body = {"error": code, "message": message}
    return response

"""The MOCK integration, as CORS preflight methods use it.

Like API Gateway: the request template (for the request's Content-Type, else
application/json) yields a `statusCode`; the integration response whose
selection pattern matches it (else the default one, with no pattern) gives the
status, the method response headers from `responseParameters` (static values
in single quotes, e.g. `'*'`) and the body from its response template.

Where it cannot: templates are not run through Velocity (VTL). A template that
is plain JSON works; one with VTL directives is sent as written, with a warning.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from localcloud.http import HttpRequest, HttpResponse

from .exceptions import IntegrationError
from .responses import CONFIGURATION_ERROR

logger = logging.getLogger(__name__)

_HEADER_TARGET = "method.response.header."
_VTL = re.compile(r"(?<!\\)[$#][A-Za-z{]")


def mock_response(request: HttpRequest, method: Any, integration: Any) -> HttpResponse:
    status = _requested_status(request, integration)
    chosen = _integration_response(integration, status)
    headers = _response_headers(method, chosen)
    body, content_type = _response_body(request, chosen)
    if content_type and not any(n.lower() == "content-type" for n, _ in headers):
        headers.append(("Content-Type", content_type))
    return HttpResponse(int(chosen.status_code), body, headers)


def _requested_status(request: HttpRequest, integration: Any) -> int:
    templates: dict[str, Any] = integration.request_templates or {}
    content_type = (request.header("content-type") or "application/json").split(";")[0]
    template = templates.get(content_type.strip()) or templates.get("application/json")
    if not template:
        return 200
    try:
        document = json.loads(template)
        return int(document["statusCode"])
    except (ValueError, KeyError, TypeError):
        found = re.search(r'"?statusCode"?\s*:\s*(\d{3})', template)
        if found:
            return int(found.group(1))
        logger.warning(
            "MOCK request template %r yields no statusCode the local cloud can "
            "read (VTL is not evaluated); using 200",
            template,
        )
        return 200


def _integration_response(integration: Any, status: int) -> Any:
    responses: dict[str, Any] = integration.integration_responses or {}
    default = None
    for response in responses.values():
        pattern = response.selection_pattern
        if not pattern:
            default = default or response
        elif re.fullmatch(pattern, str(status)):
            return response
    if default is None:
        raise IntegrationError(
            CONFIGURATION_ERROR,
            "Execution failed due to configuration error: No match for output "
            f"mapping and no default output mapping (MOCK status {status})",
        )
    return default


def _response_headers(method: Any, chosen: Any) -> list[tuple[str, str]]:
    declared = method.method_responses.get(str(chosen.status_code))
    allowed = (declared.response_parameters or {}) if declared else {}
    headers: list[tuple[str, str]] = []
    for target, source in (chosen.response_parameters or {}).items():
        if not target.startswith(_HEADER_TARGET):
            continue
        if target not in allowed:
            logger.warning(
                "integration response maps %s, which method response %s does not "
                "declare; AWS rejects this mapping, the local cloud sends it",
                target,
                chosen.status_code,
            )
        value = str(source)
        if len(value) >= 2 and value[0] == value[-1] == "'":
            headers.append((target[len(_HEADER_TARGET) :], value[1:-1]))
        else:
            logger.warning(
                "MOCK response parameter %s = %s is not a static value in single "
                "quotes; the local cloud cannot evaluate it and leaves it out",
                target,
                value,
            )
    return headers


def _response_body(request: HttpRequest, chosen: Any) -> tuple[bytes, str | None]:
    templates: dict[str, Any] = chosen.response_templates or {}
    if not templates:
        return b"", "application/json"
    accept = (request.header("accept") or "").split(",")[0].split(";")[0].strip()
    content_type = accept if accept in templates else next(iter(templates))
    template = templates[content_type] or ""
    if _VTL.search(template):
        logger.warning(
            "MOCK response template for %s uses VTL, which the local cloud does "
            "not evaluate; it is sent as written",
            content_type,
        )
    return template.encode(), content_type

"""What sits between API Gateway and the views: route metadata and middleware.

* `documented(...)` attaches a `RouteDoc` (summary, query parameters, response
  model, error statuses) to a view function; the OpenAPI generator walks
  `app.routes` and reads it from each route's view function.
* `api_middleware(...)` renders every error in the one JSON shape (including
  Chalice's own 405/415/500), adds CORS headers to every response, and, when
  API Gateway forwards everything through one greedy `/{proxy+}` resource
  instead of a resource per route, maps the request to the Chalice route it
  names (or answers 404 NotFound / a CORS preflight itself). With a resource
  per route, unknown paths never reach the function: API Gateway answers them
  (403 "Missing Authentication Token", unless the template maps gateway
  responses).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from chalice.app import Chalice, Request, Response, RouteEntry

from chalicelib.errors import ApiError, error_response, normalise_chalice_error
from chalicelib.settings import Settings
from chalicelib.validation import QuerySpec


class Log(Protocol):
    """What the middleware logs through: a stdlib or a Powertools Logger."""

    def info(self, msg: object, *args: object) -> None: ...
    def warning(self, msg: object, *args: object) -> None: ...
    def exception(self, msg: object, *args: object) -> None: ...


DOC_ATTRIBUTE = "__orchestralink_route_doc__"
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class PathParam:
    description: str
    schema: dict[str, Any]


@dataclass(frozen=True)
class RouteDoc:
    summary: str
    # The name of a model in chalicelib.models, or a raw JSON Schema. Names, not
    # classes, keep pydantic out of the cold start: only /openapi.json needs it.
    response: str | Mapping[str, Any]
    description: str = ""
    query: QuerySpec = field(default_factory=QuerySpec)
    path_params: Mapping[str, PathParam] = field(default_factory=dict)
    errors: Mapping[int, str] = field(default_factory=dict)
    request_body: str | None = None
    tags: tuple[str, ...] = ()


def documented(doc: RouteDoc) -> Callable[[F], F]:
    def attach(view: F) -> F:
        setattr(view, DOC_ATTRIBUTE, doc)
        return view

    return attach


def route_doc(entry: RouteEntry) -> RouteDoc | None:
    doc = getattr(entry.view_function, DOC_ATTRIBUTE, None)
    return doc if isinstance(doc, RouteDoc) else None


def match_path(
    routes: Mapping[str, Any], path: str
) -> tuple[str, dict[str, str]] | None:
    """The route template matching a concrete path, and its captured segments.

    Literal segments win over captures, as in API Gateway (`/machines/x` is
    tried against `/machines/{machine_id}` only after literal routes).
    """
    if path != "/" and path.endswith("/"):
        path = path[:-1]
    parts = path.split("/")
    candidates = sorted(routes, key=lambda t: [s.startswith("{") for s in t.split("/")])
    for template in candidates:
        segments = template.split("/")
        if len(segments) != len(parts):
            continue
        captured: dict[str, str] = {}
        for segment, part in zip(segments, parts, strict=True):
            if segment.startswith("{") and segment.endswith("}"):
                if not part:
                    break
                captured[segment[1:-1]] = part  # decoded by the view, as on AWS
            elif segment != part:
                break
        else:
            return template, captured
    return None


def _resolve_proxy(
    app: Chalice, request: Request | None, settings: Settings
) -> Response | None:
    """Rewrite a greedy-proxy event in place; a Response if none can be routed."""
    if request is None:  # not an API Gateway proxy event: Chalice answers it
        return None
    event = request.to_original_event()
    context = event.get("requestContext") or {}
    if context.get("resourcePath") in app.routes:
        return None

    path = str(event.get("path") or "/")
    found = match_path(app.routes, path)
    if found is None:
        return error_response(
            404,
            "NotFound",
            f"no route {path}; GET /openapi.json lists the routes of this API",
            settings.cors_headers(),
        )
    template, captured = found
    method = context.get("httpMethod", "")
    if method == "OPTIONS" and "OPTIONS" not in app.routes[template]:
        # A CORS preflight: with a resource per route, API Gateway's mock
        # integration (generated from the route's CORSConfig) answers it.
        allowed = ",".join([*app.routes[template], "OPTIONS"])
        headers: dict[str, str | list[str]] = {
            **settings.cors_headers(),
            "Access-Control-Allow-Methods": allowed,
        }
        return Response(body="", status_code=204, headers=headers)

    context["resourcePath"] = template
    event["pathParameters"] = captured
    request.path = template
    request.uri_params = captured
    return None


def api_middleware(
    app: Chalice, settings: Settings, log: Log | None = None
) -> Callable[[Request, Callable[[Request], Response]], Response]:
    cors_headers = settings.cors_headers()
    logger: Log = log or logging.getLogger(__name__)

    def middleware(
        request: Request, get_response: Callable[[Request], Response]
    ) -> Response:
        try:
            response = _resolve_proxy(app, request, settings) or get_response(request)
        except ApiError as error:
            # Client mistakes are routine (INFO); an unreachable database is not.
            report = logger.warning if error.status_code >= 500 else logger.info
            report("%s %s: %s", error.status_code, error.code, error.message)
            response = error.to_response()
        except Exception:
            logger.exception("unhandled error for %s", getattr(request, "path", "?"))
            response = error_response(
                500,
                "InternalServerError",
                "an internal error occurred; it has been logged, please report it",
            )
        response = normalise_chalice_error(response)
        for name, value in cors_headers.items():
            response.headers.setdefault(name, value)
        return response

    return middleware

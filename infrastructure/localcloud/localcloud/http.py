"""The edge's neutral request and response types.

The edge server parses each HTTP request once into an `HttpRequest`; every data
plane (API Gateway, S3 websites, the Lambda Runtime API, ...) answers with an
`HttpResponse` that the server writes in a single send. Data planes never see
the server library's own types, so the server stack can change without them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import parse_qsl


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    path: str  # percent-decoded path, without the query string
    raw_path: str  # the path as sent, still percent-encoded
    query_string: str  # raw, without the leading "?"
    headers: list[tuple[str, str]]  # in arrival order, names as sent
    body: bytes
    client_ip: str = "127.0.0.1"

    def header(self, name: str, default: str | None = None) -> str | None:
        """The first header of that name (case-insensitive)."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return default

    @property
    def host(self) -> str:
        return self.header("host", "") or ""

    @property
    def query_params(self) -> list[tuple[str, str]]:
        return parse_qsl(self.query_string, keep_blank_values=True)


@dataclass(slots=True)
class HttpResponse:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, status: int, text: str, **extra: str) -> HttpResponse:
        headers = [("Content-Type", "application/json")]
        headers.extend(extra.items())
        return cls(status, text.encode(), headers)


class DataPlaneRoute(Protocol):
    """One data plane mounted on the edge.

    `match` is cheap and decides whether the request is this plane's (by host,
    path prefix, ...); `handle` serves it. A plane that matches must answer:
    errors are AWS-shaped responses, never exceptions escaping to the server.
    """

    name: str

    def match(self, request: HttpRequest) -> bool: ...

    def handle(self, request: HttpRequest) -> HttpResponse: ...

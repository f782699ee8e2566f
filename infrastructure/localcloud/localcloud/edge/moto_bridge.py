"""Calls moto's WSGI application in-process with an `HttpRequest`.

moto's server mode (`moto.server`) dispatches on the request's host, signature
and body to one Flask app per AWS service; we build the WSGI environ ourselves
instead of going through Werkzeug's HTTP server, which is where most of moto
server's per-request cost is. Header names with underscores are preserved the
way moto's own request handler does (S3 user metadata needs them).
"""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Iterable
from typing import Any

from localcloud.http import HttpRequest, HttpResponse


class NoMotoBackendError(NotImplementedError):
    """moto has no backend for the service a request addresses."""


class MotoBridge:
    """moto's control plane behind a function call."""

    def __init__(self, server_name: str = "127.0.0.1", server_port: int = 4566) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            create_backend_app,
        )

        self._app = DomainDispatcherApplication(create_backend_app)
        self._server_name = server_name
        self._server_port = str(server_port)
        self._errors = sys.stderr
        self._lock = threading.Lock()

    def environ(self, request: HttpRequest) -> dict[str, Any]:
        from moto.core.request import (
            PRESERVED_HEADER_NAMES_ENVIRON_KEY,
            environ_key_for_header,
            should_preserve_original_header_name,
        )

        environ: dict[str, Any] = {
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": "",
            "PATH_INFO": request.path,
            "RAW_URI": request.raw_path
            + (f"?{request.query_string}" if request.query_string else ""),
            "REQUEST_URI": request.raw_path
            + (f"?{request.query_string}" if request.query_string else ""),
            "QUERY_STRING": request.query_string,
            "SERVER_NAME": self._server_name,
            "SERVER_PORT": self._server_port,
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": request.client_ip,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(request.body),
            "wsgi.errors": self._errors,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "CONTENT_LENGTH": str(len(request.body)),
        }
        preserved: dict[str, str] = {}
        for name, value in request.headers:
            key = environ_key_for_header(name)
            if key == "CONTENT_LENGTH":
                continue
            if "_" in name:
                # WSGI cannot tell X_Foo from X-Foo: like moto's handler, keep only
                # the S3 metadata spellings, and never over a dashed header.
                if not should_preserve_original_header_name(name) or key in environ:
                    continue
                preserved.setdefault(key, name)
            if key in environ and key.startswith("HTTP_"):
                environ[key] = f"{environ[key]},{value}"
            else:
                environ[key] = value
        environ[PRESERVED_HEADER_NAMES_ENVIRON_KEY] = preserved
        return environ

    def __call__(self, request: HttpRequest) -> HttpResponse:
        captured: dict[str, Any] = {}

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            captured["status"] = int(status.split(" ", 1)[0])
            captured["headers"] = headers
            return lambda data: None

        environ = self.environ(request)
        try:
            app = self._app.get_application(environ)
        except (AttributeError, KeyError, ValueError) as error:
            # moto's dispatcher fails this way when no backend serves the host.
            raise NoMotoBackendError(str(error)) from error
        chunks: Iterable[bytes] = app(environ, start_response)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        headers = [
            (name, value)
            for name, value in captured["headers"]
            if name.lower() not in ("content-length", "connection", "server", "date")
        ]
        return HttpResponse(captured["status"], body, headers)

    def reset(self) -> None:
        """Clears every moto backend (what `POST /moto-api/reset` does)."""
        from moto.moto_api._internal.models import moto_api_backend

        with self._lock:
            moto_api_backend.reset()

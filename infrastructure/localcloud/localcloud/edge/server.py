"""The edge's HTTP/1.1 server: a thread per connection, one send per response.

Why this stack (measured, see docs/edge.md): moto is synchronous WSGI code and
a Lambda invocation blocks its caller for the function's whole run, so a thread
per keep-alive connection is the natural fit; an asyncio server would hand each
request to a thread pool anyway. Werkzeug's development server (what `moto_server`
uses) parses requests through several layers and costs about 2 ms a request;
`http.server` writes the status line and headers in separate packets and meets
the 40 ms delayed-ACK trap. This server parses the request line and headers
itself, sets TCP_NODELAY and writes each response with a single `sendall`.

It speaks what AWS SDKs and browsers send: keep-alive, `Content-Length` and
chunked request bodies, `Expect: 100-continue` (botocore sends it for S3
uploads) and HEAD. It does not speak TLS, HTTP/2 or pipelining beyond
sequential keep-alive requests.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
from collections.abc import Callable
from http import HTTPStatus
from typing import IO
from urllib.parse import unquote, urlsplit

from localcloud.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

Handler = Callable[[HttpRequest], HttpResponse]

_MAX_LINE = 65536
_MAX_HEADERS = 200
_REASONS = {status.value: status.phrase for status in HTTPStatus}


class BadRequestError(Exception):
    """The bytes on the connection are not an HTTP/1.x request we can serve."""


def _read_line(rfile: IO[bytes]) -> bytes:
    line = rfile.readline(_MAX_LINE + 1)
    if len(line) > _MAX_LINE:
        raise BadRequestError("request line or header longer than 64 KiB")
    return line


def _read_chunked(rfile: IO[bytes]) -> bytes:
    parts: list[bytes] = []
    while True:
        size_line = _read_line(rfile).split(b";", 1)[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError as error:
            raise BadRequestError(f"bad chunk size {size_line!r}") from error
        if size == 0:
            while _read_line(rfile) not in (b"\r\n", b"\n", b""):
                pass  # trailers are ignored
            return b"".join(parts)
        parts.append(rfile.read(size))
        rfile.readline(3)


def render_response(response: HttpResponse, *, head: bool, keep_alive: bool) -> bytes:
    """The whole response as one buffer, so it leaves in one send."""
    reason = _REASONS.get(response.status, "Unknown")
    lines = [f"HTTP/1.1 {response.status} {reason}"]
    has_length = False
    for name, value in response.headers:
        lowered = name.lower()
        if lowered in ("connection", "transfer-encoding"):
            continue
        if lowered == "content-length":
            has_length = True
        lines.append(f"{name}: {value}")
    if not has_length:
        lines.append(f"Content-Length: {len(response.body)}")
    lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
    head_bytes = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
    if head or response.status in (204, 304) or response.status < 200:
        return head_bytes
    return head_bytes + response.body


class _ConnectionHandler(socketserver.StreamRequestHandler):
    """Serves the sequential requests of one keep-alive connection."""

    rbufsize = 65536
    server: EdgeHttpServer

    def setup(self) -> None:
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().setup()

    def handle(self) -> None:
        sock: socket.socket = self.request
        while True:
            try:
                request, keep_alive = self._read_request(sock)
            except BadRequestError as error:
                body = f"Bad request: {error}".encode()
                sock.sendall(
                    render_response(
                        HttpResponse(400, body, [("Content-Type", "text/plain")]),
                        head=False,
                        keep_alive=False,
                    )
                )
                return
            except (ConnectionError, TimeoutError, OSError):
                return
            if request is None:
                return
            response = self.server.handler(request)
            try:
                sock.sendall(
                    render_response(
                        response, head=request.method == "HEAD", keep_alive=keep_alive
                    )
                )
            except OSError:
                return
            if not keep_alive:
                return

    def _read_request(self, sock: socket.socket) -> tuple[HttpRequest | None, bool]:
        rfile: IO[bytes] = self.rfile  # type: ignore[assignment]
        line = _read_line(rfile)
        while line in (b"\r\n", b"\n"):  # tolerate stray blank lines between requests
            line = _read_line(rfile)
        if not line:
            return None, False
        try:
            method, target, version = line.decode("latin-1").rstrip("\r\n").split(" ")
        except ValueError as error:
            raise BadRequestError(f"malformed request line {line[:80]!r}") from error
        if not version.startswith("HTTP/1."):
            raise BadRequestError(f"unsupported protocol {version!r}")

        headers: list[tuple[str, str]] = []
        while True:
            raw = _read_line(rfile)
            if raw in (b"\r\n", b"\n", b""):
                break
            if len(headers) >= _MAX_HEADERS:
                raise BadRequestError("more than 200 headers")
            name, sep, value = raw.decode("latin-1").partition(":")
            if not sep:
                raise BadRequestError(f"malformed header line {raw[:80]!r}")
            headers.append((name.strip(), value.strip()))
        lowered = {name.lower(): value for name, value in headers}

        if lowered.get("expect", "").lower() == "100-continue":
            sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        if "chunked" in lowered.get("transfer-encoding", "").lower():
            body = _read_chunked(rfile)
        else:
            try:
                length = int(lowered.get("content-length", "0") or 0)
            except ValueError as error:
                raise BadRequestError("Content-Length is not a number") from error
            body = rfile.read(length) if length > 0 else b""
            if len(body) < length:
                raise ConnectionError("connection closed inside the request body")

        connection = lowered.get("connection", "").lower()
        if version == "HTTP/1.0":
            keep_alive = connection == "keep-alive"
        else:
            keep_alive = connection != "close"

        if not target.startswith("/"):  # absolute form, as sent to a proxy
            parts = urlsplit(target)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        raw_path, _, query = target.partition("?")
        request = HttpRequest(
            method=method.upper(),
            path=unquote(raw_path),
            raw_path=raw_path,
            query_string=query,
            headers=headers,
            body=body,
            client_ip=self.client_address[0],
        )
        return request, keep_alive


class EdgeHttpServer(socketserver.ThreadingTCPServer):
    """A threading TCP server whose connections are served by `handler`."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256
    block_on_close = False

    def __init__(self, address: tuple[str, int], handler: Handler) -> None:
        self.handler = handler
        super().__init__(address, _ConnectionHandler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def handle_error(self, request: object, client_address: object) -> None:
        logger.exception("edge connection from %s failed", client_address)


class EdgeServerThread:
    """Runs an `EdgeHttpServer` in a background thread (tests, embedding)."""

    def __init__(self, host: str, port: int, handler: Handler) -> None:
        self.server = EdgeHttpServer((host, port), handler)
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="edge-accept", daemon=True
        )

    @property
    def port(self) -> int:
        return self.server.port

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)

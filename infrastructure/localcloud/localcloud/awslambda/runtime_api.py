"""The Lambda Runtime API (2018-06-01) for one worker.

Each worker gets its own listener on a free loopback port: the runtime client
(`awslambdaric`, in C) keeps one keep-alive connection for `next` and the
results, and its URL has no room for a worker id, so the port is the worker's
identity. Endpoints, as AWS documents them:

- `GET  /2018-06-01/runtime/invocation/next`: blocks until the worker is given an
  invocation, then returns the event with the `Lambda-Runtime-*` headers.
- `POST /2018-06-01/runtime/invocation/{id}/response`: the handler's result.
- `POST /2018-06-01/runtime/invocation/{id}/error`: the handler raised.
- `POST /2018-06-01/runtime/init/error`: the handler could not be loaded.

Not served: the Extensions and Telemetry APIs, `restore/*` (SnapStart).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Protocol

from localcloud.http import HttpRequest, HttpResponse

PREFIX = "/2018-06-01/runtime/"


@dataclass(eq=False)
class Invocation:
    """One invocation handed to one worker, and what came of it."""

    payload: bytes
    invoked_arn: str
    timeout: float
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    client_context: str | None = None
    # filled in by the worker side
    picked: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    started: float = 0.0  # time.monotonic() when the worker took it
    finished: float = 0.0
    outcome: str = ""  # "success", "error", "init_error", "crash", "timeout"
    response: bytes = b""
    error_type: str | None = None
    output: list[tuple[int, str]] = field(default_factory=list)

    @property
    def duration_ms(self) -> float:
        if not self.started:
            return 0.0
        return ((self.finished or time.monotonic()) - self.started) * 1000

    def complete(self, outcome: str, response: bytes, error_type: str | None) -> bool:
        """Records the result once; False if it was already recorded."""
        if self.done.is_set():
            return False
        self.outcome = outcome
        self.response = response
        self.error_type = error_type
        self.finished = time.monotonic()
        self.picked.set()
        self.done.set()
        return True


class WorkerSide(Protocol):
    """What the Runtime API needs from its worker."""

    def next_invocation(self) -> Invocation | None: ...

    def invocation_finished(
        self, request_id: str, outcome: str, body: bytes, error_type: str | None
    ) -> bool: ...

    def init_failed(self, body: bytes, error_type: str | None) -> None: ...


class RuntimeApi:
    def __init__(self, worker: WorkerSide) -> None:
        self._worker = worker

    def handle(self, request: HttpRequest) -> HttpResponse:
        path = request.path
        if not path.startswith(PREFIX):
            return _error(404, "UnknownRoute", f"no Runtime API route {path}")
        rest = path[len(PREFIX) :]
        if rest == "invocation/next" and request.method == "GET":
            return self._next()
        if rest == "init/error" and request.method == "POST":
            self._worker.init_failed(request.body, _error_type(request))
            return _accepted()
        if rest.startswith("invocation/") and request.method == "POST":
            _, request_id, kind = [*rest.split("/"), "", ""][:3]
            if kind == "response":
                outcome, error_type = "success", None
            elif kind == "error":
                outcome, error_type = "error", _error_type(request)
            else:
                return _error(404, "UnknownRoute", f"no Runtime API route {path}")
            if not self._worker.invocation_finished(
                request_id, outcome, request.body, error_type
            ):
                return _error(
                    400,
                    "InvalidRequestID",
                    f"request id {request_id} is not the current invocation",
                )
            return _accepted()
        return _error(
            404, "UnknownRoute", f"no Runtime API route {request.method} {path}"
        )

    def _next(self) -> HttpResponse:
        invocation = self._worker.next_invocation()
        if invocation is None:  # the worker is stopping
            return _error(500, "ServiceStopping", "the worker is being stopped")
        deadline_ms = int((time.time() + invocation.timeout) * 1000)
        headers = [
            ("Content-Type", "application/json"),
            ("Lambda-Runtime-Aws-Request-Id", invocation.request_id),
            ("Lambda-Runtime-Deadline-Ms", str(deadline_ms)),
            ("Lambda-Runtime-Invoked-Function-Arn", invocation.invoked_arn),
            (
                "Lambda-Runtime-Trace-Id",
                f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0",
            ),
        ]
        if invocation.client_context:
            headers.append(("Lambda-Runtime-Client-Context", invocation.client_context))
        return HttpResponse(200, invocation.payload or b"{}", headers)


def _error_type(request: HttpRequest) -> str | None:
    header = request.header("Lambda-Runtime-Function-Error-Type")
    if header:
        return header
    try:
        document = json.loads(request.body or b"{}")
    except ValueError:
        return None
    value = document.get("errorType") if isinstance(document, dict) else None
    return str(value) if value else None


def _accepted() -> HttpResponse:
    return HttpResponse(202, b'{"status":"OK"}', [("Content-Type", "application/json")])


def _error(status: int, code: str, message: str) -> HttpResponse:
    body = json.dumps({"errorType": code, "errorMessage": message})
    return HttpResponse.json(status, body)

"""The Lambda service: Invoke for AWS clients and the `LambdaInvoker` for data planes.

moto answers every Lambda API call except `Invoke` and `InvokeAsync` (moto's
needs Docker); those are served here, before moto, from the function moto
stores. Invocation types, as AWS defines them:

- `RequestResponse`: runs the function and returns its result (200), with
  `X-Amz-Function-Error: Unhandled` when it failed, and the last 4 KB of its
  log in `X-Amz-Log-Result` when `LogType=Tail`.
- `Event`: queued (202); see `localcloud.awslambda.events` for retries and
  destinations.
- `DryRun`: checks that the function exists (204).

Each invocation writes START, its output, END and REPORT to CloudWatch Logs
(moto) under `/aws/lambda/{name}`, one stream per worker.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from localcloud.awslambda.code import CodeStore
from localcloud.awslambda.events import EventQueue
from localcloud.awslambda.functions import (
    FunctionCatalog,
    FunctionLookupError,
    FunctionSpec,
)
from localcloud.awslambda.pool import Finished, ThrottledError, WorkerPool
from localcloud.awslambda.runtime_api import Invocation
from localcloud.awslambda.runtimes import RuntimeResolver, UnsupportedRuntimeError
from localcloud.awslambda.worker import Worker
from localcloud.errors import LocalCloudError
from localcloud.invoker import InvocationResult
from localcloud.logs import CloudWatchLogs

if TYPE_CHECKING:
    from localcloud.config import CloudConfig

logger = logging.getLogger(__name__)

SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024
ASYNC_PAYLOAD_LIMIT = 1024 * 1024
TAIL_BYTES = 4096


class LambdaService:
    """Runs functions; implements `LambdaInvoker` and `BackgroundService`."""

    name = "lambda"

    def __init__(self, config: CloudConfig, endpoint_url: str) -> None:
        self.config = config
        self.endpoint_url = endpoint_url
        self.catalog = FunctionCatalog(config.account_id)
        self.logs = CloudWatchLogs(config.account_id, config.log_events_per_stream)
        self.runtimes = RuntimeResolver(config.cache_dir)
        self.code = CodeStore(config.state_dir / "lambda")
        self.pool = WorkerPool(
            code=self.code,
            runtimes=self.runtimes,
            endpoint_url=endpoint_url,
            max_concurrency=config.max_concurrency,
            idle_timeout=config.idle_worker_timeout,
        )
        self.events = EventQueue(self, config)
        self._warned: set[str] = set()
        self._warn_lock = threading.Lock()

    # --- BackgroundService ------------------------------------------------------

    def start(self) -> None:
        self.pool.start()
        self.events.start()

    def stop(self) -> None:
        self.events.stop()
        self.pool.stop()

    def health(self) -> str:
        return "running"

    def reset(self) -> None:
        self.events.clear()
        self.pool.stop_all()
        self.logs.forget()

    # --- LambdaInvoker ------------------------------------------------------------

    def invoke(
        self,
        function: str,
        payload: bytes,
        *,
        qualifier: str | None = None,
        invocation_type: str = "RequestResponse",
        timeout_override: float | None = None,
    ) -> InvocationResult:
        """`LambdaInvoker.invoke`: errors of the Invoke API become results whose
        status and payload are what Invoke would answer."""
        try:
            return self.dispatch(
                function,
                payload,
                qualifier=qualifier,
                invocation_type=invocation_type,
                timeout_override=timeout_override,
            )
        except InvokeError as error:
            return InvocationResult(error.status, error.body)

    def dispatch(
        self,
        function: str,
        payload: bytes,
        *,
        qualifier: str | None = None,
        invocation_type: str = "RequestResponse",
        timeout_override: float | None = None,
        region: str | None = None,
        client_context: str | None = None,
    ) -> InvocationResult:
        """Invoke as the API defines it; raises `InvokeError` for its errors."""
        region = region or self.config.region
        try:
            spec = self.catalog.spec(function, qualifier, region)
        except FunctionLookupError as error:
            raise InvokeError(
                error.response.status,
                _header(error.response.headers, "x-amzn-ErrorType")
                or "ResourceNotFoundException",
                str(error),
                body=error.response.body,
            ) from error
        self._check(spec, payload, invocation_type)
        if invocation_type == "DryRun":
            return InvocationResult(204, b"", executed_version=spec.version)
        if invocation_type == "Event":
            self.events.submit(spec, payload)
            return InvocationResult(202, b"", executed_version=spec.version)
        return self.run(spec, payload, timeout_override, client_context)

    def run(
        self,
        spec: FunctionSpec,
        payload: bytes,
        timeout_override: float | None = None,
        client_context: str | None = None,
    ) -> InvocationResult:
        """Runs one synchronous invocation of a resolved function version."""
        invocation = Invocation(
            payload=payload or b"{}",
            invoked_arn=spec.qualified_arn if spec.version != "$LATEST" else spec.arn,
            timeout=spec.timeout,
            client_context=client_context,
        )
        log_text: list[str] = []

        def finished(
            worker: Worker, spec: FunctionSpec, inv: Invocation, cold: bool
        ) -> None:
            log_text.append(self._write_logs(worker, spec, inv, cold))

        if timeout_override is not None and timeout_override < spec.timeout:
            # The caller (API Gateway) stops waiting first; the function runs on.
            failure: list[InvokeError] = []
            thread = threading.Thread(
                target=self._run_capturing,
                args=(spec, invocation, finished, failure),
                daemon=True,
            )
            thread.start()
            if not invocation.done.wait(timeout_override):
                self._warn_once(
                    f"override:{spec.arn}",
                    f"{spec.name}: the caller's timeout ({timeout_override:.1f} s) is "
                    f"shorter than the function's ({spec.timeout:.0f} s); the caller "
                    "gets an error, the function runs on",
                )
                body = json.dumps(
                    {
                        "errorType": "Sandbox.Timedout",
                        "errorMessage": f"RequestId: {invocation.request_id} Error: "
                        f"caller timed out after {timeout_override:.2f} seconds",
                    }
                ).encode()
                return InvocationResult(200, body, "Unhandled", "", spec.version)
            thread.join()
            if failure:
                raise failure[0]
        else:
            try:
                self.pool.run(spec, invocation, finished)
            except ThrottledError as error:
                raise self._throttled(spec, error) from error
            except (UnsupportedRuntimeError, LocalCloudError, OSError) as error:
                logger.exception("could not run %s", spec.name)
                raise InvokeError(502, "ServiceException", str(error)) from error
        return self._result(spec, invocation, log_text[0] if log_text else "")

    def _run_capturing(
        self,
        spec: FunctionSpec,
        invocation: Invocation,
        finished: Finished,
        failure: list[InvokeError],
    ) -> None:
        try:
            self.pool.run(spec, invocation, finished)
        except ThrottledError as error:
            failure.append(self._throttled(spec, error))
            invocation.complete("throttled", b"", None)
        except Exception as error:
            logger.exception("invocation of %s failed", spec.name)
            failure.append(InvokeError(502, "ServiceException", str(error)))
            invocation.complete("failed", b"", None)

    def _check(self, spec: FunctionSpec, payload: bytes, invocation_type: str) -> None:
        if invocation_type not in ("RequestResponse", "Event", "DryRun"):
            raise InvokeError(
                400,
                "InvalidParameterValueException",
                f"Invocation type {invocation_type!r} is not one of RequestResponse, "
                "Event, DryRun",
            )
        limit = (
            ASYNC_PAYLOAD_LIMIT if invocation_type == "Event" else SYNC_PAYLOAD_LIMIT
        )
        if len(payload) > limit:
            raise InvokeError(
                413,
                "RequestEntityTooLargeException",
                f"{len(payload)} byte payload is larger than the {invocation_type} "
                f"limit ({limit} bytes)",
            )
        if payload:
            try:
                json.loads(payload)
            except ValueError as error:
                raise InvokeError(
                    400,
                    "InvalidRequestContentException",
                    f"Could not parse request body into json: {error}",
                ) from error
        if spec.package_type != "Zip":
            raise InvokeError(
                400,
                "InvalidParameterValueException",
                f"{spec.name} is a container image function; the local cloud runs "
                "only .zip functions",
            )
        if not spec.runtime.startswith("python3."):
            logger.warning(
                "%s has runtime %r; the local cloud runs Python runtimes only",
                spec.name,
                spec.runtime,
            )
            raise InvokeError(
                502,
                "InvalidRuntimeException",
                f"The runtime parameter of {spec.runtime} is not supported by the "
                "local cloud, which runs Python runtimes (python3.x) only",
            )

    def _throttled(self, spec: FunctionSpec, error: ThrottledError) -> InvokeError:
        logger.info("throttled %s: %s", spec.name, error)
        body = {"Reason": error.reason, "Type": "User", "message": "Rate Exceeded."}
        return InvokeError(
            429,
            "TooManyRequestsException",
            "Rate Exceeded.",
            body=json.dumps(body).encode(),
        )

    def _result(
        self, spec: FunctionSpec, invocation: Invocation, log: str
    ) -> InvocationResult:
        tail = log.encode()[-TAIL_BYTES:].decode("utf-8", "ignore")
        if invocation.outcome == "success":
            return InvocationResult(200, invocation.response, None, tail, spec.version)
        return InvocationResult(
            200, invocation.response, "Unhandled", tail, spec.version
        )

    def _write_logs(
        self, worker: Worker, spec: FunctionSpec, invocation: Invocation, cold: bool
    ) -> str:
        request_id = invocation.request_id
        now = _now_ms()
        start_ms = now - int(invocation.duration_ms)
        events: list[tuple[int, str]] = []
        if cold and not worker.init_reported:
            worker.init_reported = True
            events.append(
                (
                    start_ms,
                    "INIT_START Runtime Version: "
                    f"{spec.runtime.replace('python', 'python:')}.localcloud",
                )
            )
        events.append(
            (start_ms, f"START RequestId: {request_id} Version: {spec.version}")
        )
        events += [(max(ts, start_ms), line) for ts, line in invocation.output]
        if invocation.outcome == "timeout":
            stamp = (
                datetime.now(UTC)
                .isoformat(timespec="milliseconds")
                .replace("+00:00", "Z")
            )
            events.append(
                (
                    now,
                    f"{stamp} {request_id} Task timed out after "
                    f"{spec.timeout:.2f} seconds",
                )
            )
        events.append((now, f"END RequestId: {request_id}"))
        duration = invocation.duration_ms
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\t"
            f"Billed Duration: {int(duration) + 1} ms\t"
            f"Memory Size: {spec.memory_size} MB\t"
            f"Max Memory Used: {worker.max_memory_mb()} MB"
        )
        if cold and worker.init_duration_ms is not None:
            report += f"\tInit Duration: {worker.init_duration_ms:.2f} ms"
        if invocation.outcome in ("timeout", "crash", "init_error"):
            status = "timeout" if invocation.outcome == "timeout" else "error"
            report += f"\tStatus: {status}"
            if invocation.error_type:
                report += f"\tError Type: {invocation.error_type}"
        events.append((now, report))
        events.sort(key=lambda event: event[0])
        self.logs.put(spec.region, spec.log_group, worker.stream_name, events)
        return "\n".join(line for _, line in events) + "\n"

    def _warn_once(self, key: str, message: str) -> None:
        with self._warn_lock:
            if key in self._warned:
                return
            self._warned.add(key)
        logger.warning("%s (differs from AWS)", message)


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    wanted = name.lower()
    return next((value for key, value in headers if key.lower() == wanted), None)


class InvokeError(LocalCloudError):
    """An error of the Invoke API, with AWS's status, code and body."""

    def __init__(
        self, status: int, code: str, message: str, *, body: bytes | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        fault = "User" if status < 500 else "Service"
        self.body = body or json.dumps({"Type": fault, "message": message}).encode()


def _now_ms() -> int:
    return time.time_ns() // 1_000_000

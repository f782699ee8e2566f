"""`LocalCloud`: moto, the data planes and the edge that routes between them.

A request reaching the edge goes to the first data-plane route whose `match`
accepts it (Lambda Invoke, execute-api URLs, S3 websites, ...), else to
LocalStack's own endpoints (`/_localstack/...`), else to moto. After moto has
answered an AWS API call successfully, the listeners registered for that
service run, so data planes can reconcile with the new state (start a database
after CreateDBInstance, subscribe after CreateTopicRule, ...).

Feature modules plug in through `install(cloud)`; they see only the small
surface documented on `LocalCloud` (see docs/edge.md).
"""

from __future__ import annotations

import importlib
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence

from localcloud import __version__
from localcloud.config import CloudConfig
from localcloud.edge import localstack
from localcloud.edge.awserrors import internal_failure, not_implemented
from localcloud.edge.moto_bridge import MotoBridge, NoMotoBackendError
from localcloud.edge.operations import AwsCall, identify
from localcloud.edge.server import EdgeServerThread
from localcloud.errors import LocalCloudError
from localcloud.http import DataPlaneRoute, HttpRequest, HttpResponse
from localcloud.invoker import InvocationResult, LambdaInvoker
from localcloud.service import BackgroundService

logger = logging.getLogger(__name__)
access_logger = logging.getLogger("localcloud.access")

AwsListener = Callable[[HttpRequest, HttpResponse], None]

LAMBDA_MODULE = "localcloud.awslambda"
FEATURE_MODULES: tuple[str, ...] = (
    "localcloud.apigateway",
    "localcloud.s3website",
    "localcloud.cloudformation",
    "localcloud.iot",
    "localcloud.sqs",
    "localcloud.rds",
)


class LocalCloud:
    """The whole local cloud of one process.

    Construction binds the edge's port (so `endpoint_url` is final, even for
    port 0) and installs the features; `start()` starts the background
    services and serves requests; `stop()` undoes both.
    """

    def __init__(
        self,
        config: CloudConfig | None = None,
        *,
        features: Sequence[str] = FEATURE_MODULES,
    ) -> None:
        config = config or CloudConfig.from_env()
        try:
            self._edge = EdgeServerThread(config.host, config.port, self.handle)
        except OSError as error:
            raise LocalCloudError(
                f"cannot listen on {config.host}:{config.port} ({error.strerror}); "
                "stop what uses that port or choose another with --port or "
                "LOCALCLOUD_PORT"
            ) from error
        self.config = config.replace(port=self._edge.port)
        self.endpoint_url = self.config.endpoint_url
        self.started_at = time.time()
        self._moto = MotoBridge(self.config.host, self.config.port)
        self._routes: list[DataPlaneRoute] = []
        self._services: list[BackgroundService] = []
        self._listeners: dict[str, list[AwsListener]] = {}
        self._reset_hooks: list[Callable[[], None]] = []
        self._started = False
        self._lock = threading.Lock()
        self.invoker: LambdaInvoker = _install_lambda(self)
        self.installed: list[str] = []
        disabled = {
            item.strip() for item in config.disabled_features.split(",") if item.strip()
        }
        for module in features:
            if module.rsplit(".", 1)[-1] in disabled:
                logger.info("feature %s disabled by configuration", module)
                continue
            if _install_feature(self, module):
                self.installed.append(module)

    # --- the surface feature modules use -------------------------------------

    def add_route(self, route: DataPlaneRoute) -> None:
        """Mounts a data plane; routes are tried in the order they were added."""
        self._routes.append(route)

    def add_service(self, service: BackgroundService) -> None:
        """Registers a background service; started now if the cloud runs already."""
        self._services.append(service)
        if self._started:
            service.start()

    def add_aws_listener(self, service: str, callback: AwsListener) -> None:
        """Calls `callback(request, response)` after moto answered a 2xx to an AWS
        API request signed for `service` (the SigV4 signing name: "lambda",
        "rds", "iot", "sqs", ...). An exception in the callback turns the
        response into a 500 InternalFailure: the caller must learn that the data
        plane did not follow the control plane."""
        self._listeners.setdefault(service, []).append(callback)

    def on_reset(self, callback: Callable[[], None]) -> None:
        """Registers a data plane's state clearing, run by `reset()` before moto's."""
        self._reset_hooks.append(callback)

    def moto(self, request: HttpRequest) -> HttpResponse:
        """Forwards an AWS API request to moto, in-process, and runs the listeners.

        Never raises: an operation moto lacks is a 501 NotImplemented, a moto
        failure a 500 InternalFailure, both in the caller's protocol.
        """
        call = identify(request)
        response = self._call_moto(call, request)
        if 200 <= response.status < 300 and call.service in self._listeners:
            for listener in self._listeners[call.service]:
                try:
                    listener(request, response)
                except Exception as error:
                    logger.exception(
                        "listener %r failed after %s.%s",
                        getattr(listener, "__qualname__", listener),
                        call.service,
                        call.operation,
                    )
                    return internal_failure(
                        call,
                        f"The local cloud could not apply {call.operation} to its "
                        f"data plane: {error}",
                    )
        return response

    def aws_call(self, request: HttpRequest) -> AwsCall:
        """The service, operation and region of an AWS API request."""
        return identify(request)

    def reset(self) -> None:
        """Clears data-plane state (reset hooks, in reverse order) then moto's."""
        for hook in reversed(self._reset_hooks):
            try:
                hook()
            except Exception:
                logger.exception("reset hook %r failed", hook)
        self._moto.reset()
        logger.info("state reset: moto backends and data planes cleared")

    @property
    def routes(self) -> list[DataPlaneRoute]:
        return list(self._routes)

    @property
    def services(self) -> list[BackgroundService]:
        return list(self._services)

    # --- lifecycle ------------------------------------------------------------

    def start(self) -> None:
        """Starts the background services, then accepts requests."""
        with self._lock:
            if self._started:
                return
            for service in self._services:
                service.start()
            self._started = True
            self._edge.start()
        logger.info(
            "local cloud %s listening on %s (state in %s)",
            __version__,
            self.endpoint_url,
            self.config.state_dir,
        )

    def stop(self) -> None:
        """Stops accepting requests, then stops the services in reverse order."""
        with self._lock:
            if not self._started:
                self._edge.server.server_close()
                return
            self._started = False
            self._edge.stop()
            for service in reversed(self._services):
                try:
                    service.stop()
                except Exception:
                    logger.exception("service %s did not stop cleanly", service.name)
        logger.info("local cloud stopped")

    def __enter__(self) -> LocalCloud:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- request handling -----------------------------------------------------

    def handle(self, request: HttpRequest) -> HttpResponse:
        """The edge's entry point: route, answer, log one line. Never raises."""
        started = time.perf_counter()
        label = ""
        try:
            route = self._route_for(request)
            if route is not None:
                label = f"{route.name} {request.method} {request.path}"
                response = route.handle(request)
            elif request.path.startswith(localstack.PREFIXES):
                label = f"localstack {request.method} {request.path}"
                response = localstack.handle(self, request)
            else:
                call = identify(request)
                label = f"{call.service or '-'}.{call.operation or request.method}"
                response = self.moto(request)
        except Exception as error:
            call = identify(request)
            logger.exception("request %s %s failed", request.method, request.path)
            response = internal_failure(call, f"The local cloud failed: {error}")
        access_logger.info(
            "%s %d %.1fms",
            label or f"{request.method} {request.path}",
            response.status,
            (time.perf_counter() - started) * 1000,
        )
        return response

    def _route_for(self, request: HttpRequest) -> DataPlaneRoute | None:
        for route in self._routes:
            if route.match(request):
                return route
        return None

    def _call_moto(self, call: AwsCall, request: HttpRequest) -> HttpResponse:
        try:
            response = self._moto(request)
        except NoMotoBackendError:
            logger.warning("moto has no backend for service %s", call.service)
            return not_implemented(
                call, f"The local cloud does not implement the {call.service} service"
            )
        except NotImplementedError as error:
            logger.warning(
                "moto does not implement %s.%s: %s", call.service, call.operation, error
            )
            return not_implemented(
                call,
                f"The local cloud does not implement {call.service}.{call.operation} "
                f"({error})",
            )
        except Exception as error:
            logger.exception("moto failed on %s.%s", call.service, call.operation)
            return internal_failure(call, f"moto failed on {call.operation}: {error}")
        content_type = next(
            (v for k, v in response.headers if k.lower() == "content-type"), ""
        )
        if response.status in (404, 405) and content_type.startswith("text/html"):
            # Flask's own "no such URL": no moto backend serves this request.
            logger.warning(
                "no moto route for %s %s (service %s)",
                request.method,
                request.path,
                call.service,
            )
            return not_implemented(
                call,
                f"The local cloud does not implement {request.method} {request.path}"
                f" for service {call.service or 'unknown'}",
            )
        return response


def _install_lambda(cloud: LocalCloud) -> LambdaInvoker:
    try:
        module = importlib.import_module(LAMBDA_MODULE)
    except ModuleNotFoundError as error:
        if error.name != LAMBDA_MODULE:
            raise
        return _UnavailableInvoker()
    invoker: LambdaInvoker = module.install(cloud)
    return invoker


class _UnavailableInvoker:
    """Stands in for the Lambda service when its package is absent."""

    def invoke(
        self,
        function: str,
        payload: bytes,
        *,
        qualifier: str | None = None,
        invocation_type: str = "RequestResponse",
        timeout_override: float | None = None,
    ) -> InvocationResult:
        message = f"Lambda execution is not installed; cannot invoke {function}"
        body = json.dumps({"Type": "Service", "message": message}).encode()
        return InvocationResult(501, body, function_error="Unhandled")


def _install_feature(cloud: LocalCloud, name: str) -> bool:
    """Imports a feature and calls its `install(cloud)`; False if it is absent."""
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name != name:
            raise
        logger.debug("feature %s is not present; skipped", name)
        return False
    install = getattr(module, "install", None)
    if install is None:
        short = name.rsplit(".", 1)[-1]
        raise LocalCloudError(
            f"feature module {name} has no install(cloud) function; finish it or "
            f"disable it with LOCALCLOUD_DISABLED_FEATURES={short}"
        )
    install(cloud)
    return True

"""What moto knows about a function version, read in-process at each invocation.

The data plane keeps no copy of a function's configuration: every invocation
resolves the function in moto's Lambda backend and takes a `FunctionSpec`
snapshot. The spec's `fingerprint` changes whenever the code or a setting that
affects a running worker changes, which is how workers are swapped after
UpdateFunctionCode / UpdateFunctionConfiguration.

moto drops `DeadLetterConfig` from CreateFunction and UpdateFunctionConfiguration;
the Lambda service's listener records it on moto's function object
(`DEAD_LETTER_ATTRIBUTE`), so it lives and dies with the function.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from localcloud.http import HttpResponse

DEAD_LETTER_ATTRIBUTE = "_localcloud_dead_letter_target"


@dataclass(frozen=True)
class LayerSpec:
    arn: str
    code_sha_256: str
    code_bytes: Callable[[], bytes] = field(compare=False, repr=False)


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    arn: str  # unqualified
    version: str  # "$LATEST" or a number
    region: str
    runtime: str
    handler: str
    timeout: float
    memory_size: int
    environment: dict[str, str]
    layers: tuple[LayerSpec, ...]
    code_sha_256: str
    code_bytes: Callable[[], bytes] = field(compare=False, repr=False)
    package_type: str = "Zip"
    reserved_concurrency: int | None = None
    log_group: str = ""
    dead_letter_target: str | None = None
    on_success: str | None = None
    on_failure: str | None = None
    max_retry_attempts: int = 2
    max_event_age: int = 21600
    log_format: str | None = None

    @property
    def qualified_arn(self) -> str:
        return f"{self.arn}:{self.version}"

    @cached_property
    def fingerprint(self) -> tuple[object, ...]:
        """Identifies what a worker was started from; any change means new workers."""
        return (
            self.arn,
            self.version,
            self.code_sha_256,
            self.runtime,
            self.handler,
            self.timeout,
            self.memory_size,
            json.dumps(self.environment, sort_keys=True),
            tuple(layer.code_sha_256 for layer in self.layers),
            self.log_format,
        )


class FunctionLookupError(Exception):
    """moto refused the lookup; `response` is its AWS error, ready to send."""

    def __init__(self, response: HttpResponse, message: str) -> None:
        super().__init__(message)
        self.response = response


class FunctionCatalog:
    """Reads function versions from moto's Lambda backends."""

    def __init__(self, account_id: str) -> None:
        self._account_id = account_id

    def backend(self, region: str) -> Any:
        from moto.awslambda.models import lambda_backends

        return lambda_backends[self._account_id][region]

    def moto_function(self, name: str, qualifier: str | None, region: str) -> Any:
        """moto's LambdaFunction for a name, ARN or partial ARN and qualifier."""
        from moto.core.exceptions import JsonRESTError

        region = _region_of(name) or region
        try:
            return self.backend(region).get_function(name, qualifier)
        except JsonRESTError as error:
            response = HttpResponse(
                error.code, error.get_body().encode(), list(error.get_headers())
            )
            raise FunctionLookupError(response, error.message) from error

    def spec(self, name: str, qualifier: str | None, region: str) -> FunctionSpec:
        function = self.moto_function(name, qualifier, region)
        return self.spec_of(function)

    def spec_of(self, function: Any) -> FunctionSpec:
        backend = self.backend(function.region)
        layers = []
        for layer in function.layers:
            version = backend.layers_versions_by_arn(layer["Arn"])
            if version is not None:
                layers.append(
                    LayerSpec(layer["Arn"], version.code_sha_256, _bytes_of(version))
                )
        success, failure, retries, max_age = _event_invoke_config(function)
        reserved = function.reserved_concurrency
        logging_config = getattr(function, "logging_config", None) or {}
        return FunctionSpec(
            name=function.function_name,
            arn=_unqualified(function.function_arn),
            version=str(function.version),
            region=function.region,
            runtime=str(function.run_time or ""),
            handler=str(function.handler or ""),
            timeout=float(function.timeout),
            memory_size=int(function.memory_size),
            environment={
                k: str(v) for k, v in (function.environment_vars or {}).items()
            },
            layers=tuple(layers),
            code_sha_256=str(function.code_sha_256),
            code_bytes=_bytes_of(function),
            package_type=str(function.package_type or "Zip"),
            reserved_concurrency=None if reserved is None else int(reserved),
            log_group=function.logs_group_name,
            dead_letter_target=getattr(function, DEAD_LETTER_ATTRIBUTE, None),
            on_success=success,
            on_failure=failure,
            max_retry_attempts=retries,
            max_event_age=max_age,
            log_format=logging_config.get("LogFormat"),
        )


def _bytes_of(model: Any) -> Callable[[], bytes]:
    """Reads a moto model's zip only when a worker needs it unpacked."""
    return lambda: bytes(model.code_bytes)


def _event_invoke_config(function: Any) -> tuple[str | None, str | None, int, int]:
    configs = getattr(function, "event_invoke_config", None) or []
    if not configs:
        return None, None, 2, 21600
    config: dict[str, Any] = configs[-1].config
    destinations = config.get("DestinationConfig") or {}
    success = (destinations.get("OnSuccess") or {}).get("Destination")
    failure = (destinations.get("OnFailure") or {}).get("Destination")
    retries = int(config.get("MaximumRetryAttempts", 2))
    max_age = int(config.get("MaximumEventAgeInSeconds", 21600))
    return success, failure, retries, max_age


def _unqualified(arn: str) -> str:
    parts = arn.split(":")
    return ":".join(parts[:7])


def _region_of(name: str) -> str | None:
    if name.startswith("arn:"):
        parts = name.split(":")
        return parts[3] if len(parts) > 3 and parts[3] else None
    return None

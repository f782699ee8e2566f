"""Fixes to moto's `EventSourceMapping` model that the SQS poller relies on.

- CloudFormation passes `!Ref` parameters as strings: moto then compares a
  string `BatchSize` with an integer and fails, stores `Enabled: "false"` as a
  true value, and returns numbers as strings. Numbers and flags are coerced
  as CloudFormation would.
- moto reports `LastProcessingResult: null` and a free-text reason; the
  configuration now carries what the poller last saw and Lambda's
  `USER_INITIATED` reason.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from localcloud.sqs.event_source import flag, last_processing_result

_lock = threading.Lock()
_installed: list[bool] = []
_INTEGER_FIELDS = (
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "MaximumRecordAgeInSeconds",
    "MaximumRetryAttempts",
    "ParallelizationFactor",
    "TumblingWindowInSeconds",
)


def _integer(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value


def _patch_enabled(model: Any) -> None:
    def get(self: Any) -> bool:
        return flag(self.__dict__.get("_enabled", self.__dict__.get("enabled", True)))

    def set_(self: Any, value: Any) -> None:
        self.__dict__["_enabled"] = flag(value)

    model.enabled = property(get, set_)


def _patch_batch_size(model: Any) -> None:
    original: Any = model.__dict__["batch_size"]

    def set_(self: Any, value: Any) -> None:
        original.fset(self, _integer(value))

    model.batch_size = property(original.fget, set_)


def _patch_configuration(model: Any) -> None:
    original: Callable[[Any], dict[str, Any]] = model.get_configuration

    def get_configuration(self: Any) -> dict[str, Any]:
        configuration = original(self)
        for name in _INTEGER_FIELDS:
            if name in configuration:
                configuration[name] = _integer(configuration[name])
        scaling = configuration.get("ScalingConfig")
        if isinstance(scaling, dict) and "MaximumConcurrency" in scaling:
            configuration["ScalingConfig"] = {
                **scaling,
                "MaximumConcurrency": _integer(scaling["MaximumConcurrency"]),
            }
        if configuration.get("EventSourceArn", "").split(":")[2:3] == ["sqs"]:
            configuration["StateTransitionReason"] = "USER_INITIATED"
            result = last_processing_result(self.uuid)
            if result is not None:
                configuration["LastProcessingResult"] = result
        return configuration

    model.get_configuration = get_configuration


def install_mapping_patches() -> None:
    """Idempotent; affects mappings of the in-process moto."""
    from moto.awslambda.models import EventSourceMapping

    with _lock:
        if _installed:
            return
        _patch_enabled(EventSourceMapping)
        _patch_batch_size(EventSourceMapping)
        _patch_configuration(EventSourceMapping)
        _installed.append(True)

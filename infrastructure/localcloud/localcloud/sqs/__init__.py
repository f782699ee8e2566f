"""SQS in the local cloud: a queue model fit for deep queues, and Lambda's poller.

moto answers every SQS API call; `install` puts `FastQueue` behind moto's
backend (so the AWS CLI, boto3 and the poller see one model whose cost does
not grow with the queue's depth) and starts the service that drives Lambda
functions from SQS event source mappings. See docs/sqs.md for the supported
behaviour and the differences from AWS.

Settings (environment): `LOCALCLOUD_SQS_MAX_CONCURRENCY`, the most batches one
mapping keeps in flight at once (default 5).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from localcloud.errors import LocalCloudError

from .event_source import (
    EventSourceSettings,
    MappingStats,
    SqsEventSourceService,
    last_processing_result,
)
from .mapping_patch import install_mapping_patches
from .moto_patch import (
    install_queue_model,
    queue_model_installed,
    uninstall_queue_model,
)
from .queue_model import FastQueue

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

__all__ = [
    "EventSourceSettings",
    "FastQueue",
    "MappingStats",
    "SqsEventSourceService",
    "install",
    "install_mapping_patches",
    "install_queue_model",
    "last_processing_result",
    "queue_model_installed",
    "settings_from_env",
    "uninstall_queue_model",
]


def settings_from_env(environ: dict[str, str] | None = None) -> EventSourceSettings:
    environ = dict(os.environ) if environ is None else environ
    raw = environ.get("LOCALCLOUD_SQS_MAX_CONCURRENCY", "").strip()
    if not raw:
        return EventSourceSettings()
    try:
        value = int(raw)
    except ValueError as error:
        raise LocalCloudError(
            f"LOCALCLOUD_SQS_MAX_CONCURRENCY={raw!r} is not a whole number; "
            "set it to the most batches a mapping may keep in flight, e.g. 5"
        ) from error
    if value < 1:
        raise LocalCloudError(
            f"LOCALCLOUD_SQS_MAX_CONCURRENCY={value} must be at least 1"
        )
    return EventSourceSettings(max_concurrency=value)


def install(cloud: LocalCloud) -> None:
    """Fast queues in moto, and the event source poller as a background service."""
    install_queue_model()
    install_mapping_patches()
    service = SqsEventSourceService(cloud.invoker, settings_from_env())
    cloud.add_service(service)
    cloud.add_aws_listener("lambda", service.on_aws_request)

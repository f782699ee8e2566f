"""Puts `FastQueue` behind moto's SQS backend, and can take it out again.

moto's backend builds queues through the module-level name `Queue` and
scans `queue._messages` itself in three operations (receive, change of
visibility, purge). Installing swaps the name (so CreateQueue, CloudFormation
and SNS/S3/EventBridge deliveries all get fast queues) and routes those three
operations to the queue's own methods. Queues created before the install keep
moto's model and moto's code paths, so installing at any time is safe.

moto's `Queue.add_message` also invokes Lambda functions mapped to the queue,
through moto's Docker-based Lambda backend. `FastQueue.add_message` does not:
the local cloud's event source poller is the only consumer.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.sqs import models as sqs_models

from localcloud.sqs.queue_model import FastQueue, StockQueue

_lock = threading.Lock()
_originals: dict[str, Any] = {}


def _receive_message(
    self: Any,
    queue_name: str,
    count: int,
    wait_seconds_timeout: int,
    visibility_timeout: int,
    message_attribute_names: list[str] | None = None,
) -> list[Any]:
    queue = self.get_queue(queue_name)
    if not isinstance(queue, FastQueue):
        return list(
            _originals["receive_message"](
                self,
                queue_name,
                count,
                wait_seconds_timeout,
                visibility_timeout,
                message_attribute_names,
            )
        )
    return queue.receive_messages(
        count,
        int(visibility_timeout),
        float(wait_seconds_timeout or 0),
        list(message_attribute_names or []),
    )


def _change_message_visibility(
    self: Any, queue_name: str, receipt_handle: str, visibility_timeout: int
) -> None:
    queue = self.get_queue(queue_name)
    if not isinstance(queue, FastQueue):
        _originals["change_message_visibility"](
            self, queue_name, receipt_handle, visibility_timeout
        )
        return
    queue.change_visibility(receipt_handle, int(visibility_timeout))


def _purge_queue(self: Any, queue_name: str) -> None:
    queue = self.get_queue(queue_name)
    _originals["purge_queue"](self, queue_name)  # moto's 60-second rule and reset
    if isinstance(queue, FastQueue):
        queue.purge()


_PATCHES = {
    "receive_message": _receive_message,
    "change_message_visibility": _change_message_visibility,
    "purge_queue": _purge_queue,
}


def install_queue_model() -> None:
    """New queues of the in-process moto are `FastQueue`s. Idempotent."""
    with _lock:
        if _originals:
            return
        backend_class = sqs_models.SQSBackend
        for name, function in _PATCHES.items():
            _originals[name] = getattr(backend_class, name)
            setattr(backend_class, name, function)
        sqs_models.Queue = FastQueue  # type: ignore[misc]


def uninstall_queue_model() -> None:
    """Back to moto's own model for queues created from now on (benchmarks
    compare both in one process)."""
    with _lock:
        if not _originals:
            return
        backend_class = sqs_models.SQSBackend
        for name, function in _originals.items():
            setattr(backend_class, name, function)
        _originals.clear()
        sqs_models.Queue = StockQueue  # type: ignore[misc]


def queue_model_installed() -> bool:
    return bool(_originals)

"""Lambda's SQS poller: event source mappings stored in moto drive functions.

The mappings are moto's `EventSourceMapping` objects, whichever way they were
made (the Lambda API, the AWS CLI, CloudFormation); the service reads them on
each pass and never keeps a copy. One `MappingRunner` per enabled mapping
reads the queue in-process (no HTTP), gathers a batch the way Lambda does
(`BatchSize`, `MaximumBatchingWindowInSeconds`, the 6 MB payload limit),
invokes the function synchronously through the `LambdaInvoker`, and deletes
from the queue only the messages the function succeeded for:

- success: the whole batch is deleted;
- a function error, a throttle or any failed Invoke: nothing is deleted, the
  messages become visible again when the queue's visibility timeout ends, and
  the queue's redrive policy moves them to the dead-letter queue after
  `maxReceiveCount` receives;
- `FunctionResponseTypes: ["ReportBatchItemFailures"]`: the listed messages
  stay, the rest are deleted; an answer Lambda could not trust fails the
  whole batch (see `records.partial_failures`).

While the queue is deep, a runner keeps up to N batches in flight at once:
N is the smallest of the local cap (`max_concurrency`), the mapping's
`ScalingConfig.MaximumConcurrency` and the function's reserved concurrency.
Lambda instead scales its pollers up over minutes; locally the cap is reached
at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from localcloud.invoker import LambdaInvoker
from localcloud.sqs.queue_model import FastQueue
from localcloud.sqs.records import (
    PAYLOAD_LIMIT,
    BatchOutcome,
    partial_failures,
    record_size,
    sqs_event,
    sqs_record,
)

logger = logging.getLogger(__name__)

_POLL_SLICE = 0.5  # longest wait before a runner rechecks its mapping
_RECEIVE_CHUNK = 500  # messages taken from the queue per call
_last_results: dict[str, str] = {}  # mapping UUID -> LastProcessingResult


@dataclass(frozen=True, slots=True)
class EventSourceSettings:
    max_concurrency: int = 5  # batches in flight per mapping, at most
    reconcile_interval: float = 1.0  # seconds between passes over moto's state


@dataclass(slots=True)
class MappingStats:
    batches: int = 0
    delivered: int = 0  # messages the function succeeded for (deleted)
    failed: int = 0  # messages left in the queue after a failed batch or item
    in_flight: int = 0


def flag(value: Any) -> bool:
    """CloudFormation's reading of a Boolean property: "false" is false."""
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def last_processing_result(uuid: str) -> str | None:
    return _last_results.get(uuid)


def _queue_for(arn: str) -> Any:
    from moto.sqs.models import sqs_backends

    _, _, _, region, account, name = arn.split(":", 5)
    return sqs_backends[account][region].queues.get(name)


def _function_limit(account: str, region: str, function_arn: str) -> int | None:
    from moto.awslambda.models import lambda_backends

    try:
        function = lambda_backends[account][region].get_function(function_arn)
    except Exception:
        return None
    reserved = getattr(function, "reserved_concurrency", None)
    return None if reserved is None else int(reserved)


class MappingRunner:
    """Polls one queue for one mapping, and delivers batches concurrently."""

    def __init__(
        self,
        mapping: Any,
        invoker: LambdaInvoker,
        settings: EventSourceSettings,
        lookup: Callable[[], Any],
    ) -> None:
        self.uuid: str = mapping.uuid
        self._account: str = mapping.account_id
        self._region: str = mapping.region
        self._invoker = invoker
        self._settings = settings
        self._lookup = lookup  # the mapping as moto has it now, or None
        self._stopping = threading.Event()
        self._slots = threading.Condition()
        self._carry: list[Any] = []  # received, not yet delivered (size limit)
        self._carry_queue: Any = None
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, settings.max_concurrency),
            thread_name_prefix=f"sqs-esm-{self.uuid[:8]}",
        )
        self.stats = MappingStats()
        self._thread = threading.Thread(
            target=self._run, name=f"sqs-esm-{self.uuid[:8]}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def signal_stop(self) -> None:
        self._stopping.set()
        with self._slots:
            self._slots.notify_all()

    def join(self, timeout: float = 10.0) -> None:
        self._thread.join(timeout)
        self._pool.shutdown(wait=True, cancel_futures=False)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # -- polling -------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                mapping = self._lookup()
                if mapping is None or not flag(mapping.enabled):
                    break
                queue = _queue_for(mapping.event_source_arn)
                if queue is None:
                    self._stopping.wait(_POLL_SLICE)
                    continue
                if not self._take_slot(self._limit(mapping)):
                    continue
                batch = self._collect(mapping, queue)
                if batch and self._still_wanted():
                    self._pool.submit(self._deliver, mapping, queue, batch)
                    continue
                self._release_slot()
                if batch:  # disabled or deleted while gathering: hand them back
                    self._carry, self._carry_queue = batch + self._carry, queue
        except Exception:
            logger.exception("event source mapping %s stopped polling", self.uuid)
        finally:
            self._release_carry()

    def _still_wanted(self) -> bool:
        if self._stopping.is_set():
            return False
        mapping = self._lookup()
        return mapping is not None and flag(mapping.enabled)

    def _limit(self, mapping: Any) -> int:
        limit = max(1, self._settings.max_concurrency)
        scaling = mapping.scaling_config or {}
        if scaling.get("MaximumConcurrency"):
            limit = min(limit, int(scaling["MaximumConcurrency"]))
        reserved = _function_limit(self._account, self._region, mapping.function_arn)
        if reserved is not None:
            limit = min(limit, reserved)
        return limit

    def _take_slot(self, limit: int) -> bool:
        with self._slots:
            if self.stats.in_flight >= limit:
                self._slots.wait(_POLL_SLICE)
                return False
            self.stats.in_flight += 1
            return True

    def _release_slot(self) -> None:
        with self._slots:
            self.stats.in_flight -= 1
            self._slots.notify_all()

    def _receive(self, queue: Any, count: int, wait: float) -> list[Any]:
        visibility = int(queue.visibility_timeout)
        if isinstance(queue, FastQueue):
            return queue.receive_messages(count, visibility, wait, None)
        from moto.sqs.models import sqs_backends  # a queue older than the patch

        backend = sqs_backends[self._account][self._region]
        received = backend.receive_message(
            queue.name, min(count, 10), round(wait), visibility, ["All"]
        )
        return list(received)

    def _collect(self, mapping: Any, queue: Any) -> list[Any]:
        """A batch as Lambda gathers one: up to BatchSize messages, waiting at
        most the batching window once the first arrived, under 6 MB."""
        batch_size = int(mapping.batch_size)
        window = float(mapping.max_batch_window or 0)  # a string from CloudFormation
        batch, self._carry = self._carry[:batch_size], self._carry[batch_size:]
        size = sum(record_size(message) for message in batch)
        deadline = time.monotonic() + window if batch else None
        seen = {message.id: index for index, message in enumerate(batch)}
        while len(batch) < batch_size and not self._stopping.is_set():
            if deadline is None:
                wait = _POLL_SLICE
            else:
                wait = max(0.0, min(_POLL_SLICE, deadline - time.monotonic()))
            count = min(batch_size - len(batch), _RECEIVE_CHUNK)
            received = self._receive(queue, count, wait)
            for message in received:
                if message.id in seen:
                    # Visible again (and received again) before the window
                    # closed: only the newest receipt handle is worth keeping.
                    batch[seen[message.id]] = message
                    continue
                grown = size + record_size(message)
                if grown > PAYLOAD_LIMIT and batch:
                    self._carry.append(message)
                    self._carry_queue = queue
                else:
                    seen[message.id] = len(batch)
                    batch.append(message)
                    size = grown
            if self._carry:
                break
            if not batch:
                return []
            if deadline is None:
                deadline = time.monotonic() + window
            if time.monotonic() >= deadline:
                break
        return batch

    def _release_carry(self) -> None:
        """Messages received but never delivered go back at once."""
        carry, self._carry = self._carry, []
        queue = self._carry_queue
        for message in carry:
            if isinstance(queue, FastQueue):
                try:
                    queue.change_visibility(message.receipt_handle, 0)
                except Exception:  # noqa: S112 - deleted meanwhile
                    continue

    # -- delivery ------------------------------------------------------------

    def _deliver(self, mapping: Any, queue: Any, batch: list[Any]) -> None:
        try:
            outcome = self._invoke(mapping, queue, batch)
            self._record(mapping.uuid, len(batch), outcome)
            self._delete(queue, batch, outcome.succeeded)
        except Exception:
            logger.exception("event source mapping %s: batch failed", self.uuid)
            _last_results[self.uuid] = "PROBLEM: Internal error of the local poller"
        finally:
            self._release_slot()

    def _invoke(self, mapping: Any, queue: Any, batch: list[Any]) -> BatchOutcome:
        ids = [message.id for message in batch]
        records = [
            sqs_record(message, queue.queue_arn, self._region, fifo=queue.fifo_queue)
            for message in batch
        ]
        result = self._invoker.invoke(mapping.function_arn, sqs_event(records))
        everything = frozenset(ids)
        if result.status_code == 429:
            logger.info(
                "event source mapping %s: %s throttled; %d messages return after "
                "the visibility timeout",
                self.uuid,
                mapping.function_arn,
                len(batch),
            )
            return BatchOutcome(frozenset(), everything, "Function call throttled")
        if result.status_code >= 300 or result.function_error:
            logger.info(
                "event source mapping %s: %s failed (%s %s); %d messages stay",
                self.uuid,
                mapping.function_arn,
                result.status_code,
                result.function_error or "",
                len(batch),
            )
            return BatchOutcome(frozenset(), everything, "Function call failed")
        types = mapping.function_response_types or []
        if "ReportBatchItemFailures" in types:
            outcome = partial_failures(result.payload, ids)
            if outcome.failed:
                logger.info(
                    "event source mapping %s: %d of %d messages reported failed",
                    self.uuid,
                    len(outcome.failed),
                    len(batch),
                )
            return outcome
        return BatchOutcome(everything, frozenset())

    def _delete(self, queue: Any, batch: list[Any], succeeded: frozenset[str]) -> None:
        handles = [m.receipt_handle for m in batch if m.id in succeeded]
        if not handles:
            return
        if isinstance(queue, FastQueue):
            queue.delete_messages(handles)
            return
        for handle in handles:
            try:
                queue.delete_message(handle)
            except Exception:  # noqa: S112 - received again meanwhile
                continue

    def _record(self, uuid: str, size: int, outcome: BatchOutcome) -> None:
        with self._slots:
            self.stats.batches += 1
            self.stats.delivered += len(outcome.succeeded)
            self.stats.failed += len(outcome.failed)
        if outcome.problem is None:
            _last_results[uuid] = "OK"
        else:
            _last_results[uuid] = f"PROBLEM: {outcome.problem}"


class SqsEventSourceService:
    """The background service: one runner per enabled SQS mapping in moto."""

    name = "sqs-event-sources"

    def __init__(
        self, invoker: LambdaInvoker, settings: EventSourceSettings | None = None
    ) -> None:
        self._invoker = invoker
        self._settings = settings or EventSourceSettings()
        self._runners: dict[str, MappingRunner] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._loop, name="sqs-event-sources", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        with self._lock:
            runners = list(self._runners.values())
            self._runners.clear()
        for runner in runners:
            runner.signal_stop()
        for runner in runners:
            runner.join()

    def health(self) -> str:
        if self._thread is None:
            return "disabled"
        return "running" if self._thread.is_alive() else "error"

    def on_aws_request(self, request: Any, response: Any) -> None:
        """Called after moto answered a Lambda API request: a mapping may have
        been created, updated or deleted; look now rather than in a second."""
        self._wake.set()

    def stats(self, uuid: str) -> MappingStats | None:
        with self._lock:
            runner = self._runners.get(uuid)
        return None if runner is None else runner.stats

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.reconcile()
            except Exception:
                logger.exception("reading event source mappings from moto failed")
            self._wake.wait(self._settings.reconcile_interval)
            self._wake.clear()

    def reconcile(self) -> None:
        """Start runners for enabled SQS mappings, stop the others."""
        from moto.awslambda.models import lambda_backends

        wanted: dict[str, tuple[Any, Callable[[], Any]]] = {}
        backends: list[tuple[str, str, Any]] = list(lambda_backends.iter_backends())
        for _, _, backend in backends:
            mappings = backend._event_source_mappings
            for uuid, mapping in list(mappings.items()):
                if mapping.event_source_arn.split(":")[2] != "sqs":
                    continue
                if flag(mapping.enabled):
                    wanted[uuid] = (mapping, _lookup_in(mappings, uuid))
        with self._lock:
            for uuid in list(self._runners):
                runner = self._runners[uuid]
                if uuid not in wanted or not runner.alive:
                    runner.signal_stop()
                    del self._runners[uuid]
                    threading.Thread(target=runner.join, daemon=True).start()
            for uuid, (mapping, lookup) in wanted.items():
                if uuid in self._runners or self._stopping.is_set():
                    continue
                runner = MappingRunner(mapping, self._invoker, self._settings, lookup)
                self._runners[uuid] = runner
                runner.start()
                logger.info(
                    "event source mapping %s: polling %s for %s",
                    uuid,
                    mapping.event_source_arn,
                    mapping.function_arn,
                )


def _lookup_in(mappings: dict[str, Any], uuid: str) -> Callable[[], Any]:
    return lambda: mappings.get(uuid)

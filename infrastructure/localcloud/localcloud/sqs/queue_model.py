"""An SQS queue whose cost per operation does not grow with its depth.

moto's `Queue` keeps every message in one list and answers each call by
scanning it: the queue attributes (asked for on every send) count visible,
in-flight and delayed messages one by one, and a receive walks the list from
the start. With thousands of messages queued each call costs milliseconds.

`FastQueue` is a subclass with the same public face (moto's backend, its
responses and CloudFormation keep working unchanged) and different insides:

- every message is an `Entry` in one of three states, and a counter per
  state answers the `ApproximateNumberOf...` attributes at once;
- visible messages wait in a heap ordered by arrival (moto's order: oldest
  first), delayed and in-flight ones in one heap ordered by the time they
  become visible; entries are moved lazily when a call looks at the queue;
- receipt handles are keys of a dict, so deletes and visibility changes do
  not search;
- FIFO queues keep one heap per message group and a heap of the groups that
  may deliver (no message of theirs in flight), like SQS's group locking;
- long polls wait on a condition variable, woken by sends and by the next
  due time, never in a busy loop.

Where it copies moto rather than AWS: `ChangeMessageVisibility` on a message
that is visible again makes it in flight (AWS answers `MessageNotInflight`);
a receive with visibility timeout 0 leaves the message visible. Where it
copies AWS rather than moto: FIFO deduplication remembers every deduplication
id for five minutes, even once its message was deleted; messages past the
retention period are dropped when a receive meets them.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import threading
import time
from collections import deque
from heapq import heapify, heappop, heappush
from typing import Any

from moto.core.utils import camelcase_to_underscores
from moto.sqs import models as sqs_models
from moto.sqs.exceptions import InvalidParameterValue, ReceiptHandleIsInvalid

from localcloud.sqs.ready import (
    DELAYED,
    GONE,
    INFLIGHT,
    VISIBLE,
    Entry,
    FifoReady,
    StandardReady,
)

StockQueue: Any = sqs_models.Queue  # moto's own class, captured before any patch
Message: Any = sqs_models.Message

_DEDUPLICATION_WINDOW_MS = 300_000  # SQS FIFO: five minutes
_MAX_VISIBILITY_SPAN_MS = 43_200_000  # 12 hours from the first send
_DELETED_HANDLES_KEPT = 250_000  # a second delete of these succeeds, like SQS
_STALE_TIMERS_BEFORE_COMPACTION = 4096
_ATTRIBUTE_FIELDS: dict[str, str] = {}  # CamelCase attribute -> moto's field


def now_ms() -> float:
    return time.time() * 1000.0


def new_receipt_handle() -> str:
    """An opaque, unguessable handle (moto builds 185 random letters one by one,
    which costs more than the rest of a receive). It starts with letters, like
    SQS's: a handle starting with "-" reads as an option to the AWS CLI."""
    return "AQEB" + base64.urlsafe_b64encode(os.urandom(48)).decode("ascii")


class FastQueue(StockQueue):  # type: ignore[misc]
    """moto's `Queue` with per-operation cost independent of depth."""

    def __init__(self, name: str, region: str, account_id: str, **kwargs: Any):
        # Set up before moto's constructor, which assigns `_messages`.
        self._cond = threading.Condition(threading.RLock())
        self._entries: dict[int, Entry] = {}
        self._handles: dict[str, Entry] = {}
        self._deleted: set[str] = set()
        self._deleted_order: deque[str] = deque()
        self._timers: list[tuple[float, int, int, Entry]] = []
        self._stale_timers = 0
        self._counter = itertools.count()
        self._counts = [0, 0, 0]  # delayed, visible, in flight
        self._dedup: dict[str, float] = {}
        self._dedup_order: deque[tuple[float, str]] = deque()
        self._ready: StandardReady | FifoReady = StandardReady()
        super().__init__(name, region, account_id, **kwargs)
        if self.fifo_queue:
            self._ready = FifoReady()

    # moto's list of messages: kept for code that reads it, built on demand.
    @property
    def _messages(self) -> list[Any]:
        with self._cond:
            return [entry.message for entry in self._entries.values()]

    @_messages.setter
    def _messages(self, value: list[Any]) -> None:
        if value:
            raise ValueError("FastQueue only accepts an empty message list (purge)")
        self.purge()

    @property
    def messages(self) -> list[Any]:
        """Visible messages, oldest first (O(depth): not for hot paths)."""
        with self._cond:
            self._advance(now_ms())
            return [
                entry.message
                for entry in self._entries.values()
                if entry.state == VISIBLE
            ]

    @property
    def approximate_number_of_messages_delayed(self) -> int:
        return self._count(DELAYED)

    @property
    def approximate_number_of_messages_not_visible(self) -> int:
        return self._count(INFLIGHT)

    @property
    def approximate_number_of_messages(self) -> int:
        return self._count(VISIBLE)

    @property
    def attributes(self) -> dict[str, Any]:
        """moto's attribute document, without converting every name from
        CamelCase on each call (that conversion was 15% of a SendMessage)."""
        names = list(self.BASE_ATTRIBUTES)
        if self.fifo_queue:
            names.extend(self.FIFO_ATTRIBUTES)
        if self.kms_master_key_id:
            names.extend(self.KMS_ATTRIBUTES)
        result: dict[str, Any] = {}
        for name in names:
            attribute = _ATTRIBUTE_FIELDS.get(name)
            if attribute is None:
                attribute = _ATTRIBUTE_FIELDS[name] = camelcase_to_underscores(name)
            result[name] = getattr(self, attribute)
        if self.policy:
            result["Policy"] = self.policy
        if self.redrive_policy:
            result["RedrivePolicy"] = json.dumps(self.redrive_policy)
        for key, value in result.items():
            if isinstance(value, bool):
                result[key] = str(value).lower()
        return result

    def _count(self, state: int) -> int:
        with self._cond:
            self._advance(now_ms())
            return self._counts[state]

    def add_message(self, message: Any) -> None:
        """Enqueue a sent message. Unlike moto's, never invokes a Lambda function
        directly: event source mappings are served by the local cloud's poller."""
        now = now_ms()
        with self._cond:
            if (
                self.fifo_queue
                and message.deduplication_id
                and self._is_duplicate(message.deduplication_id, now)
            ):
                return
            entry = Entry(
                message,
                next(self._counter),
                group=message.group_id if self.fifo_queue else None,
            )
            self._entries[entry.seq] = entry
            delayed_until = float(message.delayed_until or 0)
            if delayed_until > now:
                entry.state = DELAYED
                self._counts[DELAYED] += 1
                self._push_timer(delayed_until, entry)
            else:
                self._counts[VISIBLE] += 1
                self._ready.push(entry)
                self._cond.notify_all()

    def _is_duplicate(self, deduplication_id: str, now: float) -> bool:
        order = self._dedup_order
        while order and order[0][0] + _DEDUPLICATION_WINDOW_MS <= now:
            sent, old_id = order.popleft()
            if self._dedup.get(old_id) == sent:
                del self._dedup[old_id]
        if deduplication_id in self._dedup:
            return True
        self._dedup[deduplication_id] = now
        order.append((now, deduplication_id))
        return False

    def receive_messages(
        self,
        max_count: int,
        visibility_timeout: int,
        wait_seconds: float = 0.0,
        attribute_names: list[str] | None = None,
    ) -> list[Any]:
        """Up to `max_count` messages (no API limit of 10 here: the event source
        poller asks for whole batches), waiting up to `wait_seconds` for the
        first one. Returns copies carrying this receive's handle and count.
        `attribute_names` filters message attributes like MessageAttributeNames;
        None keeps them all."""
        deadline = time.monotonic() + wait_seconds
        while True:
            to_dlq: list[Any] = []
            with self._cond:
                result = self._receive_now(
                    max_count, visibility_timeout, attribute_names, to_dlq
                )
                while not result and not to_dlq:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(min(remaining, self._seconds_to_next_timer()))
                    result = self._receive_now(
                        max_count, visibility_timeout, attribute_names, to_dlq
                    )
            self._send_to_dead_letter_queue(to_dlq)
            if result or time.monotonic() >= deadline:
                return result

    def _receive_now(
        self,
        max_count: int,
        visibility_timeout: int,
        attribute_names: list[str] | None,
        to_dlq: list[Any],
    ) -> list[Any]:
        now = now_ms()
        self._advance(now)
        retention_ms = int(self.message_retention_period) * 1000
        max_receives = None
        if self.dead_letter_queue is not None and self.redrive_policy:
            max_receives = int(self.redrive_policy["maxReceiveCount"])
        ready = self._ready
        ready.begin()
        out: list[Any] = []
        again: list[Entry] = []
        while len(out) < max_count:
            entry = ready.pop()
            if entry is None:
                break
            message = entry.message
            if message.sent_timestamp + retention_ms <= now:
                self._forget(entry)
                continue
            if (
                max_receives is not None
                and message.approximate_receive_count >= max_receives
            ):
                self._forget(entry)
                to_dlq.append(message)
                continue
            self._mark_received(entry, visibility_timeout, now, again)
            out.append(_snapshot(message, attribute_names))
        for entry in again:
            ready.push(entry)
        return out

    def _mark_received(
        self, entry: Entry, visibility_timeout: int, now: float, again: list[Entry]
    ) -> None:
        message = entry.message
        message.approximate_receive_count += 1
        if not message.approximate_first_receive_timestamp:
            message.approximate_first_receive_timestamp = int(now)
        handle = new_receipt_handle()
        entry.handles.append(handle)
        self._handles[handle] = entry
        message.receipt_handle = handle
        entry.token += 1
        if visibility_timeout > 0:
            entry.state = INFLIGHT
            self._counts[VISIBLE] -= 1
            self._counts[INFLIGHT] += 1
            message.visible_at = now + visibility_timeout * 1000
            self._push_timer(message.visible_at, entry)
            self._ready.on_inflight(entry)
        else:
            again.append(entry)  # moto: a zero timeout leaves it visible

    def _send_to_dead_letter_queue(self, messages: list[Any]) -> None:
        # Outside our lock: the dead-letter queue takes its own.
        dlq = self.dead_letter_queue
        for message in messages:
            if dlq is not None:
                dlq.add_message(message)

    def delete_message(self, receipt_handle: str) -> None:
        with self._cond:
            if receipt_handle in self._deleted:
                return  # deleting twice succeeds, like SQS and moto
            entry = self._handles.get(receipt_handle)
            if entry is None:
                raise ReceiptHandleIsInvalid()
            self._forget(entry)
            for handle in entry.handles:
                self._remember_deleted(handle)

    def delete_messages(self, receipt_handles: list[str]) -> int:
        """Deletes what it can; returns how many handles were valid."""
        deleted = 0
        with self._cond:
            for handle in receipt_handles:
                try:
                    self.delete_message(handle)
                    deleted += 1
                except ReceiptHandleIsInvalid:
                    continue
        return deleted

    def _remember_deleted(self, handle: str) -> None:
        self._deleted.add(handle)
        self._deleted_order.append(handle)
        if len(self._deleted_order) > _DELETED_HANDLES_KEPT:
            self._deleted.discard(self._deleted_order.popleft())

    def change_visibility(self, receipt_handle: str, visibility_timeout: int) -> None:
        with self._cond:
            entry = self._handles.get(receipt_handle)
            if entry is None:
                raise ReceiptHandleIsInvalid()
            now = now_ms()
            message = entry.message
            if now + visibility_timeout * 1000 - message.sent_timestamp > (
                _MAX_VISIBILITY_SPAN_MS
            ):
                raise InvalidParameterValue(
                    f"Value {visibility_timeout} for parameter VisibilityTimeout is "
                    "invalid. Reason: Total VisibilityTimeout for the message is "
                    "beyond the limit [43200 seconds]"
                )
            self._advance(now)
            self._leave_state(entry)
            if visibility_timeout > 0:
                entry.state = INFLIGHT
                self._counts[INFLIGHT] += 1
                message.visible_at = now + visibility_timeout * 1000
                self._push_timer(message.visible_at, entry)
                self._ready.on_inflight(entry)
            else:
                entry.state = VISIBLE
                self._counts[VISIBLE] += 1
                message.visible_at = now
                self._ready.push(entry)
                self._cond.notify_all()

    def purge(self) -> None:
        with self._cond:
            for entry in self._entries.values():
                entry.state = GONE
                entry.token += 1
            self._entries.clear()
            self._handles.clear()
            self._timers.clear()
            self._stale_timers = 0
            self._counts = [0, 0, 0]
            self._ready.clear()

    def wait_for_messages(self, timeout: int) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._count(VISIBLE) > 0, timeout=timeout)

    def depth(self) -> dict[str, int]:
        """The three counters in one consistent read."""
        with self._cond:
            self._advance(now_ms())
            delayed, visible, inflight = self._counts
        return {"visible": visible, "in_flight": inflight, "delayed": delayed}

    # -- bookkeeping ---------------------------------------------------------

    def _leave_state(self, entry: Entry) -> None:
        """Take an entry out of its current state's counter and structures."""
        if entry.state in (DELAYED, INFLIGHT):
            self._stale_timers += 1  # its timer is now out of date
        if entry.state != GONE:
            self._counts[entry.state] -= 1
        if entry.state == INFLIGHT:
            self._ready.on_released(entry)
        entry.token += 1

    def _forget(self, entry: Entry) -> None:
        self._leave_state(entry)
        entry.state = GONE
        self._entries.pop(entry.seq, None)
        for handle in entry.handles:
            self._handles.pop(handle, None)
        self._compact_timers()

    def _push_timer(self, due: float, entry: Entry) -> None:
        item = (due, next(self._counter), entry.token, entry)
        heappush(self._timers, item)
        if self._timers[0] is item:
            self._cond.notify_all()  # a long poll may now end earlier

    def _advance(self, now: float) -> None:
        """Make visible what became visible by now (delays and timeouts over)."""
        timers = self._timers
        while timers and timers[0][0] <= now:
            _, _, token, entry = heappop(timers)
            if entry.token != token:
                self._stale_timers -= 1
                continue
            self._counts[entry.state] -= 1
            if entry.state == INFLIGHT:
                self._ready.on_released(entry)
            entry.state = VISIBLE
            entry.token += 1
            self._counts[VISIBLE] += 1
            self._ready.push(entry)

    def _compact_timers(self) -> None:
        stale = self._stale_timers
        if stale < _STALE_TIMERS_BEFORE_COMPACTION or stale * 2 < len(self._timers):
            return
        self._timers = [item for item in self._timers if item[3].token == item[2]]
        heapify(self._timers)
        self._stale_timers = 0

    def _seconds_to_next_timer(self) -> float:
        if not self._timers:
            return 3600.0
        return max(0.001, (self._timers[0][0] - now_ms()) / 1000.0)


def _snapshot(message: Any, attribute_names: list[str] | None) -> Any:
    """A copy as the receiver saw it, with only the asked-for attributes
    (moto deep-copies; a shallow copy with a new attribute dict is enough,
    since nothing mutates a message's values after it was sent)."""
    received = message.__class__.__new__(message.__class__)
    received.__dict__.update(message.__dict__)  # copy.copy, without its overhead
    if attribute_names is None:
        return received
    wanted = set(attribute_names)
    everything = "All" in wanted
    prefixes = tuple(name[:-2] for name in attribute_names if name.endswith(".*"))
    received.message_attributes = {
        key: value
        for key, value in message.message_attributes.items()
        if everything or key in wanted or (prefixes and key.startswith(prefixes))
    }
    return received

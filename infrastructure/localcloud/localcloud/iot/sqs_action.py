"""The `sqs` rule action, sending into the local cloud's SQS in batches.

AWS's SQS action sends one SendMessage per matched message. Here the engine
is in the same process as the SQS backend, so messages go straight into it
through the backend's API (no HTTP, no signing), ten per SendMessageBatch
call, flushed once per batch of MQTT messages the engine takes from the
broker. Whichever queue model is installed behind `sqs_backends` is used.

The queue's account and region come from its URL when the URL names them
(`https://sqs.eu-west-1.amazonaws.com/111122223333/q`, a local cloud URL
`http://localhost:4566/000000000000/q`), otherwise from the rule.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from localcloud.iot.actions import ActionRun
from localcloud.iot.message import Message

logger = logging.getLogger(__name__)

BATCH_LIMIT = 10  # SendMessageBatch takes at most ten entries
_REGION_IN_HOST = re.compile(
    r"(?:^|\.)(?:sqs\.)?([a-z]{2}(?:-gov|-iso[a-z]*)?-[a-z]+-\d)\."
)
_ACCOUNT = re.compile(r"^\d{12}$")


@dataclass(frozen=True, slots=True)
class QueueRef:
    account_id: str
    region: str
    name: str
    url: str


def queue_from_url(url: str, account_id: str, region: str) -> QueueRef:
    parts = urlsplit(url)
    path = [segment for segment in parts.path.split("/") if segment]
    name = path[-1] if path else url
    if len(path) >= 2 and _ACCOUNT.match(path[-2]):
        account_id = path[-2]
    found = _REGION_IN_HOST.search(parts.hostname or "")
    if found:
        region = found.group(1)
    return QueueRef(account_id, region, name, url)


class SqsBackend(Protocol):
    def send_message_batch(
        self, queue_name: str, entries: dict[str, dict[str, Any]]
    ) -> tuple[list[Any], list[dict[str, Any]]]: ...


def moto_sqs_backend(account_id: str, region: str) -> SqsBackend:
    from moto.sqs.models import sqs_backends

    backend: SqsBackend = sqs_backends[account_id][region]
    return backend


class _Pending:
    """One message waiting for the next flush, and whom to tell if it fails."""

    __slots__ = ("action", "body", "run")

    def __init__(self, body: str, run: ActionRun, action: SqsAction) -> None:
        self.body = body
        self.run = run
        self.action = action

    def fail(self, error: str) -> None:
        self.run.fail(self.action, error)


class SqsSender:
    """Collects messages per queue and sends them ten at a time on `flush()`.

    Used from the engine's worker thread only, so it needs no lock.
    """

    def __init__(
        self,
        backend_for: Callable[[str, str], SqsBackend] = moto_sqs_backend,
    ) -> None:
        self._backend_for = backend_for
        self._pending: dict[QueueRef, list[_Pending]] = {}
        self.sent = 0

    def add(
        self, queue: QueueRef, body: str, run: ActionRun, action: SqsAction
    ) -> None:
        entries = self._pending.get(queue)
        if entries is None:
            entries = self._pending[queue] = []
        entries.append(_Pending(body, run, action))

    def flush(self) -> None:
        pending, self._pending = self._pending, {}
        for queue, entries in pending.items():
            try:
                backend = self._backend_for(queue.account_id, queue.region)
            except Exception as error:  # an account or region moto refuses
                self._fail_all(entries, queue, error)
                continue
            for start in range(0, len(entries), BATCH_LIMIT):
                self._send(backend, queue, entries[start : start + BATCH_LIMIT])

    def _send(
        self,
        backend: SqsBackend,
        queue: QueueRef,
        chunk: list[_Pending],
    ) -> None:
        batch: dict[str, dict[str, Any]] = {
            str(index): {
                "Id": str(index),
                "MessageBody": pending.body,
                "MessageAttributes": {},
                "DelaySeconds": None,
            }
            for index, pending in enumerate(chunk)
        }
        try:
            _, failed = backend.send_message_batch(queue.name, batch)
        except Exception as error:  # the SQS model is another package's code
            self._fail_all(chunk, queue, error)
            return
        for entry in failed:
            chunk[int(entry["Id"])].fail(
                f"Failed to send message to SQS queue {queue.url}. The error "
                f"received was {entry.get('Code')}: {entry.get('Message')}"
            )
        self.sent += len(chunk) - len(failed)

    @staticmethod
    def _fail_all(entries: list[_Pending], queue: QueueRef, error: Exception) -> None:
        code = getattr(error, "code", None) or getattr(error, "error_type", None)
        text = getattr(error, "message", None) or str(error)
        reason = f"{code}: {text}" if code else text
        for pending in entries:
            pending.fail(
                f"Failed to send message to SQS queue {queue.url}. "
                f"The error received was {reason}"
            )

    def build(self, spec: dict[str, Any], rule_name: str, region: str) -> SqsAction:
        """The `sqs` action of a rule (the `SqsSink` of the action factory)."""
        return SqsAction(spec, self, region)


class SqsAction:
    kind = "sqs"
    failed_action = "SqsAction"

    def __init__(self, spec: dict[str, Any], sender: SqsSender, region: str) -> None:
        self.resource = str(spec.get("queueUrl", ""))
        self._use_base64 = bool(spec.get("useBase64", False))
        self._sender = sender
        self._region = region
        self._queues: dict[str, QueueRef] = {}

    def submit(self, message: Message, payload: bytes, run: ActionRun) -> None:
        queue = self._queues.get(message.account_id)
        if queue is None:
            queue = queue_from_url(self.resource, message.account_id, self._region)
            self._queues[message.account_id] = queue
        if queue.name.endswith(".fifo"):
            run.fail(self, f"The SQS action does not support FIFO queues: {queue.url}")
            return
        if self._use_base64:
            body = base64.b64encode(payload).decode("ascii")
        else:
            try:
                body = payload.decode()
            except UnicodeDecodeError:
                run.fail(
                    self,
                    f"Failed to send message to SQS queue {queue.url}: the payload "
                    f"is not UTF-8 text; set useBase64 to true in the sqs action",
                )
                return
        self._sender.add(queue, body, run, self)

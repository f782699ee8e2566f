"""The SQS event a mapped function receives, and what its answer means.

`sqs_event` builds the `Records` document exactly as Lambda's SQS poller
sends it (field names, string-typed attributes, lower-camel message
attributes with base64 binary values, FIFO-only attributes only on FIFO
queues). `partial_failures` reads a `ReportBatchItemFailures` response with
AWS's rules: an empty or null answer is a full success; anything it cannot
trust (not JSON, an empty, null or unknown `itemIdentifier`, a malformed
entry) fails the whole batch.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

PAYLOAD_LIMIT = 6 * 1024 * 1024  # synchronous Invoke's request limit
RECORD_OVERHEAD = 900  # bytes of a record besides its body and attributes


def _attribute(value: dict[str, Any]) -> dict[str, Any]:
    shaped: dict[str, Any] = {}
    string_value = value.get("StringValue")
    if string_value is not None:
        shaped["stringValue"] = string_value
    binary_value = value.get("BinaryValue")
    if binary_value is not None:
        if isinstance(binary_value, bytes | bytearray):
            binary_value = base64.b64encode(binary_value).decode("ascii")
        shaped["binaryValue"] = binary_value
    shaped["stringListValues"] = list(value.get("StringListValues") or [])
    shaped["binaryListValues"] = [
        base64.b64encode(item).decode("ascii") if isinstance(item, bytes) else item
        for item in value.get("BinaryListValues") or []
    ]
    shaped["dataType"] = value.get("DataType", "String")
    return shaped


def sqs_record(
    message: Any, queue_arn: str, region: str, *, fifo: bool = False
) -> dict[str, Any]:
    """One record of the event, from a received moto `Message` copy."""
    attributes: dict[str, str] = {
        "ApproximateReceiveCount": str(message.approximate_receive_count),
        "SentTimestamp": str(message.sent_timestamp),
        "SenderId": str(message.sender_id),
        "ApproximateFirstReceiveTimestamp": str(
            message.approximate_first_receive_timestamp
        ),
    }
    trace = (message.system_attributes or {}).get("AWSTraceHeader")
    if trace:
        attributes["AWSTraceHeader"] = str(trace.get("StringValue", ""))
    if fifo:
        attributes["SequenceNumber"] = str(message.sequence_number or "")
        attributes["MessageGroupId"] = str(message.group_id or "")
        if message.deduplication_id:
            attributes["MessageDeduplicationId"] = str(message.deduplication_id)
    record: dict[str, Any] = {
        "messageId": message.id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": attributes,
        "messageAttributes": {
            name: _attribute(value)
            for name, value in message.message_attributes.items()
        },
        "md5OfBody": hashlib.md5(
            message.body.encode("utf-8"), usedforsecurity=False
        ).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if message.message_attributes:
        record["md5OfMessageAttributes"] = message.attribute_md5
    return record


def record_size(message: Any) -> int:
    """An upper estimate of a record's JSON size, to keep events under 6 MB."""
    size = RECORD_OVERHEAD + len(message.body) * 2
    for name, value in message.message_attributes.items():
        size += 120 + len(name) + len(str(value)) * 2
    return size


def sqs_event(records: list[dict[str, Any]]) -> bytes:
    return json.dumps({"Records": records}, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """Which messages of a batch to delete, and why the rest stay."""

    succeeded: frozenset[str]  # message ids to delete
    failed: frozenset[str]  # message ids left for a retry
    problem: str | None = None  # AWS-style reason when something failed


def partial_failures(payload: bytes, message_ids: list[str]) -> BatchOutcome:
    """Reads a function's answer under `ReportBatchItemFailures`."""
    everything = frozenset(message_ids)
    whole_batch_failed = BatchOutcome(
        frozenset(), everything, "Function response invalid for batch item failures"
    )
    text = payload.strip()
    if not text or text == b"null":
        return BatchOutcome(everything, frozenset())
    try:
        answer = json.loads(text)
    except ValueError:
        return whole_batch_failed
    if answer is None or answer == {}:
        return BatchOutcome(everything, frozenset())
    if not isinstance(answer, dict):
        return whole_batch_failed
    items = answer.get("batchItemFailures")
    if items is None or items == []:
        return BatchOutcome(everything, frozenset())
    if not isinstance(items, list):
        return whole_batch_failed
    failed: set[str] = set()
    for item in items:
        if not isinstance(item, dict):
            return whole_batch_failed
        identifier = item.get("itemIdentifier")
        if not isinstance(identifier, str) or identifier not in everything:
            return whole_batch_failed
        failed.add(identifier)
    return BatchOutcome(
        everything - failed, frozenset(failed), "Function reported failed items"
    )

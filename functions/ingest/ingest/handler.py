"""The ingestion function: telemetry from the IoT rule into PostgreSQL.

Two event shapes arrive here:

* an SQS batch (the template's TelemetryQueue event source, with
  ReportBatchItemFailures): each record body is one telemetry message;
* one telemetry message, when the IoT rule invokes the function directly.

For a batch, Powertools' batch processor validates record by record with the
parser and the `orchestralink.telemetry` models, so a malformed record is
reported in `batchItemFailures` (SQS retries it, then parks it in the DLQ) with
its reason logged, and never fails its neighbours. The valid readings of the
whole batch are then written in one transaction (`ingest.store`): bulk for
throughput, all or nothing so a database failure loses nothing. If the
connection fails, every record is reported failed and SQS delivers them again;
if the database refuses the data itself, each message is retried on its own so
only the one to blame fails. Alert events are published after the commit
(`ingest.publisher`); a failed publish is logged and counted, never retried
through SQS, since the data it reports is already stored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import psycopg
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from ingest.publisher import AlertPublisher
from ingest.store import ReadingStore, WriteResult
from orchestralink import db
from orchestralink.catalog import load_catalog
from orchestralink.telemetry import (
    InvalidTelemetryError,
    Reading,
    TelemetryMessage,
    check_payload_size,
    default_rules,
    describe_validation_error,
    use_rules,
)

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "ingest")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "OrchestraLink")
_BODY_PREVIEW = 200

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
tracer = Tracer(service=SERVICE)

# Module level: kept across warm invocations.
processor = BatchProcessor(
    event_type=EventType.SQS, raise_on_entire_batch_failure=False
)
publisher = AlertPublisher()
default_rules()  # a bad limit in the environment fails the cold start, loudly


class IngestError(Exception):
    """Readings could not be stored; `connection_lost` says whether retrying
    message by message on the same connection could help."""

    def __init__(self, message: str, connection_lost: bool) -> None:
        super().__init__(message)
        self.connection_lost = connection_lost


@dataclass
class _Batch:
    """Valid readings of one invocation, by the SQS message that carried them."""

    messages: list[tuple[str, list[Reading]]] = field(default_factory=list)

    @property
    def readings(self) -> list[Reading]:
        return [reading for _, readings in self.messages for reading in readings]


def validate(body: str | dict[str, Any]) -> list[Reading]:
    """One message body to readings; raises InvalidTelemetryError naming fields."""
    if isinstance(body, str):
        check_payload_size(body)
    try:
        message = parse(event=body, model=TelemetryMessage)  # type: ignore[arg-type]
    except ValidationError as error:
        raise InvalidTelemetryError(describe_validation_error(error)) from error
    return message.root.to_readings()


@tracer.capture_method(capture_response=False)
def store(readings: list[Reading]) -> WriteResult:
    """Write in one transaction, then publish alert events.

    Raises IngestError. A lost or unusable connection is also reset, so the
    next invocation connects afresh.
    """
    writer = ReadingStore(load_catalog())
    try:
        result = writer.write(db.get_connection(), readings)
    except (psycopg.Error, db.DatabaseError) as error:
        connection_lost = not isinstance(error, psycopg.Error) or isinstance(
            error, psycopg.OperationalError | psycopg.InterfaceError
        )
        if connection_lost:
            db.reset_connection()
        metrics.add_metric(name="BatchWriteFailures", unit=MetricUnit.Count, value=1)
        raise IngestError(
            f"cannot store {len(readings)} readings: {error}", connection_lost
        ) from error

    metrics.add_metric(
        name="ReadingsStored", unit=MetricUnit.Count, value=result.stored
    )
    metrics.add_metric(
        name="ReadingsDuplicate", unit=MetricUnit.Count, value=result.duplicates
    )
    _publish(result)
    return result


def _store_batch(batch: _Batch) -> list[str]:
    """Store the batch; return the message ids that must go back to the queue.

    The bulk write is all or nothing. When the database refuses the data itself
    (a constraint, a value out of range) rather than the connection, one record
    is likely to blame: each message is then written on its own so that only
    the guilty one fails (and, after its retries, reaches the DLQ).
    """
    try:
        store(batch.readings)
    except IngestError as error:
        logger.exception(
            "batch not stored",
            extra={"messages": len(batch.messages), "reason": str(error)},
        )
        if error.connection_lost:
            return [message_id for message_id, _ in batch.messages]
    else:
        return []

    failed = []
    for index, (message_id, readings) in enumerate(batch.messages):
        try:
            store(readings)
        except IngestError as error:
            logger.warning(
                "telemetry record not stored",
                extra={"message_id": message_id, "reason": str(error)},
            )
            failed.append(message_id)
            if error.connection_lost:  # nothing after this can succeed now
                failed.extend(m for m, _ in batch.messages[index + 1 :])
                break
    return failed


def _publish(result: WriteResult) -> None:
    for action in ("opened", "escalated", "cleared"):
        count = sum(1 for event in result.alerts if event.event == action)
        if count:
            name = f"Alerts{action.capitalize()}"
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=count)
    for event in result.alerts:
        logger.info(
            f"alert {event.event}",
            extra={"alert": event.to_json_dict(), "topic": event.topic},
        )
    published = publisher.publish(result.alerts)
    for event, error in published.failures:
        logger.warning(
            "cannot publish alert event; the alert is stored",
            extra={"topic": event.topic, "alert_id": event.alert_id, "error": error},
        )
    if published.failures:
        metrics.add_metric(
            name="AlertPublishFailures",
            unit=MetricUnit.Count,
            value=len(published.failures),
        )


def _handle_sqs(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    batch = _Batch()

    def record_handler(record: SQSRecord) -> None:
        try:
            readings = validate(record.body)
        except InvalidTelemetryError as error:
            metrics.add_metric(name="RecordsRejected", unit=MetricUnit.Count, value=1)
            logger.warning(
                "telemetry record rejected",
                extra={
                    "message_id": record.message_id,
                    "reason": error.reason,
                    "body_preview": record.body[:_BODY_PREVIEW],
                },
            )
            raise
        batch.messages.append((record.message_id, readings))

    records = event["Records"]
    metrics.add_metric(
        name="RecordsReceived", unit=MetricUnit.Count, value=len(records)
    )
    with use_rules(default_rules()), processor(records, record_handler, context):
        processor.process()
    response: PartialItemFailureResponse = processor.response()

    if batch.messages:
        response["batchItemFailures"].extend(
            {"itemIdentifier": message_id} for message_id in _store_batch(batch)
        )

    logger.info(
        "batch ingested",
        extra={
            "records": len(records),
            "failed": len(response["batchItemFailures"]),
            "valid": len(batch.messages),
        },
    )
    return dict(response)


def _handle_direct(event: dict[str, Any]) -> dict[str, Any]:
    """One message from the IoT rule's Lambda action; errors are raised."""
    metrics.add_metric(name="RecordsReceived", unit=MetricUnit.Count, value=1)
    try:
        with use_rules(default_rules()):
            readings = validate(event)
    except InvalidTelemetryError as error:
        metrics.add_metric(name="RecordsRejected", unit=MetricUnit.Count, value=1)
        logger.warning("telemetry message rejected", extra={"reason": error.reason})
        raise
    result = store(readings)
    return {"stored": result.stored, "duplicates": result.duplicates}


def _is_sqs_batch(event: Any) -> bool:
    # A telemetry message never has "Records"; an SQS event always has.
    return isinstance(event, dict) and isinstance(event.get("Records"), list)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if _is_sqs_batch(event):
        return _handle_sqs(event, context)
    return _handle_direct(event)

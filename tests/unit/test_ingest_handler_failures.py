"""The ingestion function's failure paths that need no database: malformed
records are reported one by one, and a database that cannot be reached fails
every record (so SQS delivers them again) with a log line saying why."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from ingest import handler
from ingest.publisher import AlertPublisher
from orchestralink import db
from orchestralink.telemetry import InvalidTelemetryError

pytestmark = pytest.mark.unit


@dataclass
class LambdaContext:
    function_name: str = "orchestralink-ingest"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:orchestralink-ingest"
    )
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))


def message(**changes: Any) -> dict[str, Any]:
    body = {
        "machine_id": "drill-001",
        "machine_type": "Drilling",
        "parameter": "Temperature",
        "value": 812.4,
        "timestamp": datetime.now(UTC).isoformat(),
        "received_at": 1796327881600,
    }
    body.update(changes)
    return body


def sqs_record(body: str | dict[str, Any]) -> dict[str, Any]:
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "handle",
        "body": body if isinstance(body, str) else json.dumps(body),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:telemetry",
        "awsRegion": "us-east-1",
    }


@pytest.fixture(autouse=True)
def no_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("DB_SECRET_ARN", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    db.reset_connection()
    with mock_aws():
        monkeypatch.setattr(handler, "publisher", AlertPublisher())
        yield
    db.reset_connection()


@pytest.fixture
def log_records() -> Iterator[list[logging.LogRecord]]:
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    collector = Collect()
    function_logger = logging.getLogger(handler.logger.name)
    function_logger.addHandler(collector)
    yield records
    function_logger.removeHandler(collector)


def invoke(event: Any) -> dict[str, Any]:
    result: dict[str, Any] = handler.lambda_handler(event, LambdaContext())
    return result


def failed_ids(response: dict[str, Any]) -> list[str]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


def test_a_batch_of_only_bad_records_reports_each_and_touches_no_database(
    log_records: list[logging.LogRecord],
) -> None:
    records = [
        sqs_record("{"),
        sqs_record(message(value="hot")),
        sqs_record("x" * 140_000),
    ]

    response = invoke({"Records": records})

    assert failed_ids(response) == [r["messageId"] for r in records]
    reasons = [
        r.reason  # type: ignore[attr-defined]
        for r in log_records
        if r.getMessage() == "telemetry record rejected"
    ]
    assert reasons[0].startswith("(message): Invalid JSON")
    assert reasons[1] == "value: Input should be a valid number (got 'hot')"
    assert reasons[2].startswith("(message): payload is 140000 bytes, more than")
    assert not any(r.getMessage().startswith("batch not stored") for r in log_records)


def test_without_a_database_every_valid_record_fails_and_the_log_says_why(
    log_records: list[logging.LogRecord],
) -> None:
    records = [sqs_record(message()), sqs_record(message(value=700.0)), sqs_record("{")]

    response = invoke({"Records": records})

    assert sorted(failed_ids(response)) == sorted(r["messageId"] for r in records)
    [failure] = [r for r in log_records if r.getMessage() == "batch not stored"]
    assert failure.exc_info is not None
    assert "set DB_SECRET_ARN to the ARN of the database secret" in str(
        failure.exc_info[1]
    )


def test_a_missing_secret_fails_the_batch_naming_the_secret(
    monkeypatch: pytest.MonkeyPatch, log_records: list[logging.LogRecord]
) -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:orchestralink-db-AbCdEf"
    monkeypatch.setenv("DB_SECRET_ARN", arn)
    record = sqs_record(message())

    response = invoke({"Records": [record]})

    assert failed_ids(response) == [record["messageId"]]
    [failure] = [r for r in log_records if r.exc_info is not None]
    assert f"cannot read the database secret {arn}" in str(failure.exc_info[1])  # type: ignore[index]


def test_an_existing_secret_for_an_unreachable_database_fails_the_batch(
    monkeypatch: pytest.MonkeyPatch, log_records: list[logging.LogRecord]
) -> None:
    secret = boto3.client("secretsmanager").create_secret(
        Name=f"db-{uuid.uuid4().hex}",
        SecretString=json.dumps(
            {"username": "u", "password": "p", "host": "127.0.0.1", "port": 9}
        ),
    )
    monkeypatch.setenv("DB_SECRET_ARN", secret["ARN"])
    record = sqs_record(message())

    response = invoke({"Records": [record]})

    assert failed_ids(response) == [record["messageId"]]
    [failure] = [r for r in log_records if r.exc_info is not None]
    assert "cannot connect to PostgreSQL at 127.0.0.1:9" in str(failure.exc_info[1])  # type: ignore[index]


def test_a_malformed_direct_invocation_raises_naming_the_field() -> None:
    with pytest.raises(InvalidTelemetryError) as caught:
        invoke(message(machine_type="Press"))

    assert caught.value.reason == (
        "machine_type: unknown machine type 'Press'; known machine types: "
        "Drilling, Milling, Lathe"
    )


def test_an_event_that_is_not_a_message_is_refused_as_such() -> None:
    with pytest.raises(InvalidTelemetryError, match=r"^\(message\): a telemetry"):
        invoke(["not", "a", "message"])

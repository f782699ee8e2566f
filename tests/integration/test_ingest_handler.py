"""The ingestion function end to end: SQS batch events and direct IoT-rule
invocations in, rows in a real PostgreSQL and alert events on iot-data out.

AWS APIs (Secrets Manager for the database credentials, iot-data for alert
events) are moto's; the database is real.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from moto import mock_aws
from moto.iotdata.models import iotdata_backends

from ingest import handler
from ingest.publisher import AlertPublisher
from orchestralink import db
from orchestralink.catalog import CATALOG_ENV, DEFAULT_CATALOG_PATH
from orchestralink.migrations import apply_migrations
from tests.fixtures.ports import free_port
from tests.fixtures.postgres import PostgresDatabase

pytestmark = pytest.mark.integration

REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"  # moto's account


@dataclass
class LambdaContext:
    function_name: str = "orchestralink-ingest"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = (
        f"arn:aws:lambda:{REGION}:{DEFAULT_ACCOUNT_ID}:function:orchestralink-ingest"
    )
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_stream_name: str = "2026/12/03/[$LATEST]0123456789abcdef"


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def message(
    value: Any = 812.4,
    parameter: str = "Temperature",
    machine_id: str = "drill-001",
    at: datetime | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """A per-reading message as the IoT rule emits it (with received_at)."""
    now = datetime.now(UTC)
    body = {
        "machine_id": machine_id,
        "machine_type": "Drilling",
        "parameter": parameter,
        "value": value,
        "unit": {"Temperature": "°C", "Torque": "N·m"}.get(parameter),
        "timestamp": iso(at or now),
        "sequence": 1,
        "received_at": int(now.timestamp() * 1000),
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def sqs_record(body: str | dict[str, Any]) -> dict[str, Any]:
    text = body if isinstance(body, str) else json.dumps(body)
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": uuid.uuid4().hex,
        "body": text,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": str(int(time.time() * 1000)),
            "SenderId": DEFAULT_ACCOUNT_ID,
            "ApproximateFirstReceiveTimestamp": str(int(time.time() * 1000)),
        },
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{DEFAULT_ACCOUNT_ID}:telemetry",
        "awsRegion": REGION,
    }


def sqs_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def failed_ids(response: dict[str, Any]) -> list[str]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("DB_SECRET_ARN", "DATABASE_URL", "IOT_DATA_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        # A client made inside this mock, not one left over from another test.
        monkeypatch.setattr(handler, "publisher", AlertPublisher())
        yield


@pytest.fixture
def database(
    postgres_db: PostgresDatabase, aws: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[PostgresDatabase]:
    """A migrated database whose credentials the function reads from a secret."""
    with psycopg.connect(postgres_db.dsn) as conn:
        apply_migrations(conn)
    secret = boto3.client("secretsmanager").create_secret(
        Name=f"orchestralink/db/{postgres_db.dbname}",
        SecretString=json.dumps(postgres_db.secret()),
    )
    monkeypatch.setenv("DB_SECRET_ARN", secret["ARN"])
    db.reset_connection()
    yield postgres_db
    db.reset_connection()


@pytest.fixture
def log_records() -> Iterator[list[logging.LogRecord]]:
    """What the function logs through its Powertools logger."""
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    collector = Collect()
    function_logger = logging.getLogger(handler.logger.name)
    function_logger.addHandler(collector)
    yield records
    function_logger.removeHandler(collector)


def published() -> list[tuple[str, dict[str, Any]]]:
    backend = iotdata_backends[DEFAULT_ACCOUNT_ID][REGION]
    return [
        (topic, json.loads(payload)) for topic, payload in backend.published_payloads
    ]


def rows(database: PostgresDatabase, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(database.dsn) as conn:
        return conn.execute(sql).fetchall()


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = handler.lambda_handler(event, LambdaContext())
    return result


def test_bad_records_are_reported_by_message_id_and_the_good_ones_stored(
    database: PostgresDatabase, log_records: list[logging.LogRecord]
) -> None:
    start = datetime.now(UTC) - timedelta(seconds=30)
    good = [
        sqs_record(message(800 + i, at=start + timedelta(seconds=i))) for i in range(3)
    ]
    bad = {
        "invalid JSON": sqs_record('{"machine_id": "drill-001", '),
        "NaN": sqs_record(
            json.dumps(message(float("nan"), at=start + timedelta(seconds=10)))
        ),
        "string value": sqs_record(message("812.4")),
        "unknown machine type": sqs_record(message(machine_type="Press")),
        "far future": sqs_record(message(at=datetime.now(UTC) + timedelta(days=2))),
    }
    records = [good[0], *bad.values(), good[1], good[2]]

    response = invoke(sqs_event(*records))

    assert sorted(failed_ids(response)) == sorted(r["messageId"] for r in bad.values())
    assert rows(database, "SELECT value FROM readings ORDER BY ts") == [
        (800.0,),
        (801.0,),
        (802.0,),
    ]
    reasons = {
        r.message_id: r.reason  # type: ignore[attr-defined]
        for r in log_records
        if r.getMessage() == "telemetry record rejected"
    }
    assert reasons.keys() == {r["messageId"] for r in bad.values()}
    assert reasons[bad["invalid JSON"]["messageId"]].startswith(
        "(message): Invalid JSON"
    )
    assert reasons[bad["NaN"]["messageId"]] == "value: Input should be a finite number"
    assert "got '812.4'" in reasons[bad["string value"]["messageId"]]
    assert (
        "unknown machine type 'Press'"
        in reasons[bad["unknown machine type"]["messageId"]]
    )
    assert "in the future" in reasons[bad["far future"]["messageId"]]


def test_metrics_count_received_rejected_stored_and_duplicate(
    database: PostgresDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    record = sqs_record(message())
    invoke(sqs_event(record, sqs_record("not json")))
    capsys.readouterr()

    invoke(sqs_event(record))

    emf = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if '"_aws"' in line
    ]
    assert len(emf) == 1
    metrics = emf[0]
    assert metrics["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "OrchestraLink"
    assert metrics["RecordsReceived"] == [1.0]
    assert metrics["ReadingsStored"] == [0.0]
    assert metrics["ReadingsDuplicate"] == [1.0]


def test_a_redelivered_batch_stores_nothing_twice_and_rollups_stay_right(
    database: PostgresDatabase,
) -> None:
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=2)
    event = sqs_event(
        *(
            sqs_record(message(700 + i, at=start + timedelta(seconds=i)))
            for i in range(5)
        )
    )
    assert failed_ids(invoke(event)) == []

    assert failed_ids(invoke(event)) == []

    assert rows(database, "SELECT count(*) FROM readings") == [(5,)]
    assert rows(
        database, "SELECT min_value, max_value, sum_value, count FROM rollups_minute"
    ) == [(700.0, 704.0, 3510.0, 5)]


def test_a_drill_at_1234_5_degrees_opens_a_critical_alert_and_publishes_it(
    database: PostgresDatabase,
) -> None:
    at = datetime.now(UTC).replace(microsecond=123000)

    invoke(sqs_event(sqs_record(message(1234.5, at=at))))

    assert rows(
        database,
        "SELECT machine_id, parameter, severity, value, threshold, cleared_at"
        " FROM alerts",
    ) == [("drill-001", "Temperature", "CRITICAL", 1234.5, 1000.0, None)]
    [(topic, event)] = published()
    assert topic == "alerts/drill-001"
    assert event == {
        "event": "opened",
        "alert_id": event["alert_id"],
        "machine_id": "drill-001",
        "machine_type": "Drilling",
        "parameter": "Temperature",
        "unit": "°C",
        "severity": "CRITICAL",
        "previous_severity": None,
        "value": 1234.5,
        "threshold": 1000.0,
        "timestamp": iso(at),
        "opened_at": iso(at),
        "cleared_at": None,
    }
    assert rows(database, "SELECT status FROM latest_readings") == [("CRITICAL",)]


def test_a_warning_escalates_to_critical_and_clears_on_return_to_normal(
    database: PostgresDatabase,
) -> None:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=10)

    for i, value in enumerate([950.0, 1100.0, 980.0, 800.0]):
        invoke(sqs_event(sqs_record(message(value, at=start + timedelta(seconds=i)))))

    events = [(t, e["event"], e["severity"], e["value"]) for t, e in published()]
    assert events == [
        ("alerts/drill-001", "opened", "WARNING", 950.0),
        ("alerts/drill-001", "escalated", "CRITICAL", 1100.0),
        ("alerts/drill-001", "cleared", "CRITICAL", 800.0),
    ]
    [(severity, value, threshold, cleared)] = rows(
        database, "SELECT severity, value, threshold, cleared_at FROM alerts"
    )
    assert (severity, value, threshold) == ("CRITICAL", 1100.0, 1000.0)
    assert cleared == start + timedelta(seconds=3)


def test_a_batch_message_stores_every_reading_it_carries(
    database: PostgresDatabase,
) -> None:
    body = {
        "machine_id": "mill-007",
        "machine_type": "Milling",
        "parameter": "telemetry",
        "timestamp": iso(datetime.now(UTC)),
        "sequence": 9,
        "readings": [
            {"parameter": "Temperature", "value": 300.0, "unit": "°C"},
            {"parameter": "SpindleSpeed", "value": 12000, "unit": "rpm"},
            {"parameter": "Torque", "value": 20.5},
            {"parameter": "FeedRate", "value": 1000.0},
            {"parameter": "CoolantFlow", "value": 2.0},
        ],
        "received_at": int(time.time() * 1000),
    }

    response = invoke(sqs_event(sqs_record(body)))

    assert failed_ids(response) == []
    assert rows(
        database, "SELECT parameter, value, sequence FROM readings ORDER BY 1"
    ) == [
        ("CoolantFlow", 2.0, 9),
        ("FeedRate", 1000.0, 9),
        ("SpindleSpeed", 12000.0, 9),
        ("Temperature", 300.0, 9),
        ("Torque", 20.5, 9),
    ]
    assert rows(database, "SELECT machine_type, last_sequence FROM machines") == [
        ("Milling", 9)
    ]
    assert [(t, e["parameter"], e["severity"]) for t, e in published()] == [
        ("alerts/mill-007", "CoolantFlow", "CRITICAL")
    ]


def test_a_vibration_level_added_to_the_catalog_is_stored_and_raises_alerts(
    database: PostgresDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog_file = tmp_path / "catalog.toml"
    catalog_file.write_text(
        DEFAULT_CATALOG_PATH.read_text(encoding="utf-8")
        + "\n[machine_types.Drilling.parameters.VibrationLevel]\n"
        'unit = "Hz"\nnormal_min = 20.0\nnormal_max = 120.0\n'
        "warning_high = 150.0\ncritical_high = 200.0\ndrift = 4.0\nnoise = 1.5\n",
        encoding="utf-8",
    )
    monkeypatch.setenv(CATALOG_ENV, str(catalog_file))
    with psycopg.connect(database.dsn) as conn:
        apply_migrations(conn)  # the deploy step that follows a catalog change
    start = datetime.now(UTC) - timedelta(seconds=5)

    response = invoke(
        sqs_event(
            sqs_record(message(88.0, "VibrationLevel", unit="Hz", at=start)),
            sqs_record(
                message(
                    210.0, "VibrationLevel", unit="Hz", at=start + timedelta(seconds=1)
                )
            ),
        )
    )

    assert failed_ids(response) == []
    assert rows(
        database, "SELECT value FROM readings WHERE parameter = 'VibrationLevel'"
    ) == [(88.0,), (210.0,)]
    assert rows(
        database,
        "SELECT l.status, p.unit FROM latest_readings l JOIN parameters p"
        " ON p.name = l.parameter AND p.machine_type = 'Drilling'",
    ) == [("CRITICAL", "Hz")]
    assert [(t, e["parameter"], e["severity"], e["unit"]) for t, e in published()] == [
        ("alerts/drill-001", "VibrationLevel", "CRITICAL", "Hz")
    ]


def test_a_direct_iot_rule_invocation_stores_its_message(
    database: PostgresDatabase,
) -> None:
    result = invoke(message(640.0))

    assert result == {"stored": 1, "duplicates": 0}
    assert rows(database, "SELECT machine_id, value FROM readings") == [
        ("drill-001", 640.0)
    ]


def test_a_malformed_direct_invocation_raises_with_the_reason(
    database: PostgresDatabase,
) -> None:
    with pytest.raises(ValueError, match=r"^value: Input should be a valid number"):
        invoke(message(True))

    assert rows(database, "SELECT count(*) FROM readings") == [(0,)]


def test_a_lost_connection_fails_every_record_and_the_retry_stores_them(
    database: PostgresDatabase, log_records: list[logging.LogRecord]
) -> None:
    invoke(message(700.0, at=datetime.now(UTC) - timedelta(seconds=5)))
    with psycopg.connect(database.dsn, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    event = sqs_event(sqs_record(message(701.0)), sqs_record("{bad"))

    response = invoke(event)

    assert sorted(failed_ids(response)) == sorted(
        r["messageId"] for r in event["Records"]
    )
    assert any(r.getMessage() == "batch not stored" for r in log_records)
    retry = invoke(sqs_event(event["Records"][0]))
    assert failed_ids(retry) == []
    assert rows(database, "SELECT value FROM readings ORDER BY ts") == [
        (700.0,),
        (701.0,),
    ]


def test_a_record_the_database_refuses_fails_alone_and_the_rest_is_stored(
    database: PostgresDatabase, log_records: list[logging.LogRecord]
) -> None:
    # Validation lets nothing through that the schema refuses; a constraint
    # stands in for whatever might one day slip past it.
    with psycopg.connect(database.dsn) as conn:
        conn.execute("ALTER TABLE readings ADD CONSTRAINT trap CHECK (value <> 666)")
    start = datetime.now(UTC) - timedelta(seconds=10)
    records = [
        sqs_record(message(700.0 + i, at=start + timedelta(seconds=i)))
        for i in range(3)
    ]
    poison = sqs_record(message(666.0, at=start + timedelta(seconds=5)))

    response = invoke(sqs_event(records[0], poison, *records[1:]))

    assert failed_ids(response) == [poison["messageId"]]
    assert rows(database, "SELECT value FROM readings ORDER BY ts") == [
        (700.0,),
        (701.0,),
        (702.0,),
    ]
    [refusal] = [
        r for r in log_records if r.getMessage() == "telemetry record not stored"
    ]
    assert refusal.message_id == poison["messageId"]  # type: ignore[attr-defined]
    assert 'violates check constraint "trap"' in refusal.reason  # type: ignore[attr-defined]


def test_an_unreachable_iot_endpoint_is_logged_and_the_batch_still_succeeds(
    database: PostgresDatabase,
    monkeypatch: pytest.MonkeyPatch,
    log_records: list[logging.LogRecord],
) -> None:
    monkeypatch.setenv("IOT_DATA_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setattr(handler, "publisher", AlertPublisher())

    response = invoke(sqs_event(sqs_record(message(1234.5))))

    assert failed_ids(response) == []
    assert rows(database, "SELECT severity FROM alerts") == [("CRITICAL",)]
    warnings = [
        r
        for r in log_records
        if r.getMessage() == "cannot publish alert event; the alert is stored"
    ]
    assert len(warnings) == 1
    assert "127.0.0.1" in warnings[0].error  # type: ignore[attr-defined]


PARAMETERS = {
    "Temperature": 700.0,
    "SpindleSpeed": 2000.0,
    "Torque": 40.0,
    "FeedRate": 200.0,
    "CoolantPressure": 40.0,
}


def fleet_records(shape: str, start: datetime) -> list[dict[str, Any]]:
    """5,000 readings: 100 drills x 10 ticks x 5 parameters, in either shape."""
    received_at = int(time.time() * 1000)
    records = []
    for m in range(100):
        for tick in range(10):
            header = {
                "machine_id": f"drill-{m:03d}",
                "machine_type": "Drilling",
                "timestamp": iso(start + timedelta(seconds=tick)),
                "sequence": tick,
                "received_at": received_at,
            }
            if shape == "batch":
                readings = [{"parameter": p, "value": v} for p, v in PARAMETERS.items()]
                records.append(
                    sqs_record(
                        {**header, "parameter": "telemetry", "readings": readings}
                    )
                )
                continue
            records.extend(
                sqs_record({**header, "parameter": p, "value": v})
                for p, v in PARAMETERS.items()
            )
    return records


@pytest.mark.parametrize("shape", ["batch", "per-reading"])
def test_five_thousand_readings_go_through_the_handler_in_one_invocation(
    database: PostgresDatabase, capsys: pytest.CaptureFixture[str], shape: str
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=5)
    records = fleet_records(shape, start)
    invoke(message(700.0, at=start - timedelta(seconds=1)))  # connect, warm up

    started = time.perf_counter()
    response = invoke(sqs_event(*records))
    elapsed = time.perf_counter() - started

    assert failed_ids(response) == []
    assert rows(database, "SELECT count(*) FROM readings") == [(5001,)]
    with capsys.disabled():
        print(
            f"\nhandler, {len(records):,} {shape} messages = 5,000 readings:"
            f" {elapsed * 1000:.0f} ms, {5000 / elapsed:,.0f} readings/s"
        )

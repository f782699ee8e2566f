"""Adding a parameter is one edit to the catalog file: a VibrationLevel (Hz)
added to a copy of catalog.toml flows from the simulator's MQTT output through
ingestion into PostgreSQL and out of the API, with no code change.

The simulator runs as its real command line against a real Mosquitto; the
IoT rule's output is built from each received message the way the template's
rule builds it (message plus topic(2), topic(3) and timestamp()); the ingest
handler and the Chalice app run in-process against a real PostgreSQL.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import pytest
from chalice.test import Client
from paho.mqtt.enums import CallbackAPIVersion

from orchestralink import db
from orchestralink.catalog import CATALOG_ENV, DEFAULT_CATALOG_PATH, clear_catalog_cache
from orchestralink.migrations import apply_migrations
from tests.fixtures.mosquitto import MosquittoBroker
from tests.fixtures.postgres import PostgresDatabase

pytestmark = pytest.mark.integration

VIBRATION = """
[machine_types.Drilling.parameters.VibrationLevel]
unit = "Hz"
normal_min = 20.0
normal_max = 120.0
warning_high = 150.0
critical_high = 200.0
drift = 4.0
noise = 1.5
"""


@pytest.fixture
def vibration_catalog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    path = tmp_path / "catalog.toml"
    path.write_text(DEFAULT_CATALOG_PATH.read_text(encoding="utf-8") + VIBRATION)
    monkeypatch.setenv(CATALOG_ENV, str(path))
    clear_catalog_cache()
    yield path
    clear_catalog_cache()


def collect_simulator_output(
    broker: MosquittoBroker, catalog: Path
) -> list[tuple[str, dict[str, Any]]]:
    """Run the simulator's load mode; return every message it published."""
    received: list[tuple[str, dict[str, Any]]] = []
    subscribed = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=uuid.uuid4().hex)
    client.on_connect = lambda c, *_: c.subscribe("machine/#", qos=1)
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = lambda _c, _u, msg: received.append(
        (msg.topic, json.loads(msg.payload))
    )
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        assert subscribed.wait(10)
        summary = subprocess.run(
            [
                sys.executable,
                "-m",
                "simulator",
                "--host",
                broker.host,
                "--port",
                str(broker.port),
                "--machines",
                "2",
                "--types",
                "Drilling",
                "--seed",
                "7",
                "--catalog",
                str(catalog),
                "--load",
                "60",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        sent = json.loads(summary.stdout)["messages_sent"]
        deadline = time.monotonic() + 10
        while len(received) < sent and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        client.loop_stop()
        client.disconnect()
    return received


def as_rule_output(topic: str, message: dict[str, Any]) -> dict[str, Any]:
    """SELECT *, topic(2) AS machine_id, topic(3) AS parameter,
    timestamp() AS received_at FROM 'machine/+/+'"""
    levels = topic.split("/")
    return {
        **message,
        "machine_id": levels[1],
        "parameter": levels[2],
        "received_at": int(time.time() * 1000),
    }


def sqs_event(bodies: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": uuid.uuid4().hex,
                "body": json.dumps(body),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:telemetry",
                "awsRegion": "us-east-1",
            }
            for body in bodies
        ]
    }


class Context:
    function_name = "ingest"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ingest"
    aws_request_id = "e2e-catalog"


def test_a_parameter_added_to_the_catalog_flows_from_simulator_to_api(
    mosquitto_broker: MosquittoBroker,
    postgres_db: PostgresDatabase,
    vibration_catalog: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    messages = collect_simulator_output(mosquitto_broker, vibration_catalog)
    vibration = [(t, m) for t, m in messages if t.endswith("/VibrationLevel")]
    assert vibration, f"no VibrationLevel among {len(messages)} simulator messages"
    assert all(m["unit"] == "Hz" for _, m in vibration)

    with psycopg.connect(postgres_db.dsn) as conn:
        apply_migrations(conn)
    monkeypatch.delenv("DB_SECRET_ARN", raising=False)
    monkeypatch.setenv("DATABASE_URL", postgres_db.url)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    db.reset_connection()
    from ingest import handler

    response = handler.lambda_handler(
        sqs_event([as_rule_output(t, m) for t, m in messages]), Context()
    )
    db.reset_connection()

    assert response == {"batchItemFailures": []}
    with psycopg.connect(postgres_db.dsn) as conn:
        stored = conn.execute(
            "SELECT count(*) FROM readings WHERE parameter = 'VibrationLevel'"
        ).fetchone()
        thresholds = conn.execute(
            "SELECT unit, critical_high FROM parameters "
            "WHERE machine_type = 'Drilling' AND name = 'VibrationLevel'"
        ).fetchone()
    assert stored == (len(vibration),)
    assert thresholds == ("Hz", 200.0)

    import app as api_app

    machine_id = vibration[0][1]["machine_id"]
    with Client(api_app.app) as client:
        machine = json.loads(client.http.get(f"/machines/{machine_id}").body)
        catalog = json.loads(client.http.get("/parameters").body)
    db.reset_connection()

    assert "VibrationLevel" in json.dumps(machine)
    assert "VibrationLevel" in json.dumps(catalog)

"""Migrations bring an empty database to the current schema, re-run as no-ops,
copy the catalog into `parameters`, and run from the migration function both
when invoked directly and as a CloudFormation custom resource."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from moto import mock_aws

from migrate import handler
from orchestralink import db
from orchestralink.catalog import CATALOG_ENV, DEFAULT_CATALOG_PATH, load_catalog
from orchestralink.migrations import (
    apply_migrations,
    available_migrations,
    current_version,
)
from tests.fixtures.ports import free_port
from tests.fixtures.postgres import PostgresDatabase

pytestmark = pytest.mark.integration

LATEST = max(m.version for m in available_migrations())
TABLES = {
    "alerts",
    "latest_readings",
    "machines",
    "parameters",
    "readings",
    "rollups_minute",
    "schema_migrations",
}
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


@dataclass
class LambdaContext:
    function_name: str = "orchestralink-migrate"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:orchestralink-migrate"
    )
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_stream_name: str = "2026/12/03/[$LATEST]feedface"


def context() -> Any:
    """A stand-in for the Lambda context object (what Powertools reads of it)."""
    return LambdaContext()


@pytest.fixture
def conn(postgres_db: PostgresDatabase) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(postgres_db.dsn) as connection:
        yield connection


@pytest.fixture
def function_env(
    postgres_db: PostgresDatabase, monkeypatch: pytest.MonkeyPatch
) -> Iterator[PostgresDatabase]:
    """The migration function pointed at the test database by its secret."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        secret = boto3.client("secretsmanager").create_secret(
            Name=f"orchestralink/{postgres_db.dbname}",
            SecretString=json.dumps(postgres_db.secret()),
        )
        monkeypatch.setenv("DB_SECRET_ARN", secret["ARN"])
        db.reset_connection()
        yield postgres_db
    db.reset_connection()


def tables(conn: psycopg.Connection[Any]) -> set[str]:
    rows = conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
    ).fetchall()
    return {row[0] for row in rows}


def parameters(conn: psycopg.Connection[Any]) -> set[tuple[str, str]]:
    rows = conn.execute("SELECT machine_type, name FROM parameters").fetchall()
    return {(row[0], row[1]) for row in rows}


def test_an_empty_database_gets_every_migration_and_the_latest_version(
    conn: psycopg.Connection[Any],
) -> None:
    assert current_version(conn) == 0

    applied = apply_migrations(conn)

    assert applied == [m.version for m in available_migrations()]
    assert current_version(conn) == LATEST
    assert tables(conn) >= TABLES


def test_running_migrations_again_applies_nothing(
    conn: psycopg.Connection[Any],
) -> None:
    apply_migrations(conn)

    assert apply_migrations(conn) == []
    assert current_version(conn) == LATEST
    versions = conn.execute("SELECT version FROM schema_migrations").fetchall()
    assert len(versions) == len(available_migrations())


def test_the_catalog_is_copied_into_parameters_with_its_thresholds(
    conn: psycopg.Connection[Any],
) -> None:
    apply_migrations(conn)

    catalog = load_catalog()
    assert parameters(conn) == {
        (t.name, p) for t in catalog.machine_types.values() for p in t.parameters
    }
    assert conn.execute(
        "SELECT unit, critical_high, critical_low FROM parameters"
        " WHERE machine_type = 'Drilling' AND name = 'Temperature'"
    ).fetchone() == ("°C", 1000.0, None)


def test_a_parameter_added_to_the_catalog_appears_on_the_next_run(
    conn: psycopg.Connection[Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    apply_migrations(conn)
    catalog_file = tmp_path / "catalog.toml"
    catalog_file.write_text(
        DEFAULT_CATALOG_PATH.read_text(encoding="utf-8") + VIBRATION, encoding="utf-8"
    )
    monkeypatch.setenv(CATALOG_ENV, str(catalog_file))

    assert apply_migrations(conn) == []

    assert ("Drilling", "VibrationLevel") in parameters(conn)
    assert conn.execute(
        "SELECT unit, warning_high, critical_high FROM parameters"
        " WHERE name = 'VibrationLevel'"
    ).fetchall() == [("Hz", 150.0, 200.0)]


def test_a_parameter_removed_from_the_catalog_leaves_parameters(
    conn: psycopg.Connection[Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    catalog_file = tmp_path / "catalog.toml"
    catalog_file.write_text(
        DEFAULT_CATALOG_PATH.read_text(encoding="utf-8") + VIBRATION, encoding="utf-8"
    )
    monkeypatch.setenv(CATALOG_ENV, str(catalog_file))
    apply_migrations(conn)
    monkeypatch.delenv(CATALOG_ENV)

    apply_migrations(conn)

    assert ("Drilling", "VibrationLevel") not in parameters(conn)


def test_the_function_invoked_directly_reports_applied_versions_and_version(
    function_env: PostgresDatabase,
) -> None:
    first = handler.lambda_handler({}, context())
    second = handler.lambda_handler({}, context())

    assert first == {
        "applied": [m.version for m in available_migrations()],
        "version": LATEST,
    }
    assert second == {"applied": [], "version": LATEST}


class CloudFormation:
    """Stands in for the pre-signed S3 URL a custom resource answers to."""

    def __init__(self) -> None:
        self.responses: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        received = self.responses

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                length = int(self.headers["Content-Length"])
                body = json.loads(self.rfile.read(length))
                received.append((self.path, dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = HTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/cfn-response?X-Amz-Signature=abc"

    def event(self, request_type: str, **extra: Any) -> dict[str, Any]:
        return {
            "RequestType": request_type,
            "ResponseURL": self.url,
            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/ol/1",
            "RequestId": str(uuid.uuid4()),
            "LogicalResourceId": "DatabaseSchema",
            "ResourceType": "Custom::DatabaseMigration",
            "ResourceProperties": {"ServiceToken": "arn:aws:lambda:..."},
            **extra,
        }


@pytest.fixture
def cloudformation() -> Iterator[CloudFormation]:
    endpoint = CloudFormation()
    endpoint.thread.start()
    yield endpoint
    endpoint.server.shutdown()
    endpoint.server.server_close()
    endpoint.thread.join(timeout=5)


def test_a_create_request_migrates_and_answers_success_with_the_version(
    function_env: PostgresDatabase, cloudformation: CloudFormation
) -> None:
    event = cloudformation.event("Create")

    handler.lambda_handler(event, context())

    [(path, headers, body)] = cloudformation.responses
    assert path == "/cfn-response?X-Amz-Signature=abc"
    assert headers["Content-Type"] == ""
    assert body == {
        "Status": "SUCCESS",
        "Reason": "See CloudWatch log stream 2026/12/03/[$LATEST]feedface",
        "PhysicalResourceId": "orchestralink-database-schema",
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": "DatabaseSchema",
        "NoEcho": False,
        "Data": {
            "Version": str(LATEST),
            "Applied": ",".join(str(m.version) for m in available_migrations()),
        },
    }
    with psycopg.connect(function_env.dsn) as conn:
        assert current_version(conn) == LATEST


def test_an_update_request_keeps_the_physical_id(
    function_env: PostgresDatabase, cloudformation: CloudFormation
) -> None:
    handler.lambda_handler(
        cloudformation.event("Update", PhysicalResourceId="schema-1"), context()
    )

    [(_, _, body)] = cloudformation.responses
    assert (body["Status"], body["PhysicalResourceId"]) == ("SUCCESS", "schema-1")


def test_a_delete_request_answers_success_without_touching_the_database(
    cloudformation: CloudFormation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DB_SECRET_ARN", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)

    handler.lambda_handler(
        cloudformation.event("Delete", PhysicalResourceId="schema-1"), context()
    )

    [(_, _, body)] = cloudformation.responses
    assert (body["Status"], body["Data"]) == ("SUCCESS", {})


def test_a_failed_migration_answers_failed_with_the_reason(
    cloudformation: CloudFormation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DB_SECRET_ARN", raising=False)
    monkeypatch.setenv("DATABASE_URL", f"postgresql://u:p@127.0.0.1:{free_port()}/x")
    db.reset_connection()

    handler.lambda_handler(cloudformation.event("Create"), context())

    [(_, _, body)] = cloudformation.responses
    assert body["Status"] == "FAILED"
    assert body["Reason"].startswith("DatabaseError: cannot connect to PostgreSQL at")
    assert body["PhysicalResourceId"] == "orchestralink-database-schema"

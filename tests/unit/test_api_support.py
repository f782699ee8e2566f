"""Fixtures and helpers shared by the API tests (imported by test_api_*.py).

`api_db` is a fresh real PostgreSQL database migrated to the current schema,
with DATABASE_URL pointing the API at it; `fleet` writes rows the way ingestion
would (machines, readings, latest_readings, rollups_minute, alerts), directly
with SQL; `call` sends a request through Chalice's test client (its local API
Gateway) and returns status and JSON body.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import psycopg
import pytest
from chalice.test import Client
from pydantic import BaseModel

import app as api_app
from orchestralink import db
from orchestralink.catalog import load_catalog
from orchestralink.migrations import apply_migrations
from tests.fixtures.postgres import PostgresDatabase

pytestmark = pytest.mark.integration


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, Any]

    def error(self) -> tuple[int, str, str]:
        assert set(self.body) == {"error", "message"}, self.body
        return self.status, self.body["error"], self.body["message"]


class Api:
    """Requests through Chalice's local API Gateway, replies as JSON."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | list[tuple[str, Any]] | None = None,
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        if params:
            path = f"{path}?{urlencode(params)}"
        raw = body.encode() if isinstance(body, str) else (body or b"")
        response = self.client.http.request(
            method, path, headers=headers or {}, body=raw
        )
        parsed = json.loads(response.body) if response.body else None
        return Reply(response.status_code, parsed, dict(response.headers))

    def get(self, path: str, **params: Any) -> Reply:
        return self.request("GET", path, params or None)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Reply:
        text = body if isinstance(body, str | bytes) or body is None else None
        if text is None:
            text = json.dumps(body)
        headers = kwargs.pop("headers", {"Content-Type": "application/json"})
        return self.request("POST", path, body=text, headers=headers, **kwargs)


def conforms(model: type[BaseModel], body: Any) -> None:
    """The body matches the response model the OpenAPI document advertises."""
    model.model_validate(body)


class Fleet:
    """Writes telemetry rows the way ingestion does, for tests to read back."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self.catalog = load_catalog()

    def machine(
        self,
        machine_id: str,
        machine_type: str = "Drilling",
        last_seen: datetime | None = None,
        first_seen: datetime | None = None,
        sequence: int | None = 7,
    ) -> str:
        last_seen = last_seen or now()
        self.conn.execute(
            "INSERT INTO machines (machine_id, machine_type, first_seen, last_seen, "
            "last_sequence) VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT (machine_id) DO UPDATE SET last_seen = EXCLUDED.last_seen",
            (
                machine_id,
                machine_type,
                first_seen or last_seen - timedelta(days=1),
                last_seen,
                sequence,
            ),
        )
        return machine_id

    def latest(
        self,
        machine_id: str,
        parameter: str,
        value: float,
        ts: datetime | None = None,
        status: str | None = None,
    ) -> None:
        if status is None:
            mtype = self.conn.execute(
                "SELECT machine_type FROM machines WHERE machine_id = %s",
                (machine_id,),
            ).fetchone()
            assert mtype is not None
            status = self.catalog.parameter(mtype[0], parameter).classify(value)
        self.conn.execute(
            "INSERT INTO latest_readings (machine_id, parameter, ts, value, status) "
            "VALUES (%s, %s, %s, %s, %s)",
            (machine_id, parameter, ts or now(), value, status),
        )

    def readings(
        self, machine_id: str, parameter: str, rows: list[tuple[datetime, float]]
    ) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO readings (machine_id, parameter, ts, value) "
                "VALUES (%s, %s, %s, %s)",
                [(machine_id, parameter, ts, value) for ts, value in rows],
            )

    def rollup(
        self,
        machine_id: str,
        parameter: str,
        bucket: datetime,
        values: list[float],
    ) -> None:
        self.conn.execute(
            "INSERT INTO rollups_minute (machine_id, parameter, bucket, min_value, "
            "max_value, sum_value, count) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (
                machine_id,
                parameter,
                bucket,
                min(values),
                max(values),
                sum(values),
                len(values),
            ),
        )

    def alert(
        self,
        machine_id: str,
        parameter: str = "Temperature",
        severity: str = "CRITICAL",
        value: float = 1012.5,
        threshold: float = 1000.0,
        opened_at: datetime | None = None,
        cleared_at: datetime | None = None,
        acknowledged_by: str | None = None,
    ) -> int:
        opened_at = opened_at or now() - timedelta(minutes=5)
        acknowledged_at = opened_at + timedelta(seconds=30) if acknowledged_by else None
        row = self.conn.execute(
            "INSERT INTO alerts (machine_id, parameter, severity, value, threshold, "
            "opened_at, updated_at, cleared_at, acknowledged_at, acknowledged_by) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING alert_id",
            (
                machine_id,
                parameter,
                severity,
                value,
                threshold,
                opened_at,
                opened_at,
                cleared_at,
                acknowledged_at,
                acknowledged_by,
            ),
        ).fetchone()
        assert row is not None
        return int(row[0])


@pytest.fixture
def api_db(
    postgres_db: PostgresDatabase, monkeypatch: pytest.MonkeyPatch
) -> Iterator[PostgresDatabase]:
    with psycopg.connect(postgres_db.dsn) as conn:
        apply_migrations(conn)
    monkeypatch.delenv("DB_SECRET_ARN", raising=False)
    monkeypatch.setenv("DATABASE_URL", postgres_db.url)
    db.reset_connection()
    yield postgres_db
    db.reset_connection()


@pytest.fixture
def fleet(api_db: PostgresDatabase) -> Iterator[Fleet]:
    with psycopg.connect(api_db.dsn, autocommit=True) as conn:
        yield Fleet(conn)


@pytest.fixture
def api() -> Api:
    return Api(Client(api_app.app))

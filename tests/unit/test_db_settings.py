"""Database settings come from the Secrets Manager secret (as on AWS) or from
DATABASE_URL, and every misconfiguration says how to fix it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from orchestralink import db

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("DB_SECRET_ARN", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    yield
    db.reset_connection()


def test_settings_come_from_an_rds_style_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with mock_aws():
        secret = boto3.client("secretsmanager").create_secret(
            Name="orchestralink/db",
            SecretString=json.dumps(
                {
                    "engine": "postgres",
                    "host": "db.example",
                    "port": 6543,
                    "username": "orchestra",
                    "password": "p@ss",
                    "dbname": "telemetry",
                }
            ),
        )
        monkeypatch.setenv("DB_SECRET_ARN", secret["ARN"])

        settings = db.load_settings()

    assert settings == db.DatabaseSettings(
        "db.example", 6543, "orchestra", "p@ss", "telemetry"
    )
    assert "password=p@ss" in settings.conninfo()


def test_a_secret_without_host_names_the_missing_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with mock_aws():
        secret = boto3.client("secretsmanager").create_secret(
            Name="orchestralink/db",
            SecretString=json.dumps({"username": "u", "password": "p"}),
        )
        monkeypatch.setenv("DB_SECRET_ARN", secret["ARN"])

        with pytest.raises(db.DatabaseError, match="lacks host: attach it"):
            db.load_settings()


def test_a_missing_secret_says_what_to_check(monkeypatch: pytest.MonkeyPatch) -> None:
    with mock_aws():
        monkeypatch.setenv(
            "DB_SECRET_ARN",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-AbCdEf",
        )
        with pytest.raises(db.DatabaseError, match="cannot read the database secret"):
            db.load_settings()


def test_settings_come_from_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://me:s%40cret@127.0.0.1:5433/x")

    assert db.load_settings() == db.DatabaseSettings(
        "127.0.0.1", 5433, "me", "s@cret", "x"
    )


def test_a_non_postgres_url_is_refused_with_the_expected_form(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://me@host/x")

    with pytest.raises(db.DatabaseError, match=r"use postgresql://user:password@"):
        db.load_settings()


def test_no_configuration_at_all_names_both_variables() -> None:
    with pytest.raises(db.DatabaseError, match=r"set DB_SECRET_ARN .* or DATABASE_URL"):
        db.load_settings()


def test_an_unreachable_server_names_host_and_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.fixtures.ports import free_port

    port = free_port()
    monkeypatch.setenv("DATABASE_URL", f"postgresql://u:p@127.0.0.1:{port}/x")

    with pytest.raises(db.DatabaseError, match=f"127.0.0.1:{port}"):
        db.get_connection()

"""Database settings and the process-wide connection.

On AWS the credentials live in a Secrets Manager secret (RDS-style JSON) whose
ARN the template passes as `DB_SECRET_ARN`; Powertools Parameters caches it so
a warm function does not call Secrets Manager per invocation. Local tools and
tests may instead set `DATABASE_URL`. The connection is kept for the life of
the process: warm invocations reuse it, a broken one is replaced.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

import psycopg
from psycopg.conninfo import make_conninfo

from orchestralink.errors import OrchestraLinkError

SECRET_MAX_AGE_SECONDS = 300
CONNECT_TIMEOUT_SECONDS = 5


class DatabaseError(OrchestraLinkError):
    """The database cannot be configured or reached."""


@dataclass(frozen=True)
class DatabaseSettings:
    host: str
    port: int
    user: str
    password: str
    dbname: str

    def conninfo(self) -> str:
        return make_conninfo(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=self.dbname,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            application_name=os.environ.get(
                "AWS_LAMBDA_FUNCTION_NAME", "orchestralink"
            ),
        )

    @classmethod
    def from_secret_json(cls, value: Mapping[str, Any]) -> DatabaseSettings:
        missing = [k for k in ("host", "username", "password") if not value.get(k)]
        if missing:
            raise DatabaseError(
                f"the database secret lacks {', '.join(missing)}: attach it to the "
                "DB instance (AWS::SecretsManager::SecretTargetAttachment) so RDS "
                "adds host and port"
            )
        return cls(
            host=str(value["host"]),
            port=int(value.get("port", 5432)),
            user=str(value["username"]),
            password=str(value["password"]),
            dbname=str(value.get("dbname") or "postgres"),
        )

    @classmethod
    def from_url(cls, url: str) -> DatabaseSettings:
        parsed = urlparse(url)
        if parsed.scheme not in ("postgres", "postgresql") or not parsed.hostname:
            raise DatabaseError(
                f"DATABASE_URL {parsed.scheme}://... is not a PostgreSQL URL: use "
                "postgresql://user:password@host:port/dbname"
            )
        return cls(
            host=parsed.hostname,
            port=parsed.port or 5432,
            user=unquote(parsed.username or "postgres"),
            password=unquote(parsed.password or ""),
            dbname=parsed.path.lstrip("/") or "postgres",
        )


def load_settings() -> DatabaseSettings:
    """Settings from `DB_SECRET_ARN` (Secrets Manager) or `DATABASE_URL`."""
    secret_arn = os.environ.get("DB_SECRET_ARN")
    if secret_arn:
        return DatabaseSettings.from_secret_json(_fetch_secret(secret_arn))
    url = os.environ.get("DATABASE_URL")
    if url:
        return DatabaseSettings.from_url(url)
    raise DatabaseError(
        "no database configured: set DB_SECRET_ARN to the ARN of the database "
        "secret, or DATABASE_URL to postgresql://user:password@host:port/dbname"
    )


def _fetch_secret(secret_arn: str) -> Mapping[str, Any]:
    # Imported here: the parameters utility pulls in boto3, which the API's
    # DATABASE_URL path and the simulator do not need.
    from aws_lambda_powertools.utilities import parameters

    try:
        raw = parameters.get_secret(secret_arn, max_age=SECRET_MAX_AGE_SECONDS)
    except parameters.exceptions.GetParameterError as error:
        raise DatabaseError(
            f"cannot read the database secret {secret_arn}: {error}; check that it "
            "exists and that the function's role may secretsmanager:GetSecretValue"
        ) from error
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise DatabaseError(
            f"the database secret {secret_arn} is not JSON: store it RDS-style, "
            '{"username": ..., "password": ..., "host": ..., "port": ...}'
        ) from error
    if not isinstance(value, dict):
        raise DatabaseError(f"the database secret {secret_arn} is not a JSON object")
    return value


_connection: psycopg.Connection[Any] | None = None


def get_connection() -> psycopg.Connection[Any]:
    """The process's connection, opened on first use and after a failure."""
    global _connection
    if _connection is not None and not _connection.closed and not _connection.broken:
        return _connection
    reset_connection()
    settings = load_settings()
    try:
        _connection = psycopg.connect(settings.conninfo())
    except psycopg.OperationalError as error:
        raise DatabaseError(
            f"cannot connect to PostgreSQL at {settings.host}:{settings.port} "
            f"(database {settings.dbname}, user {settings.user}): {error}"
        ) from error
    return _connection


def reset_connection() -> None:
    """Close and forget the connection (after an error, or between tests)."""
    global _connection
    if _connection is not None:
        try:
            _connection.close()
        finally:
            _connection = None

"""One database transaction per request, on the process's reused connection.

The connection comes from `orchestralink.db.get_connection`, which keeps it for
the life of the (warm) Lambda process. Every request runs in its own short
transaction, committed or rolled back before the response, so no warm process
sits "idle in transaction" between invocations. When the database cannot be
reached, or the connection breaks mid-request, the connection is dropped (the
next request reconnects) and the client gets a 503 DatabaseUnavailable.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from chalicelib.errors import ServiceUnavailableError
from orchestralink import db

logger = logging.getLogger(__name__)

# Bounds a runaway query so a warm function is never stuck past its timeout.
STATEMENT_TIMEOUT_MS = 10_000


def unavailable(error: Exception) -> ServiceUnavailableError:
    return ServiceUnavailableError(
        "DatabaseUnavailable",
        f"the database is unavailable ({type(error).__name__}); retry shortly, and "
        "if it persists check GET /health and the database settings",
    )


@contextmanager
def transaction() -> Iterator[psycopg.Connection[Any]]:
    """Yield the connection inside a transaction; map connection loss to 503."""
    try:
        conn = db.get_connection()
    except db.DatabaseError as error:
        logger.warning("database unavailable: %s", error)
        raise unavailable(error) from error

    try:
        conn.execute(
            "SELECT set_config('statement_timeout', %s, true)",
            (str(STATEMENT_TIMEOUT_MS),),
        )
        yield conn
        conn.commit()
    except (psycopg.OperationalError, psycopg.InterfaceError) as error:
        logger.warning("database connection failed: %s", error)
        db.reset_connection()
        raise unavailable(error) from error
    except BaseException:
        _rollback(conn)
        raise


def _rollback(conn: psycopg.Connection[Any]) -> None:
    try:
        conn.rollback()
    except psycopg.Error:
        db.reset_connection()

"""The fixtures start real services: a PostgreSQL that answers SQL and a
Mosquitto that delivers what is published."""

from __future__ import annotations

import subprocess

import psycopg
import pytest

from tests.fixtures.mosquitto import MosquittoBroker
from tests.fixtures.postgres import PostgresDatabase

pytestmark = pytest.mark.integration


def test_postgres_db_is_a_fresh_database_on_a_real_server(
    postgres_db: PostgresDatabase,
) -> None:
    with psycopg.connect(postgres_db.dsn) as conn:
        row = conn.execute("SELECT current_database(), version()").fetchone()
        tables = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        ).fetchone()
    assert row is not None
    assert row[0] == postgres_db.dbname
    assert "PostgreSQL" in row[1]
    assert tables == (0,)


def test_mosquitto_broker_delivers_a_published_message(
    mosquitto_broker: MosquittoBroker,
) -> None:
    port = str(mosquitto_broker.port)
    subscriber = subprocess.Popen(
        ["mosquitto_sub", "-p", port, "-t", "fixture/check", "-C", "1", "-W", "10"],
        stdout=subprocess.PIPE,
        text=True,
    )
    # Publish until the subscriber (which may still be connecting) has it.
    for _ in range(50):
        subprocess.run(
            ["mosquitto_pub", "-p", port, "-t", "fixture/check", "-m", "hello"],
            check=True,
        )
        try:
            out, _ = subscriber.communicate(timeout=0.2)
            break
        except subprocess.TimeoutExpired:
            continue
    else:
        subscriber.kill()
        pytest.fail("mosquitto_sub never received the message")
    assert out.strip() == "hello"

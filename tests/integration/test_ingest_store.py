"""The ingestion write path against a real PostgreSQL: bulk, idempotent, with
rollups, latest readings and alerts kept right in the same transaction."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from ingest.store import ReadingStore
from orchestralink.catalog import load_catalog
from orchestralink.migrations import apply_migrations
from orchestralink.telemetry import Reading
from tests.fixtures.postgres import PostgresDatabase

pytestmark = pytest.mark.integration

T0 = datetime(2026, 12, 3, 19, 58, 0, tzinfo=UTC)


def reading(
    value: float,
    seconds: float = 0,
    machine_id: str = "drill-001",
    parameter: str = "Temperature",
    sequence: int | None = None,
) -> Reading:
    return Reading(
        machine_id,
        "Drilling",
        parameter,
        T0 + timedelta(seconds=seconds),
        value,
        sequence,
        T0,
    )


@pytest.fixture
def conn(postgres_db: PostgresDatabase) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(postgres_db.dsn) as connection:
        apply_migrations(connection)
        yield connection


@pytest.fixture
def store() -> ReadingStore:
    return ReadingStore(load_catalog())


def query(conn: psycopg.Connection[Any], sql: str) -> list[tuple[Any, ...]]:
    rows = conn.execute(sql).fetchall()
    conn.commit()
    return rows


def test_rollups_hold_min_max_sum_and_count_per_minute(
    conn: psycopg.Connection[Any], store: ReadingStore
) -> None:
    batch = [reading(700, 0), reading(720, 10), reading(710, 59), reading(800, 60)]

    result = store.write(conn, batch)

    assert (result.stored, result.duplicates) == (4, 0)
    assert query(
        conn,
        "SELECT bucket, min_value, max_value, sum_value, count FROM rollups_minute"
        " ORDER BY bucket",
    ) == [
        (T0, 700.0, 720.0, 2130.0, 3),
        (T0 + timedelta(minutes=1), 800.0, 800.0, 800.0, 1),
    ]


def test_a_redelivered_batch_stores_nothing_twice_and_rollups_count_once(
    conn: psycopg.Connection[Any], store: ReadingStore
) -> None:
    batch = [reading(700, 0), reading(720, 10)]
    store.write(conn, batch)

    again = store.write(conn, [*batch, reading(740, 20)])

    assert (again.stored, again.duplicates) == (1, 2)
    assert query(conn, "SELECT count(*) FROM readings") == [(3,)]
    assert query(conn, "SELECT sum_value, count FROM rollups_minute") == [(2160.0, 3)]


def test_a_reading_twice_in_one_batch_is_stored_and_counted_once(
    conn: psycopg.Connection[Any], store: ReadingStore
) -> None:
    result = store.write(conn, [reading(700, 0), reading(700, 0)])

    assert (result.stored, result.duplicates) == (1, 1)
    assert query(conn, "SELECT count FROM rollups_minute") == [(1,)]


def test_machines_record_first_and_last_seen_and_the_newest_sequence(
    conn: psycopg.Connection[Any], store: ReadingStore
) -> None:
    store.write(conn, [reading(700, 10, sequence=5), reading(700, 20, sequence=6)])
    store.write(conn, [reading(700, 0, parameter="Torque", sequence=4)])

    assert query(
        conn,
        "SELECT machine_id, machine_type, first_seen, last_seen, last_sequence"
        " FROM machines",
    ) == [
        ("drill-001", "Drilling", T0, T0 + timedelta(seconds=20), 6),
    ]


def test_a_late_reading_is_stored_but_neither_becomes_latest_nor_raises_alerts(
    conn: psycopg.Connection[Any], store: ReadingStore
) -> None:
    store.write(conn, [reading(800, 60)])

    late = store.write(conn, [reading(1234.5, 0)])

    assert late.stored == 1
    assert late.alerts == []
    assert query(conn, "SELECT ts, value, status FROM latest_readings") == [
        (T0 + timedelta(seconds=60), 800.0, "NORMAL")
    ]
    assert query(conn, "SELECT count(*) FROM alerts") == [(0,)]
    assert query(
        conn,
        "SELECT max_value FROM rollups_minute WHERE bucket = '2026-12-03T19:58:00Z'",
    ) == [(1234.5,)]


def test_latest_readings_hold_the_newest_value_and_its_status(
    conn: psycopg.Connection[Any], store: ReadingStore
) -> None:
    store.write(
        conn,
        [
            reading(950, 1),
            reading(700, 0),
            reading(30, 0, parameter="Torque"),
            reading(5, 0, parameter="CoolantPressure"),
        ],
    )

    assert query(
        conn, "SELECT parameter, value, status FROM latest_readings ORDER BY 1"
    ) == [
        ("CoolantPressure", 5.0, "CRITICAL"),
        ("Temperature", 950.0, "WARNING"),
        ("Torque", 30.0, "NORMAL"),
    ]


def test_one_batch_can_open_clear_and_reopen_an_alert(
    conn: psycopg.Connection[Any], store: ReadingStore
) -> None:
    result = store.write(conn, [reading(1100, 0), reading(800, 1), reading(950, 2)])

    assert [(e.event, e.severity, e.value) for e in result.alerts] == [
        ("opened", "CRITICAL", 1100.0),
        ("cleared", "CRITICAL", 800.0),
        ("opened", "WARNING", 950.0),
    ]
    assert query(
        conn,
        "SELECT severity, threshold, opened_at, cleared_at IS NULL FROM alerts"
        " ORDER BY alert_id",
    ) == [
        ("CRITICAL", 1000.0, T0, False),
        ("WARNING", 900.0, T0 + timedelta(seconds=2), True),
    ]


def test_a_low_reading_opens_an_alert_on_the_low_threshold(
    conn: psycopg.Connection[Any], store: ReadingStore
) -> None:
    result = store.write(conn, [reading(12, 0, parameter="CoolantPressure")])

    assert [(e.event, e.severity, e.threshold, e.unit) for e in result.alerts] == [
        ("opened", "WARNING", 15.0, "bar")
    ]


def test_concurrent_batches_for_one_machine_open_one_alert(
    postgres_db: PostgresDatabase, conn: psycopg.Connection[Any]
) -> None:
    barrier = threading.Barrier(4)
    events: list[int] = []
    errors: list[BaseException] = []

    def write(offset: int) -> None:
        try:
            with psycopg.connect(postgres_db.dsn) as own:
                barrier.wait()
                result = ReadingStore(load_catalog()).write(
                    own, [reading(1100 + offset, offset)]
                )
                events.extend(e.alert_id for e in result.alerts)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert query(conn, "SELECT count(*) FROM alerts") == [(1,)]
    assert len(events) == 1


def test_five_thousand_readings_are_written_in_one_bulk_transaction(
    conn: psycopg.Connection[Any],
    store: ReadingStore,
    capsys: pytest.CaptureFixture[str],
) -> None:
    parameters = [
        "Temperature",
        "SpindleSpeed",
        "Torque",
        "FeedRate",
        "CoolantPressure",
    ]
    values = {
        "Temperature": 700.0,
        "SpindleSpeed": 2000.0,
        "Torque": 40.0,
        "FeedRate": 200.0,
        "CoolantPressure": 40.0,
    }
    batch = [
        reading(values[p], tick, f"drill-{m:03d}", p)
        for m in range(100)
        for tick in range(10)
        for p in parameters
    ]
    assert len(batch) == 5000

    started = time.perf_counter()
    result = store.write(conn, batch)
    elapsed = time.perf_counter() - started

    assert result.stored == 5000
    assert query(conn, "SELECT count(*), sum(count) FROM rollups_minute") == [
        (500, 5000)
    ]
    with capsys.disabled():
        print(
            f"\nReadingStore.write, 5,000 readings: {elapsed * 1000:.0f} ms,"
            f" {5000 / elapsed:,.0f} rows/s"
        )

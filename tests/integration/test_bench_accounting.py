"""The benchmark's exact accounting (infrastructure/bench/benchsuite/accounting.py)
on synthetic runs in a real PostgreSQL: what the simulator says it sent against
the rows a table holds. The benchmark itself runs on demand (`make bench`)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

# The suite is a script folder, not an installed package.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "infrastructure/bench"))

from benchsuite.accounting import (
    SentMachine,
    StoredGroup,
    account,
    account_table,
    sent_from_summary,
)
from benchsuite.baseline import create_table
from benchsuite.stack import BenchError

pytestmark = pytest.mark.integration

START = datetime(2026, 12, 3, 19, 58, 1, 123000, tzinfo=UTC)
PARAMETERS = ["Temperature", "SpindleSpeed", "Torque", "FeedRate", "CoolantPressure"]


def _ts(sequence: int) -> datetime:
    return START + timedelta(milliseconds=sequence)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _summary(machines: dict[str, tuple[int, int]], per_message: int) -> dict[str, Any]:
    """A simulator summary: machine -> (first, last) sequence."""
    return {
        "machines": {
            machine_id: {
                "machine_type": "Drilling",
                "messages": last - first + 1,
                "readings": (last - first + 1) * per_message,
                "first_sequence": first,
                "last_sequence": last,
                "first_timestamp": _iso(_ts(first)),
                "last_timestamp": _iso(_ts(last)),
            }
            for machine_id, (first, last) in machines.items()
        }
    }


def _rows(
    machines: dict[str, tuple[int, int]], per_message: int
) -> list[tuple[str, str, datetime, float, int]]:
    rows = []
    for machine_id, (first, last) in machines.items():
        for sequence in range(first, last + 1):
            for parameter in PARAMETERS[:per_message]:
                rows.append((machine_id, parameter, _ts(sequence), 1.0, sequence))
    return rows


@pytest.fixture
def table(postgres_db: Any) -> psycopg.Connection[Any]:
    conn = psycopg.connect(postgres_db.dsn, autocommit=True)
    create_table(conn, "readings_copy")
    yield conn
    conn.close()


def _insert(conn: psycopg.Connection[Any], rows: list[Any]) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO readings_copy (machine_id, parameter, ts, value, sequence) "
            "VALUES (%s, %s, %s, %s, %s)",
            rows,
        )


def test_a_complete_run_of_single_readings_balances_exactly(table: Any) -> None:
    machines = {"drill-001": (1, 300), "mill-002": (1, 250)}
    _insert(table, _rows(machines, 1))

    result = account_table(
        table, "readings_copy", sent_from_summary(_summary(machines, 1))
    )

    assert result.exact
    assert (result.sent, result.stored, result.lost, result.duplicated) == (
        550,
        550,
        0,
        0,
    )


def test_a_missing_reading_is_counted_lost_and_named(table: Any) -> None:
    machines = {"drill-001": (1, 100)}
    rows = [r for r in _rows(machines, 1) if r[4] != 42]
    _insert(table, rows)

    result = account_table(
        table, "readings_copy", sent_from_summary(_summary(machines, 1))
    )

    assert (result.lost, result.duplicated, result.unexpected) == (1, 0, 0)
    assert result.lost_examples == ["drill-001: 1 of 100 messages absent"]
    assert not result.exact


def test_a_reading_stored_twice_under_another_timestamp_is_counted(table: Any) -> None:
    machines = {"drill-001": (1, 50)}
    rows = _rows(machines, 1)
    again = rows[9]
    rows.append((again[0], again[1], again[2] + timedelta(microseconds=500), 1.0, 10))
    _insert(table, rows)

    result = account_table(
        table, "readings_copy", sent_from_summary(_summary(machines, 1))
    )

    assert (result.lost, result.duplicated) == (0, 1)
    assert result.duplicate_examples == ["drill-001 #10: 2 rows"]
    assert result.stored == 51


def test_batch_messages_count_each_missing_parameter(table: Any) -> None:
    machines = {"drill-001": (1, 20), "drill-004": (5, 24)}
    rows = _rows(machines, 5)
    rows = [
        r for r in rows if not (r[0] == "drill-001" and r[4] == 7 and r[1] == "Torque")
    ]
    rows = [r for r in rows if not (r[0] == "drill-004" and r[4] == 24)]
    _insert(table, rows)

    result = account_table(
        table, "readings_copy", sent_from_summary(_summary(machines, 5))
    )

    assert result.lost == 1 + 5
    assert result.lost_examples == [
        "drill-001 #7: 4 of 5",
        "drill-004: 1 of 20 messages absent",
    ]
    assert result.timestamp_mismatches == [
        f"drill-004: sent {_iso(_ts(5))}..{_iso(_ts(24))}, "
        f"stored ('{_iso(_ts(5))}', '{_iso(_ts(23))}')"
    ]


def test_rows_of_machines_or_sequences_never_sent_are_unexpected(table: Any) -> None:
    machines = {"drill-001": (1, 10)}
    rows = _rows(machines, 1)
    rows.append(("drill-001", "Temperature", _ts(11), 1.0, 11))
    rows.append(("lathe-003", "Temperature", _ts(1), 1.0, 1))
    _insert(table, rows)

    result = account_table(
        table, "readings_copy", sent_from_summary(_summary(machines, 1))
    )

    assert (result.lost, result.duplicated, result.unexpected) == (0, 0, 2)
    assert not result.exact


def test_a_summary_with_a_gap_in_its_sequences_is_refused() -> None:
    summary = _summary({"drill-001": (1, 10)}, 1)
    summary["machines"]["drill-001"]["messages"] = 9

    with pytest.raises(
        BenchError, match=r"drill-001 is not contiguous \(sequences 1\.\.10, 9"
    ):
        sent_from_summary(summary)


def test_groups_merge_in_one_pass_without_a_database() -> None:
    sent = {"m-1": SentMachine("m-1", 1, 3, 3, 6, "a", "b")}
    stored = [StoredGroup("m-1", 1, 2, 2), StoredGroup("m-1", 3, 3, 2)]

    result = account(sent, stored)

    assert (result.sent, result.stored, result.lost, result.duplicated) == (6, 5, 2, 1)
    assert result.lost_examples == ["m-1: 1 of 3 messages absent"]

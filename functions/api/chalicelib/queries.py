"""The API's SQL, each query shaped to an index of schema v1.

* Fleet and machine views read `machines` joined to `latest_readings` (one row
  per machine and parameter): never the readings table.
* Raw readings are a range scan of the readings primary key (machine_id,
  parameter, ts), in ts order, keyset-paginated (`ts > last`), so page 100 costs
  what page 1 costs.
* Series of a minute or more re-bucket `rollups_minute` (primary key range
  scan, about 43,200 rows for 30 days); shorter intervals bucket raw readings.
  Buckets are aligned to the Unix epoch with `date_bin`.
* Alerts use `alerts_by_opened` / `alerts_by_machine`; acknowledging is one
  conditional UPDATE, so two operators cannot both acknowledge.

Every value is a query parameter; the only SQL assembled at run time picks
among fixed fragments (sort direction, filters).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import psycopg

from orchestralink.migrations import current_version

Order = Literal["asc", "desc"]
_EPOCH_ORIGIN = "TIMESTAMPTZ '1970-01-01 00:00:00+00'"


@dataclass(frozen=True)
class LatestReading:
    parameter: str
    ts: datetime
    value: float
    status: str


@dataclass
class MachineRow:
    machine_id: str
    machine_type: str
    first_seen: datetime
    last_seen: datetime
    last_sequence: int | None
    latest: list[LatestReading] = field(default_factory=list)


@dataclass(frozen=True)
class SeriesRow:
    bucket: datetime
    min: float
    max: float
    avg: float
    count: int


@dataclass(frozen=True)
class AlertRow:
    alert_id: int
    machine_id: str
    machine_type: str
    parameter: str
    severity: str
    value: float
    threshold: float
    opened_at: datetime
    updated_at: datetime
    cleared_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None


Connection = psycopg.Connection[Any]

_MACHINES_SQL = """
SELECT m.machine_id, m.machine_type, m.first_seen, m.last_seen, m.last_sequence,
       l.parameter, l.ts, l.value, l.status
FROM machines m
LEFT JOIN latest_readings l ON l.machine_id = m.machine_id
{where}
ORDER BY m.machine_id, l.parameter
"""


def fetch_machines(conn: Connection, machine_id: str | None = None) -> list[MachineRow]:
    """Every machine (or one) with its latest reading per parameter."""
    if machine_id is None:
        rows = conn.execute(_MACHINES_SQL.format(where="")).fetchall()
    else:
        rows = conn.execute(
            _MACHINES_SQL.format(where="WHERE m.machine_id = %s"), (machine_id,)
        ).fetchall()

    machines: dict[str, MachineRow] = {}
    for mid, mtype, first, last, seq, parameter, ts, value, status in rows:
        machine = machines.get(mid)
        if machine is None:
            machine = machines[mid] = MachineRow(mid, mtype, first, last, seq)
        if parameter is not None:
            machine.latest.append(LatestReading(parameter, ts, value, status))
    return list(machines.values())


def fetch_machine(conn: Connection, machine_id: str) -> MachineRow | None:
    found = fetch_machines(conn, machine_id)
    return found[0] if found else None


def machine_exists(conn: Connection, machine_id: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM machines WHERE machine_id = %s", (machine_id,)
    ).fetchone()
    return row is not None


def fetch_readings(
    conn: Connection,
    machine_id: str,
    parameter: str,
    start: datetime,
    end: datetime,
    order: Order,
    limit: int,
) -> list[tuple[datetime, float]]:
    """Readings with start <= ts < end (bounds already narrowed by a cursor)."""
    direction = "ASC" if order == "asc" else "DESC"
    rows = conn.execute(
        "SELECT ts, value FROM readings "
        "WHERE machine_id = %s AND parameter = %s AND ts >= %s AND ts < %s "
        f"ORDER BY ts {direction} LIMIT %s",
        (machine_id, parameter, start, end, limit),
    ).fetchall()
    return [(ts, value) for ts, value in rows]


def fetch_series_from_rollups(
    conn: Connection,
    machine_id: str,
    parameter: str,
    start: datetime,
    end: datetime,
    interval: timedelta,
) -> list[SeriesRow]:
    rows = conn.execute(
        f"SELECT date_bin(%s, bucket, {_EPOCH_ORIGIN}) AS b, min(min_value), "
        "max(max_value), sum(sum_value) / sum(count), sum(count) "
        "FROM rollups_minute "
        "WHERE machine_id = %s AND parameter = %s "
        "AND bucket >= date_trunc('minute', %s::timestamptz, 'UTC') AND bucket < %s "
        "GROUP BY b ORDER BY b",
        (interval, machine_id, parameter, start, end),
    ).fetchall()
    return [SeriesRow(b, lo, hi, float(avg), int(n)) for b, lo, hi, avg, n in rows]


def fetch_series_from_readings(
    conn: Connection,
    machine_id: str,
    parameter: str,
    start: datetime,
    end: datetime,
    interval: timedelta,
) -> list[SeriesRow]:
    rows = conn.execute(
        f"SELECT date_bin(%s, ts, {_EPOCH_ORIGIN}) AS b, min(value), max(value), "
        "avg(value), count(*) "
        "FROM readings "
        "WHERE machine_id = %s AND parameter = %s AND ts >= %s AND ts < %s "
        "GROUP BY b ORDER BY b",
        (interval, machine_id, parameter, start, end),
    ).fetchall()
    return [SeriesRow(b, lo, hi, float(avg), int(n)) for b, lo, hi, avg, n in rows]


_ALERT_COLUMNS = (
    "a.alert_id, a.machine_id, m.machine_type, a.parameter, a.severity, a.value, "
    "a.threshold, a.opened_at, a.updated_at, a.cleared_at, a.acknowledged_at, "
    "a.acknowledged_by"
)


def fetch_alerts(
    conn: Connection,
    state: Literal["open", "cleared", "all"],
    severity: str | None,
    machine_id: str | None,
    limit: int,
) -> list[AlertRow]:
    """Newest first; `open` includes acknowledged alerts until they clear."""
    conditions: list[str] = []
    params: list[Any] = []
    if state == "open":
        conditions.append("a.cleared_at IS NULL")
    elif state == "cleared":
        conditions.append("a.cleared_at IS NOT NULL")
    if severity is not None:
        conditions.append("a.severity = %s")
        params.append(severity)
    if machine_id is not None:
        conditions.append("a.machine_id = %s")
        params.append(machine_id)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    rows = conn.execute(
        f"SELECT {_ALERT_COLUMNS} FROM alerts a "
        "JOIN machines m ON m.machine_id = a.machine_id "
        f"{where} ORDER BY a.opened_at DESC, a.alert_id DESC LIMIT %s",
        (*params, limit),
    ).fetchall()
    return [AlertRow(*row) for row in rows]


def fetch_alert(conn: Connection, alert_id: int) -> AlertRow | None:
    row = conn.execute(
        f"SELECT {_ALERT_COLUMNS} FROM alerts a "
        "JOIN machines m ON m.machine_id = a.machine_id WHERE a.alert_id = %s",
        (alert_id,),
    ).fetchone()
    return AlertRow(*row) if row else None


def acknowledge_alert(
    conn: Connection, alert_id: int, by: str | None, now: datetime
) -> AlertRow | None:
    """Acknowledge an unacknowledged alert; None if missing or already done."""
    row = conn.execute(
        "WITH acked AS ("
        " UPDATE alerts SET acknowledged_at = %s, acknowledged_by = %s"
        " WHERE alert_id = %s AND acknowledged_at IS NULL RETURNING *"
        f") SELECT {_ALERT_COLUMNS} FROM acked a "
        "JOIN machines m ON m.machine_id = a.machine_id",
        (now, by, alert_id),
    ).fetchone()
    return AlertRow(*row) if row else None


def schema_version(conn: Connection) -> int:
    return current_version(conn)

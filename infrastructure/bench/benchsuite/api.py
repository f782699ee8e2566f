"""The API at scale: millions of readings loaded with COPY, then latency of the
dashboard's queries through API Gateway, and the query plans behind them.

The data look like what ingestion writes: 50 machines (the simulator's ids and
types), every parameter of each machine's type read at each tick, ticks evenly
spread over 30 days and staggered between machines, rows in time order (as
ingestion appends them), values inside the normal range. rollups_minute,
latest_readings and machines are derived from the readings with SQL, so they
agree with them exactly, as ingestion keeps them.
"""

from __future__ import annotations

import io
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from benchsuite.functions import HttpClient, stats_ms
from benchsuite.stack import REPO_DIR, Stack
from orchestralink.catalog import load_catalog

MACHINES = 50
DAYS = 30
_TYPES = [("Drilling", "drill"), ("Milling", "mill"), ("Lathe", "lathe")]

_DERIVED = [
    """
    INSERT INTO rollups_minute (machine_id, parameter, bucket, min_value, max_value,
                                sum_value, count)
    SELECT machine_id, parameter, date_trunc('minute', ts, 'UTC'), min(value),
           max(value), sum(value), count(*)
    FROM readings GROUP BY 1, 2, 3
    """,
    """
    INSERT INTO latest_readings (machine_id, parameter, ts, value, status)
    SELECT DISTINCT ON (machine_id, parameter) machine_id, parameter, ts, value,
           'NORMAL'
    FROM readings ORDER BY machine_id, parameter, ts DESC
    """,
    """
    UPDATE machines m SET first_seen = r.first, last_seen = r.last,
                          last_sequence = r.seq
    FROM (SELECT machine_id, min(ts) AS first, max(ts) AS last,
                 max(sequence) AS seq
          FROM readings GROUP BY 1) AS r
    WHERE m.machine_id = r.machine_id
    """,
]


@dataclass
class LoadedData:
    rows: int
    machines: list[tuple[str, str, list[str]]]  # id, type, parameters
    start: datetime
    end: datetime
    seconds: dict[str, float] = field(default_factory=dict)
    table_size: str = ""


def load_readings(stack: Stack, rows: int, seed: int = 11) -> LoadedData:
    """Truncate and fill the telemetry tables with about `rows` readings."""
    catalog = load_catalog()
    machines = []
    for number in range(1, MACHINES + 1):
        type_name, prefix = _TYPES[(number - 1) % len(_TYPES)]
        names = list(catalog.machine_type(type_name).parameters)
        machines.append((f"{prefix}-{number:03d}", type_name, names))
    per_tick = sum(len(m[2]) for m in machines)
    ticks = max(1, rows // per_tick)
    end = datetime.now(UTC).replace(microsecond=0)
    start = end - timedelta(days=DAYS)
    step = timedelta(days=DAYS) / ticks
    data = LoadedData(ticks * per_tick, machines, start, end)
    rng = random.Random(seed)
    bounds = {
        (t, p.name): (p.normal_min, p.normal_max)
        for t, _ in _TYPES
        for p in catalog.machine_type(t).parameters.values()
    }

    stack.wait_queue_empty()
    stack.truncate()
    with stack.connect() as conn:
        started = time.perf_counter()
        with conn.cursor().copy(
            "COPY machines (machine_id, machine_type, first_seen, last_seen) FROM STDIN"
        ) as copy:
            for machine_id, type_name, _names in machines:
                copy.write_row((machine_id, type_name, start, end))
        with conn.transaction(), conn.cursor() as cur:
            copy_sql = (
                "COPY readings (machine_id, parameter, ts, value, sequence, "
                "received_at) FROM STDIN"
            )
            with cur.copy(copy_sql) as copy:
                buffer = io.StringIO()
                stagger = step / MACHINES
                for tick in range(ticks):
                    base = start + step * tick
                    for index, (machine_id, type_name, names) in enumerate(machines):
                        moment = base + stagger * index
                        ts = moment.isoformat()
                        received = (moment + timedelta(milliseconds=40)).isoformat()
                        for name in names:
                            low, high = bounds[(type_name, name)]
                            value = low + (high - low) * rng.random()
                            buffer.write(
                                f"{machine_id}\t{name}\t{ts}\t{value:.3f}\t"
                                f"{tick + 1}\t{received}\n"
                            )
                    if tick % 2000 == 1999:
                        copy.write(buffer.getvalue())
                        buffer = io.StringIO()
                copy.write(buffer.getvalue())
        data.seconds["COPY readings"] = time.perf_counter() - started
        for statement in _DERIVED:
            began = time.perf_counter()
            conn.execute(statement)
            label = statement.split()[0] + " " + statement.split()[2]
            data.seconds[label] = time.perf_counter() - began
        began = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        data.seconds["VACUUM ANALYZE"] = time.perf_counter() - began
        row = conn.execute(
            "SELECT pg_size_pretty(pg_total_relation_size('readings'))"
        ).fetchone()
        data.table_size = str(row[0]) if row else ""
    return data


@dataclass
class Endpoint:
    name: str
    target_p99_ms: float | None
    paths: list[str]
    latency: dict[str, float] = field(default_factory=dict)
    plan: str = ""


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def endpoints(data: LoadedData, requests: int, seed: int = 5) -> list[Endpoint]:
    """The four dashboard queries, each with varied machines and parameters."""
    rng = random.Random(seed)

    def pick() -> tuple[str, str]:
        machine_id, _type, names = rng.choice(data.machines)
        return machine_id, rng.choice(names)

    def hour() -> str:
        machine_id, name = pick()
        offset = rng.uniform(0, (data.end - data.start).total_seconds() - 3600)
        begin = data.start + timedelta(seconds=offset)
        return (
            f"/machines/{machine_id}/readings?parameter={name}"
            f"&from={_iso(begin)}&to={_iso(begin + timedelta(hours=1))}"
        )

    def series(span: timedelta) -> str:
        machine_id, name = pick()
        return (
            f"/machines/{machine_id}/series?parameter={name}"
            f"&from={_iso(data.end - span)}&to={_iso(data.end)}"
        )

    return [
        Endpoint("fleet overview: GET /machines", 50, ["/machines"] * requests),
        Endpoint(
            "raw readings, 1 hour: GET /machines/{id}/readings",
            None,
            [hour() for _ in range(requests)],
        ),
        Endpoint(
            "24-hour series (1m buckets): GET /machines/{id}/series",
            None,
            [series(timedelta(days=1)) for _ in range(requests)],
        ),
        Endpoint(
            "30-day series (30m buckets): GET /machines/{id}/series",
            100,
            [series(timedelta(days=DAYS)) for _ in range(requests)],
        ),
    ]


def measure_api(stack: Stack, data: LoadedData, requests: int) -> list[Endpoint]:
    """Sequential requests on one keep-alive connection, after a warm-up."""
    client = HttpClient(stack.api_url)
    cases = endpoints(data, requests)
    try:
        for _ in range(30):  # warm workers and connections (first may be 503)
            client.get("/machines")
        for case in cases:
            for path in case.paths[:20]:
                client.timed_get(path)
            case.latency = stats_ms([client.timed_get(path) for path in case.paths])
    finally:
        client.close()
    explain_plans(stack, data, cases)
    return cases


class _ExplainingConnection:
    """Stands in for the API's psycopg connection: every statement the API's
    query functions run is executed as EXPLAIN (ANALYZE, BUFFERS) instead, so
    the plans shown are those of the API's own SQL, with its parameters."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self.plans: list[str] = []

    def execute(self, query: Any, params: Any = None) -> _ExplainingConnection:
        prefix = "EXPLAIN (ANALYZE, BUFFERS) "
        text = query if isinstance(query, str) else query.as_string(self._conn)
        rows = self._conn.execute(prefix + text, params).fetchall()
        self.plans.append("\n".join(row[0] for row in rows))
        return self

    def fetchall(self) -> list[Any]:
        return []

    def fetchone(self) -> None:
        return None


def explain_plans(stack: Stack, data: LoadedData, cases: list[Endpoint]) -> None:
    """Plans of the SQL behind each endpoint (functions/api/chalicelib/queries.py),
    called with what the API passes for the endpoint's first request."""
    api_dir = str(REPO_DIR / "functions" / "api")
    if api_dir not in sys.path:
        sys.path.insert(0, api_dir)
    from chalicelib import queries

    machine_id, _type, names = data.machines[0]
    parameter = names[0]
    end = data.end
    calls: list[Callable[[Any], object]] = [
        lambda c: queries.fetch_machines(c),
        lambda c: queries.fetch_readings(
            c,
            machine_id,
            parameter,
            end - timedelta(days=3),
            end - timedelta(days=3) + timedelta(hours=1),
            "asc",
            1000,
        ),
        lambda c: queries.fetch_series_from_rollups(
            c, machine_id, parameter, end - timedelta(days=1), end, timedelta(minutes=1)
        ),
        lambda c: queries.fetch_series_from_rollups(
            c,
            machine_id,
            parameter,
            end - timedelta(days=DAYS),
            end,
            timedelta(minutes=30),
        ),
    ]
    with stack.connect() as conn:
        for case, call in zip(cases, calls, strict=True):
            explaining = _ExplainingConnection(conn)
            call(explaining)
            case.plan = "\n\n".join(explaining.plans)

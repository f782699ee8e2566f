"""End-to-end ingest: the simulator's load mode against the deployed stack,
and the per-message baseline against the same broker and PostgreSQL.

Definitions (stated in the report next to the figures):

- published: readings the simulator handed to the broker and had acknowledged
  (QoS 1), by its own JSON summary.
- stored per second: rows stored / seconds from the first to the last commit
  of the run (PostgreSQL commit timestamps, `track_commit_timestamp = on`),
  ramp-up and tail included.
- publish-to-queryable latency of a reading: its commit timestamp minus its
  own `ts`, which the simulator sets from the wall clock just before it hands
  the message to paho. Committed is queryable: the API reads the same table.
  Same host, same clock. Every stored reading counts, not a sample.
- lost / stored twice: exact accounting (`benchsuite.accounting`).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psycopg import Connection, sql

from benchsuite.accounting import Accounting, account_table, sent_from_summary
from benchsuite.baseline import create_table
from benchsuite.cpu import CpuMeter, CpuSample, Profile, start_py_spy, summarise_profile
from benchsuite.stack import BenchError, Stack

logger = logging.getLogger(__name__)

BASELINE_TABLE = "bench_baseline_readings"
BENCH_DIR = Path(__file__).resolve().parents[1]


@dataclass
class IngestRun:
    """One measured run: what was sent, stored, how fast and how late."""

    name: str
    batch: bool
    machines: int
    summary: dict[str, Any]
    accounting: Accounting
    cpu: CpuSample
    store_seconds: float = 0.0
    stored_per_second: float = 0.0
    published_per_second: float = 0.0
    latency: dict[str, float] = field(default_factory=dict)
    broker_latency: dict[str, float] = field(default_factory=dict)
    per_second: list[tuple[float, int, int, float, float]] = field(
        default_factory=list
    )  # (second since start, published, stored, latency p50, latency p99)
    settings: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        return {
            "run": self.name,
            "published/s": self.published_per_second,
            "stored/s": self.stored_per_second,
            "p50 s": self.latency.get("p50"),
            "p95 s": self.latency.get("p95"),
            "p99 s": self.latency.get("p99"),
            "lost": self.accounting.lost,
            "twice": self.accounting.duplicated,
        }


def run_simulator(
    stack: Stack,
    summary_path: Path,
    *,
    batch: bool,
    machines: int,
    duration: float | None,
    count: int | None,
    seed: int = 7,
) -> subprocess.Popen[bytes]:
    """Start the simulator's load mode as its own process (as `make` would)."""
    options = [
        "--load", str(count or 100_000_000),
        "--summary-file", str(summary_path),
        "--drain-timeout", "120",
    ]  # fmt: skip
    if duration:
        options += ["--duration", f"{duration:g}"]
    if batch:
        options.append("--batch")
    return stack.simulator(machines, seed, *options)


def wait_stored(
    conn: Connection[Any], table: str, expected: int, stall: float = 30
) -> int:
    """Poll the row count until it reaches `expected` or stops growing."""
    query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
    last, last_change = -1, time.monotonic()
    while True:
        row = conn.execute(query).fetchone()
        count = int(row[0]) if row else 0
        if count >= expected:
            return count
        if count != last:
            last, last_change = count, time.monotonic()
        elif time.monotonic() - last_change > stall:
            logger.warning("%s stopped at %d of %d rows", table, count, expected)
            return count
        time.sleep(0.5)


_LATENCY = """
SELECT percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY lat),
       max(lat), min(c), max(c)
FROM (SELECT pg_xact_commit_timestamp(xmin) AS c,
             extract(epoch FROM pg_xact_commit_timestamp(xmin) - ts) AS lat
      FROM {}) AS x
"""

_BROKER_LATENCY = """
SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (
           ORDER BY extract(epoch FROM received_at - ts)),
       percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (
           ORDER BY extract(epoch FROM pg_xact_commit_timestamp(xmin) - received_at))
FROM {}
"""

_PER_SECOND = """
WITH r AS (
    SELECT ts, pg_xact_commit_timestamp(xmin) AS c FROM {}
), t0 AS (SELECT least(min(ts), min(c)) AS t FROM r),
published AS (
    SELECT floor(extract(epoch FROM ts - t0.t)) AS s, count(*) AS n
    FROM r, t0 GROUP BY 1
), stored AS (
    SELECT floor(extract(epoch FROM c - t0.t)) AS s, count(*) AS n,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM c - ts)) p50,
           percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM c - ts)) p99
    FROM r, t0 GROUP BY 1
)
SELECT coalesce(p.s, s.s), coalesce(p.n, 0), coalesce(s.n, 0), s.p50, s.p99
FROM published p FULL JOIN stored s ON p.s = s.s ORDER BY 1
"""


def measure(
    conn: Connection[Any], table: str, run: IngestRun, with_broker: bool
) -> None:
    """Latency, rate and the per-second series from the stored rows."""
    name = sql.Identifier(table)
    row = conn.execute(sql.SQL(_LATENCY).format(name)).fetchone()
    if row is None or row[0] is None:
        return
    (p50, p95, p99), worst, first, last = row
    run.latency = {"p50": p50, "p95": p95, "p99": p99, "max": float(worst)}
    run.store_seconds = max((last - first).total_seconds(), 1e-3)
    run.stored_per_second = run.accounting.stored / run.store_seconds
    if with_broker:
        broker = conn.execute(sql.SQL(_BROKER_LATENCY).format(name)).fetchone()
        if broker:
            run.broker_latency = {
                "broker p50": broker[0][0],
                "broker p99": broker[0][1],
                "queue+function p50": broker[1][0],
                "queue+function p99": broker[1][1],
            }
    run.per_second = [
        (float(s), int(p), int(n), float(a or 0), float(b or 0))
        for s, p, n, a, b in conn.execute(sql.SQL(_PER_SECOND).format(name))
    ]


def ingest_run(
    stack: Stack,
    workdir: Path,
    name: str,
    *,
    batch: bool,
    machines: int,
    duration: float,
    profile_seconds: int = 0,
) -> tuple[IngestRun, Profile | None]:
    """Truncate, publish for `duration` seconds, wait until stored, account."""
    stack.wait_queue_empty()
    stack.truncate()
    summary_path = workdir / f"{name}-summary.json"
    pids = stack.service_pids()
    meter = CpuMeter({**{pid: label for label, pid in pids.items()}})
    meter.start()
    spies = []
    if profile_seconds and "localcloud" in pids:
        targets = [pids["localcloud"], *ingest_worker_pids(pids["localcloud"])]
        for pid in targets:
            spy = start_py_spy(pid, profile_seconds, workdir / f"{name}.{pid}.pyspy")
            if spy is not None:
                spies.append(spy)
    simulator = run_simulator(
        stack,
        summary_path,
        batch=batch,
        machines=machines,
        duration=duration,
        count=None,
    )
    if simulator.wait(timeout=duration + 180) != 0:
        raise BenchError(f"the simulator failed in run {name}: see its log above")
    summary = json.loads(summary_path.read_text())
    sent = sent_from_summary(summary)
    with stack.connect() as conn:
        wait_stored(conn, "readings", summary["readings_sent"])
        cpu = meter.stop()
        accounting = account_table(conn, "readings", sent)
        run = IngestRun(name, batch, machines, summary, accounting, cpu)
        run.published_per_second = summary["readings_sent"] / max(
            summary["publish_seconds"], 1e-3
        )
        measure(conn, "readings", run, with_broker=True)
    profile = None
    if spies:
        errors = [spy.communicate(timeout=profile_seconds + 60)[1] for spy in spies]
        merged = workdir / f"{name}.pyspy.txt"
        with merged.open("w") as out:
            for part in sorted(workdir.glob(f"{name}.*.pyspy")):
                pid = int(part.name.split(".")[-2])
                label = "local cloud" if pid == pids["localcloud"] else "ingest worker"
                for line in part.read_text(errors="replace").splitlines():
                    out.write(f"process {label};{line}\n")
                part.unlink()
        profile = summarise_profile(merged)
        if not profile.samples:
            profile.error = b" ".join(e or b"" for e in errors).decode()[-500:]
    return run, profile


def ingest_worker_pids(localcloud_pid: int) -> list[int]:
    """The warm IngestFunction workers (children of the local cloud)."""
    import psutil

    found = []
    for child in psutil.Process(localcloud_pid).children(recursive=True):
        try:
            if "ingest.handler" in " ".join(child.cmdline()):
                found.append(child.pid)
        except psutil.Error:
            continue
    return found


def baseline_run(
    stack: Stack, workdir: Path, *, machines: int, count: int
) -> IngestRun:
    """The per-message baseline on the same broker and database, the IoT rule
    disabled meanwhile so that the stack's own ingestion does not compete."""
    iot = stack.client("iot")
    rule = stack.outputs["TelemetryRuleName"]
    stack.wait_queue_empty()
    stack.truncate()
    with stack.connect() as conn:
        create_table(conn, BASELINE_TABLE)
        conn.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(BASELINE_TABLE)))
    iot.disable_topic_rule(ruleName=rule)
    time.sleep(2)  # the engine follows rule changes within a second
    env = dict(
        os.environ,
        MQTT_PASSWORD=stack.passwords["rules-engine"],
        BASELINE_DSN=stack.conninfo(),
        PYTHONPATH=str(BENCH_DIR),
    )
    service = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchsuite.baseline",
            "--port",
            str(stack.mqtt_port),
            "--username",
            "rules-engine",
            "--table",
            BASELINE_TABLE,
        ],
        env=env,
        stdout=subprocess.PIPE,
    )
    try:
        assert service.stdout is not None
        if service.stdout.readline().strip() != b"subscribed":
            raise BenchError("the baseline service did not subscribe")
        pids = stack.service_pids()
        meter = CpuMeter({pids["mosquitto"]: "mosquitto", service.pid: "baseline"})
        meter.start()
        summary_path = workdir / "baseline-summary.json"
        simulator = run_simulator(
            stack,
            summary_path,
            batch=False,
            machines=machines,
            duration=None,
            count=count,
        )
        if simulator.wait(timeout=600) != 0:
            raise BenchError("the simulator failed in the baseline run")
        summary = json.loads(summary_path.read_text())
        sent = sent_from_summary(summary)
        with stack.connect() as conn:
            wait_stored(conn, BASELINE_TABLE, summary["readings_sent"])
            cpu = meter.stop()
            accounting = account_table(conn, BASELINE_TABLE, sent)
            run = IngestRun("baseline", False, machines, summary, accounting, cpu)
            run.published_per_second = summary["readings_sent"] / max(
                summary["publish_seconds"], 1e-3
            )
            measure(conn, BASELINE_TABLE, run, with_broker=False)
            row = conn.execute("SELECT count(*) FROM readings").fetchone()
            if row and row[0]:
                raise BenchError(
                    f"{row[0]} readings reached the stack during the baseline run: "
                    "the IoT rule was not disabled"
                )
    finally:
        service.terminate()
        service.wait(timeout=30)
        iot.enable_topic_rule(ruleName=rule)
        time.sleep(2)
    return run

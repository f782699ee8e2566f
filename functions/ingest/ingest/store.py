"""Writes a batch of validated readings to PostgreSQL in one transaction.

Bulk and idempotent, because a fleet sends thousands of readings per second and
SQS delivers at least once:

1. machines are upserted (first/last seen, last sequence);
2. readings are COPYed into a temporary table, then inserted with
   `ON CONFLICT DO NOTHING RETURNING`, so only rows that are really new come
   back; the per-minute rollups are fed from exactly those rows in the same
   statement, which is what makes a redelivered reading count once;
3. latest_readings moves forward for each parameter whose newest new reading is
   newer than what it holds (a late, older reading is history, not news);
4. alerts open, escalate and clear from the new readings in time order
   (`orchestralink.alerts`).

Concurrent invocations touching the same machine take a transaction-scoped
advisory lock per machine, in a fixed order, before reading alert state, so two
batches can neither open two alerts for one parameter nor deadlock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from orchestralink.alerts import (
    AlertChange,
    AlertEvent,
    ClassifiedReading,
    OpenAlert,
    alert_changes,
)
from orchestralink.catalog import Catalog, Parameter
from orchestralink.telemetry import Reading

# Any fixed number, distinct from the migration lock; the second key is the machine.
_MACHINE_LOCK_SPACE = 0x1C6E57

_CREATE_INCOMING = """
CREATE TEMP TABLE IF NOT EXISTS ingest_incoming (
    machine_id  text NOT NULL,
    parameter   text NOT NULL,
    ts          timestamptz NOT NULL,
    value       double precision NOT NULL,
    sequence    bigint,
    received_at timestamptz NOT NULL
) ON COMMIT DELETE ROWS
"""

_LOCK_MACHINES = """
SELECT count(pg_advisory_xact_lock(%s, h))
FROM (SELECT DISTINCT hashtext(m) AS h FROM unnest(%s::text[]) AS m ORDER BY h) AS k
"""

_UPSERT_MACHINES = """
INSERT INTO machines AS m (machine_id, machine_type, first_seen, last_seen,
                           last_sequence)
SELECT * FROM unnest(%s::text[], %s::text[], %s::timestamptz[], %s::timestamptz[],
                     %s::bigint[])
ORDER BY 1
ON CONFLICT (machine_id) DO UPDATE SET
    machine_type = EXCLUDED.machine_type,
    first_seen = LEAST(m.first_seen, EXCLUDED.first_seen),
    last_seen = GREATEST(m.last_seen, EXCLUDED.last_seen),
    last_sequence = CASE WHEN EXCLUDED.last_seen >= m.last_seen
                         THEN coalesce(EXCLUDED.last_sequence, m.last_sequence)
                         ELSE m.last_sequence END
"""

_CURRENT_STATE = """
SELECT k.machine_id, k.parameter, l.ts,
       a.alert_id, a.severity, a.threshold, a.opened_at
FROM unnest(%s::text[], %s::text[]) AS k (machine_id, parameter)
LEFT JOIN latest_readings AS l
       ON l.machine_id = k.machine_id AND l.parameter = k.parameter
LEFT JOIN alerts AS a
       ON a.machine_id = k.machine_id AND a.parameter = k.parameter
      AND a.cleared_at IS NULL
"""

_COPY_INCOMING = (
    "COPY ingest_incoming (machine_id, parameter, ts, value, sequence, received_at)"
    " FROM STDIN"
)

# Rollups are fed from `inserted` only: a duplicate never reaches them.
_INSERT_READINGS = """
WITH inserted AS (
    INSERT INTO readings (machine_id, parameter, ts, value, sequence, received_at)
    SELECT machine_id, parameter, ts, value, sequence, received_at
    FROM ingest_incoming
    ORDER BY machine_id, parameter, ts
    ON CONFLICT DO NOTHING
    RETURNING machine_id, parameter, ts, value
), rolled_up AS (
    INSERT INTO rollups_minute AS r (machine_id, parameter, bucket, min_value,
                                     max_value, sum_value, count)
    SELECT machine_id, parameter, date_trunc('minute', ts, 'UTC'),
           min(value), max(value), sum(value), count(*)
    FROM inserted
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3
    ON CONFLICT (machine_id, parameter, bucket) DO UPDATE SET
        min_value = LEAST(r.min_value, EXCLUDED.min_value),
        max_value = GREATEST(r.max_value, EXCLUDED.max_value),
        sum_value = r.sum_value + EXCLUDED.sum_value,
        count = r.count + EXCLUDED.count
)
SELECT machine_id, parameter, ts, value FROM inserted
"""

_UPSERT_LATEST = """
INSERT INTO latest_readings AS l (machine_id, parameter, ts, value, status)
SELECT * FROM unnest(%s::text[], %s::text[], %s::timestamptz[],
                     %s::double precision[], %s::text[])
ORDER BY 1, 2
ON CONFLICT (machine_id, parameter) DO UPDATE SET
    ts = EXCLUDED.ts, value = EXCLUDED.value, status = EXCLUDED.status
WHERE l.ts < EXCLUDED.ts
"""

_OPEN_ALERT = """
INSERT INTO alerts (machine_id, parameter, severity, value, threshold, opened_at,
                    updated_at)
VALUES (%s, %s, %s, %s, %s, %s, %s)
RETURNING alert_id
"""

_ESCALATE_ALERT = """
UPDATE alerts SET severity = %s, value = %s, threshold = %s, updated_at = %s
WHERE alert_id = %s
"""

_CLEAR_ALERT = "UPDATE alerts SET cleared_at = %s, updated_at = %s WHERE alert_id = %s"

Key = tuple[str, str]


@dataclass
class WriteResult:
    """What one batch did to the database."""

    received: int = 0
    stored: int = 0
    alerts: list[AlertEvent] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return self.received - self.stored


@dataclass
class _PairState:
    latest_ts: datetime | None
    open_alert: OpenAlert | None


class ReadingStore:
    """Stores batches of readings; classification comes from the catalog."""

    def __init__(
        self, catalog: Catalog, clock: Callable[[], datetime] | None = None
    ) -> None:
        self._catalog = catalog
        self._clock = clock or (lambda: datetime.now(UTC))
        self._parameters: dict[Key, Parameter] = {}

    def write(
        self, conn: psycopg.Connection[Any], readings: Sequence[Reading]
    ) -> WriteResult:
        """Store `readings` in one transaction; raises psycopg.Error on failure.

        Nothing is committed unless everything is, so the caller may retry the
        whole batch after an error.
        """
        result = WriteResult(received=len(readings))
        if not readings:
            return result
        if conn.info.transaction_status != TransactionStatus.IDLE:
            conn.rollback()  # never nest inside someone's open transaction

        types = {r.machine_id: r.machine_type for r in readings}
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(_CREATE_INCOMING)
            cur.execute(_LOCK_MACHINES, (_MACHINE_LOCK_SPACE, sorted(types)))
            self._upsert_machines(cur, readings)
            keys = sorted({(r.machine_id, r.parameter) for r in readings})
            state = self._current_state(cur, keys)
            inserted = self._insert_readings(cur, readings)
            result.stored = len(inserted)
            changes = self._update_latest(cur, types, inserted, state)
            result.alerts = self._apply_alerts(cur, types, changes, state)
        return result

    def _upsert_machines(
        self, cur: psycopg.Cursor[Any], readings: Sequence[Reading]
    ) -> None:
        machines: dict[str, list[Any]] = {}
        for r in readings:
            row = machines.get(r.machine_id)
            if row is None:
                machines[r.machine_id] = [r.machine_type, r.ts, r.ts, r.sequence]
                continue
            row[0] = r.machine_type
            if r.ts < row[1]:
                row[1] = r.ts
            if r.ts >= row[2]:
                row[2] = r.ts
                row[3] = r.sequence if r.sequence is not None else row[3]
        ids = list(machines)
        cur.execute(
            _UPSERT_MACHINES,
            (
                ids,
                [machines[m][0] for m in ids],
                [machines[m][1] for m in ids],
                [machines[m][2] for m in ids],
                [machines[m][3] for m in ids],
            ),
        )

    def _current_state(
        self, cur: psycopg.Cursor[Any], keys: list[Key]
    ) -> dict[Key, _PairState]:
        cur.execute(_CURRENT_STATE, ([k[0] for k in keys], [k[1] for k in keys]))
        state: dict[Key, _PairState] = {}
        for machine_id, parameter, latest_ts, alert_id, *alert in cur.fetchall():
            open_alert = None
            if alert_id is not None:
                severity, threshold, opened_at = alert
                open_alert = OpenAlert(alert_id, severity, threshold, opened_at)
            state[(machine_id, parameter)] = _PairState(latest_ts, open_alert)
        return state

    def _insert_readings(
        self, cur: psycopg.Cursor[Any], readings: Sequence[Reading]
    ) -> list[tuple[str, str, datetime, float]]:
        now = self._clock()
        with cur.copy(_COPY_INCOMING) as copy:
            for r in readings:
                copy.write_row(
                    (
                        r.machine_id,
                        r.parameter,
                        r.ts,
                        r.value,
                        r.sequence,
                        r.received_at or now,
                    )
                )
        cur.execute(_INSERT_READINGS)
        return cur.fetchall()

    def _parameter(self, machine_type: str, name: str) -> Parameter:
        key = (machine_type, name)
        parameter = self._parameters.get(key)
        if parameter is None:
            parameter = self._catalog.parameter(machine_type, name)
            self._parameters[key] = parameter
        return parameter

    def _update_latest(
        self,
        cur: psycopg.Cursor[Any],
        types: dict[str, str],
        inserted: list[tuple[str, str, datetime, float]],
        state: dict[Key, _PairState],
    ) -> dict[Key, list[ClassifiedReading]]:
        """Move latest_readings forward; return each pair's news, oldest first."""
        news: dict[Key, list[ClassifiedReading]] = defaultdict(list)
        for machine_id, parameter, ts, value in inserted:
            previous = state[(machine_id, parameter)].latest_ts
            if previous is not None and ts <= previous:
                continue  # late arrival: stored and rolled up, but not news
            p = self._parameter(types[machine_id], parameter)
            threshold = p.threshold_for(value)
            status = p.classify(value) if threshold is not None else "NORMAL"
            news[(machine_id, parameter)].append(
                ClassifiedReading(ts, value, status, threshold)
            )

        rows = []
        for key in sorted(news):
            pair = news[key]
            pair.sort(key=lambda reading: reading.ts)
            newest = pair[-1]
            rows.append((*key, newest.ts, newest.value, newest.status))
        if rows:
            cur.execute(
                _UPSERT_LATEST, [list(column) for column in zip(*rows, strict=True)]
            )
        return news

    def _apply_alerts(
        self,
        cur: psycopg.Cursor[Any],
        types: dict[str, str],
        news: dict[Key, list[ClassifiedReading]],
        state: dict[Key, _PairState],
    ) -> list[AlertEvent]:
        events: list[AlertEvent] = []
        for key in sorted(news):
            current = state[key].open_alert
            for change in alert_changes(current, news[key]):
                current = self._apply_change(cur, key, change, current)
                events.append(self._event(key, types[key[0]], change, current))
                if change.action == "cleared":
                    current = None
        return events

    def _apply_change(
        self,
        cur: psycopg.Cursor[Any],
        key: Key,
        change: AlertChange,
        current: OpenAlert | None,
    ) -> OpenAlert:
        """Write one change; return the alert as it now stands."""
        reading = change.reading
        if change.action == "opened" or current is None:
            cur.execute(
                _OPEN_ALERT,
                (
                    *key,
                    change.severity,
                    reading.value,
                    change.threshold,
                    reading.ts,
                    reading.ts,
                ),
            )
            row = cur.fetchone()
            assert row is not None  # INSERT ... RETURNING returns its row
            return OpenAlert(row[0], change.severity, change.threshold, reading.ts)
        if change.action == "escalated":
            cur.execute(
                _ESCALATE_ALERT,
                (
                    change.severity,
                    reading.value,
                    change.threshold,
                    reading.ts,
                    current.alert_id,
                ),
            )
            return OpenAlert(
                current.alert_id, change.severity, change.threshold, current.opened_at
            )
        cur.execute(_CLEAR_ALERT, (reading.ts, reading.ts, current.alert_id))
        return current

    def _event(
        self, key: Key, machine_type: str, change: AlertChange, alert: OpenAlert
    ) -> AlertEvent:
        machine_id, parameter = key
        reading = change.reading
        return AlertEvent(
            event=change.action,
            alert_id=alert.alert_id,
            machine_id=machine_id,
            machine_type=machine_type,
            parameter=parameter,
            unit=self._parameter(machine_type, parameter).unit,
            severity=change.severity,
            previous_severity=change.previous_severity,
            value=reading.value,
            threshold=alert.threshold,
            timestamp=reading.ts,
            opened_at=alert.opened_at,
            cleared_at=reading.ts if change.action == "cleared" else None,
        )

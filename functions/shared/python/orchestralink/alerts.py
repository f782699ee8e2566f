"""When readings open, escalate and clear alerts, and what an alert event says.

An alert belongs to one machine and parameter; at most one is open at a time
(the `alerts_one_open_per_parameter` index holds the database to that). Walking
a parameter's new readings in time order:

* a WARNING or CRITICAL reading with no open alert opens one at that severity;
* a CRITICAL reading while a WARNING alert is open escalates it (severity only
  ever rises while the alert is open, so a value falling from CRITICAL back to
  WARNING does not flap the alert);
* a NORMAL reading clears the open alert.

Ingestion applies these changes in the transaction that stores the readings and
publishes one `AlertEvent` per change on MQTT topic `alerts/{machine_id}` after
the commit. The API and the dashboard read the same JSON (see `AlertEvent`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from orchestralink.catalog import Status

__all__ = [
    "ALERT_TOPIC_PREFIX",
    "AlertAction",
    "AlertChange",
    "AlertEvent",
    "ClassifiedReading",
    "OpenAlert",
    "Severity",
    "alert_changes",
    "alert_topic",
]

Severity = Literal["WARNING", "CRITICAL"]
AlertAction = Literal["opened", "escalated", "cleared"]
ALERT_TOPIC_PREFIX = "alerts"


def alert_topic(machine_id: str) -> str:
    return f"{ALERT_TOPIC_PREFIX}/{machine_id}"


@dataclass(frozen=True)
class ClassifiedReading:
    """A stored reading with its catalog status and the threshold it crossed."""

    ts: datetime
    value: float
    status: Status
    threshold: float | None


@dataclass(frozen=True)
class OpenAlert:
    """The open alert of one machine and parameter, as the database has it."""

    alert_id: int
    severity: Severity
    threshold: float
    opened_at: datetime


@dataclass(frozen=True)
class AlertChange:
    """One transition; `alert_id` is None for an alert opened by this batch."""

    action: AlertAction
    severity: Severity
    previous_severity: Severity | None
    reading: ClassifiedReading
    threshold: float


def alert_changes(
    open_alert: OpenAlert | None, readings: Iterable[ClassifiedReading]
) -> list[AlertChange]:
    """The transitions `readings` (oldest first) cause, starting from `open_alert`.

    A batch may hold several readings of one parameter, so one call can return
    open, clear and open again; each becomes its own event.
    """
    changes: list[AlertChange] = []
    severity: Severity | None = open_alert.severity if open_alert else None
    threshold = open_alert.threshold if open_alert else 0.0

    for reading in readings:
        if reading.status == "NORMAL":
            if severity is not None:
                changes.append(
                    AlertChange("cleared", severity, None, reading, threshold)
                )
                severity = None
            continue

        crossed = reading.threshold if reading.threshold is not None else 0.0
        if severity is None:
            severity = reading.status
            threshold = crossed
            changes.append(AlertChange("opened", severity, None, reading, threshold))
        elif severity == "WARNING" and reading.status == "CRITICAL":
            threshold = crossed
            changes.append(
                AlertChange("escalated", "CRITICAL", severity, reading, threshold)
            )
            severity = "CRITICAL"
    return changes


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class AlertEvent:
    """What is published on `alerts/{machine_id}` for each alert change.

    JSON (`to_json_dict`)::

        {"event": "opened" | "escalated" | "cleared", "alert_id": 17,
         "machine_id": "drill-001", "machine_type": "Drilling",
         "parameter": "Temperature", "unit": "°C",
         "severity": "CRITICAL", "previous_severity": "WARNING" | null,
         "value": 1234.5, "threshold": 1000.0,
         "timestamp": "2026-12-03T19:58:01.123Z",
         "opened_at": "2026-12-03T19:57:40.000Z", "cleared_at": null}

    `value` and `timestamp` are the reading that caused the change (for
    "cleared", the first NORMAL one); `severity` is the alert's severity after
    the change (for "cleared", the severity it had); `threshold` is the limit the
    alert is about.
    """

    event: AlertAction
    alert_id: int
    machine_id: str
    machine_type: str
    parameter: str
    unit: str
    severity: Severity
    previous_severity: Severity | None
    value: float
    threshold: float
    timestamp: datetime
    opened_at: datetime
    cleared_at: datetime | None

    @property
    def topic(self) -> str:
        return alert_topic(self.machine_id)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "alert_id": self.alert_id,
            "machine_id": self.machine_id,
            "machine_type": self.machine_type,
            "parameter": self.parameter,
            "unit": self.unit,
            "severity": self.severity,
            "previous_severity": self.previous_severity,
            "value": self.value,
            "threshold": self.threshold,
            "timestamp": _iso(self.timestamp),
            "opened_at": _iso(self.opened_at),
            "cleared_at": _iso(self.cleared_at),
        }

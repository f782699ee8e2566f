"""Rows to JSON bodies, and a machine's status from its latest readings.

A machine's status is the worst status among its parameters' latest readings,
each classified with the catalog at read time (so the API always agrees with
the thresholds `GET /parameters` shows). A parameter the catalog no longer
defines keeps the status ingestion stored. `drivers` lists the parameters that
make a WARNING or CRITICAL status, with the threshold each one crossed: the
generalisation of "CRITICAL when Temperature is above 1000 °C".
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from chalicelib.queries import AlertRow, LatestReading, MachineRow
from chalicelib.validation import format_timestamp
from orchestralink.catalog import Catalog, CatalogError, Parameter

_SEVERITY = {"NORMAL": 0, "WARNING": 1, "CRITICAL": 2}


def catalog_parameter(
    catalog: Catalog, machine_type: str, name: str
) -> Parameter | None:
    try:
        return catalog.parameter(machine_type, name)
    except CatalogError:
        return None


def catalog_parameter_names(catalog: Catalog, machine_type: str) -> list[str]:
    try:
        return list(catalog.machine_type(machine_type).parameters)
    except CatalogError:
        return []


def unit_of(catalog: Catalog, machine_type: str, name: str) -> str | None:
    parameter = catalog_parameter(catalog, machine_type, name)
    return parameter.unit if parameter else None


class MachineView:
    """One machine's latest readings, classified, ready to render."""

    def __init__(
        self,
        row: MachineRow,
        catalog: Catalog,
        now: datetime,
        stale_after: timedelta,
    ) -> None:
        self.row = row
        self.now = now
        self.stale = now - row.last_seen > stale_after
        order = catalog_parameter_names(catalog, row.machine_type)
        rank = {name: index for index, name in enumerate(order)}
        latest = sorted(
            row.latest, key=lambda r: (rank.get(r.parameter, len(rank)), r.parameter)
        )
        self.parameters = [self._classify(catalog, reading) for reading in latest]
        self.status = self._worst()

    def _classify(self, catalog: Catalog, reading: LatestReading) -> dict[str, Any]:
        parameter = catalog_parameter(catalog, self.row.machine_type, reading.parameter)
        status, unit, threshold = reading.status, None, None
        if parameter is not None:
            unit = parameter.unit
            try:
                status = parameter.classify(reading.value)
                threshold = parameter.threshold_for(reading.value)
            except CatalogError:  # a non-finite value: keep what ingestion stored
                pass
        return {
            "name": reading.parameter,
            "value": reading.value,
            "unit": unit,
            "status": status,
            "ts": format_timestamp(reading.ts),
            "_threshold": threshold,
        }

    def _worst(self) -> str:
        if not self.parameters:
            return "UNKNOWN"
        statuses: list[str] = [p["status"] for p in self.parameters]
        return max(statuses, key=_SEVERITY.__getitem__)

    def drivers(self) -> list[dict[str, Any]]:
        if self.status in ("NORMAL", "UNKNOWN"):
            return []
        return [
            {
                "parameter": p["name"],
                "value": p["value"],
                "unit": p["unit"],
                "status": p["status"],
                "threshold": p["_threshold"],
                "ts": p["ts"],
            }
            for p in self.parameters
            if p["status"] == self.status
        ]

    def summary(self) -> dict[str, Any]:
        return {
            "machine_id": self.row.machine_id,
            "machine_type": self.row.machine_type,
            "status": self.status,
            "last_seen": format_timestamp(self.row.last_seen),
            "stale": self.stale,
            "parameters": [
                {k: v for k, v in p.items() if not k.startswith("_")}
                for p in self.parameters
            ],
        }

    def detail(self, open_alerts: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            **self.summary(),
            "first_seen": format_timestamp(self.row.first_seen),
            "last_sequence": self.row.last_sequence,
            "drivers": self.drivers(),
            "open_alerts": open_alerts,
        }

    def status_body(self) -> dict[str, Any]:
        return {
            "machine_id": self.row.machine_id,
            "machine_type": self.row.machine_type,
            "status": self.status,
            "last_seen": format_timestamp(self.row.last_seen),
            "stale": self.stale,
            "drivers": self.drivers(),
            "evaluated_at": format_timestamp(self.now),
        }


def _optional_ts(value: datetime | None) -> str | None:
    return format_timestamp(value) if value is not None else None


def alert_body(row: AlertRow, catalog: Catalog) -> dict[str, Any]:
    return {
        "alert_id": row.alert_id,
        "machine_id": row.machine_id,
        "machine_type": row.machine_type,
        "parameter": row.parameter,
        "unit": unit_of(catalog, row.machine_type, row.parameter),
        "severity": row.severity,
        "value": row.value,
        "threshold": row.threshold,
        "state": "open" if row.cleared_at is None else "cleared",
        "opened_at": format_timestamp(row.opened_at),
        "updated_at": format_timestamp(row.updated_at),
        "cleared_at": _optional_ts(row.cleared_at),
        "acknowledged": row.acknowledged_at is not None,
        "acknowledged_at": _optional_ts(row.acknowledged_at),
        "acknowledged_by": row.acknowledged_by,
    }


def catalog_body(catalog: Catalog, machine_type: str | None) -> dict[str, Any]:
    types = [
        t for t in catalog.machine_types.values() if machine_type in (None, t.name)
    ]
    return {
        "machine_types": [
            {
                "name": t.name,
                "id_prefix": t.id_prefix,
                "description": t.description,
                "parameters": [
                    {
                        "name": p.name,
                        "unit": p.unit,
                        "description": p.description,
                        "normal_min": p.normal_min,
                        "normal_max": p.normal_max,
                        "warning_low": p.warning_low,
                        "warning_high": p.warning_high,
                        "critical_low": p.critical_low,
                        "critical_high": p.critical_high,
                    }
                    for p in t.parameters.values()
                ],
            }
            for t in types
        ]
    }

"""The API's request and response bodies, as pydantic models.

The routes build plain dictionaries (no model per row on the hot path); these
models are the contract: the OpenAPI document emits their JSON Schema and the
tests validate every response against them. Timestamps are UTC ISO-8601
strings ending in Z.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["NORMAL", "WARNING", "CRITICAL"]
MachineStatusValue = Literal["NORMAL", "WARNING", "CRITICAL", "UNKNOWN"]
Severity = Literal["WARNING", "CRITICAL"]


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ErrorBody(Contract):
    """Every 4xx and 5xx response."""

    error: str = Field(description="Machine-readable code, such as InvalidLimit")
    message: str = Field(description="What was wrong and how to fix it")


class Health(Contract):
    """`status` ok with 200, unavailable with 503 (then error and message too)."""

    status: Literal["ok", "unavailable"]
    database: Literal["reachable", "unreachable"]
    schema_version: int | None = Field(
        description="Newest applied migration; null when the database is unreachable"
    )
    time: datetime
    error: str | None = None
    message: str | None = None


class ParameterReading(Contract):
    """The latest reading of one parameter, classified with the catalog."""

    name: str
    value: float
    unit: str | None = Field(description="null for a parameter the catalog dropped")
    status: Status
    ts: datetime


class StatusDriver(Contract):
    """A parameter whose status is the machine's (worst) status."""

    parameter: str
    value: float
    unit: str | None
    status: Status
    threshold: float | None = Field(description="The threshold the value crossed")
    ts: datetime


class MachineSummary(Contract):
    machine_id: str
    machine_type: str
    status: MachineStatusValue = Field(
        description="Worst status of the parameters' latest readings; UNKNOWN "
        "before the first reading"
    )
    last_seen: datetime
    stale: bool = Field(description="No message for longer than stale_after_seconds")
    parameters: list[ParameterReading]


class MachineList(Contract):
    machines: list[MachineSummary]
    count: int
    stale_after_seconds: int
    generated_at: datetime


class Alert(Contract):
    alert_id: int
    machine_id: str
    machine_type: str
    parameter: str
    unit: str | None
    severity: Severity
    value: float = Field(description="The latest offending value")
    threshold: float
    state: Literal["open", "cleared"]
    opened_at: datetime
    updated_at: datetime
    cleared_at: datetime | None
    acknowledged: bool
    acknowledged_at: datetime | None
    acknowledged_by: str | None


class MachineDetail(MachineSummary):
    first_seen: datetime
    last_sequence: int | None
    drivers: list[StatusDriver]
    open_alerts: list[Alert]


class MachineStatus(Contract):
    machine_id: str
    machine_type: str
    status: MachineStatusValue
    last_seen: datetime
    stale: bool
    drivers: list[StatusDriver] = Field(
        description="The parameters that make the status; empty when NORMAL"
    )
    evaluated_at: datetime


class Reading(Contract):
    ts: datetime
    value: float


class ReadingsPage(Contract):
    machine_id: str
    parameter: str
    unit: str | None
    from_: datetime = Field(alias="from")
    to: datetime
    order: Literal["asc", "desc"]
    limit: int
    count: int
    readings: list[Reading]
    next_token: str | None = Field(
        description="Pass as next_token for the next page; null on the last page"
    )


class SeriesPoint(Contract):
    ts: datetime = Field(description="Start of the bucket")
    min: float
    max: float
    avg: float
    count: int


class Series(Contract):
    machine_id: str
    parameter: str
    unit: str | None
    from_: datetime = Field(alias="from")
    to: datetime
    interval: str
    interval_seconds: int
    source: Literal["rollups_minute", "readings"]
    points: list[SeriesPoint] = Field(description="Non-empty buckets only")


class ParameterInfo(Contract):
    name: str
    unit: str
    description: str
    normal_min: float
    normal_max: float
    warning_low: float | None
    warning_high: float | None
    critical_low: float | None
    critical_high: float | None


class MachineTypeInfo(Contract):
    name: str
    id_prefix: str
    description: str
    parameters: list[ParameterInfo]


class ParameterCatalog(Contract):
    machine_types: list[MachineTypeInfo]


class AlertList(Contract):
    alerts: list[Alert]
    count: int
    state: Literal["open", "cleared", "all"]
    limit: int


class AckRequest(Contract):
    """Optional body of POST /alerts/{alert_id}/ack."""

    by: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Who acknowledges (shown in the alert)",
    )


RESPONSE_MODELS: tuple[type[BaseModel], ...] = (
    ErrorBody,
    Health,
    MachineList,
    MachineDetail,
    MachineStatus,
    ReadingsPage,
    Series,
    ParameterCatalog,
    AlertList,
    Alert,
    AckRequest,
)

"""OrchestraLink's REST API: a Chalice app behind API Gateway (Handler app.app).

Routes are thin: parse and validate the request (chalicelib.validation and
chalicelib.specs), run parameterised SQL in one short transaction
(chalicelib.queries, chalicelib.database), render rows (chalicelib.views).
Every error is JSON `{"error", "message"}` (chalicelib.errors); GET
/openapi.json is generated from `app.routes` (chalicelib.openapi).
"""

from __future__ import annotations

import math
import os
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger
from chalice.app import Chalice, Request, Response

from chalicelib import queries, specs
from chalicelib.database import transaction
from chalicelib.errors import (
    BadRequestError,
    ConflictError,
    NotFoundError,
    ServiceUnavailableError,
)
from chalicelib.openapi import build_document
from chalicelib.routing import RouteDoc, api_middleware, documented
from chalicelib.settings import Settings
from chalicelib.validation import (
    EPOCH,
    Interval,
    QuerySpec,
    decode_token,
    encode_token,
    format_timestamp,
    interval_text,
    multi_query,
    parse_alert_id,
    parse_json_object,
    parse_machine_id,
)
from chalicelib.views import (
    MachineView,
    alert_body,
    catalog_body,
    catalog_parameter_names,
    unit_of,
)
from orchestralink.catalog import Catalog, load_catalog

# Not named after the app: Chalice logs to logging.getLogger(app_name) with its own
# handler, and sharing that logger would mix the two formats.
logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "api")
settings = Settings.from_env(os.environ)
CORS = settings.cors_config()
DEFAULT_RANGE = timedelta(hours=1)
# Bucket widths `auto` chooses from, in seconds (1s ... 7d).
AUTO_INTERVALS: tuple[int, ...] = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900)
AUTO_INTERVALS += (1800, 3600, 7200, 10800, 21600, 43200, 86400, 604800)

app = Chalice(app_name="orchestralink-api")
app.register_middleware(api_middleware(app, settings, logger), "http")

_MACHINE_404 = {404: "Unknown machine", 400: "Malformed machine id or query"}


def _request() -> Request:
    request = app.current_request
    if request is None:  # pragma: no cover - Chalice sets it for every route call
        raise RuntimeError("no current request outside a route")
    return request


def _query(spec: QuerySpec) -> dict[str, Any]:
    return spec.parse(multi_query(_request().query_params))


def _time_range(
    start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """Defaults: `to` is now, `from` one hour before `to`. `from` must precede."""
    end = end if end is not None else now
    start = start if start is not None else max(end - DEFAULT_RANGE, EPOCH)
    if start >= end:
        raise BadRequestError(
            "InvalidTimeRange",
            f"from ({format_timestamp(start)}) must be before to "
            f"({format_timestamp(end)}); swap them or widen the range",
        )
    return start, end


def _machine_not_found(machine_id: str) -> NotFoundError:
    return NotFoundError(
        "MachineNotFound",
        f"no machine {machine_id!r} has reported yet; GET /machines lists the "
        "known machines",
    )


def _machine_or_404(conn: queries.Connection, machine_id: str) -> queries.MachineRow:
    machine = queries.fetch_machine(conn, machine_id)
    if machine is None:
        raise _machine_not_found(machine_id)
    return machine


def _check_parameter(
    catalog: Catalog, machine: queries.MachineRow, parameter: str
) -> str:
    known = catalog_parameter_names(catalog, machine.machine_type)
    known += [r.parameter for r in machine.latest if r.parameter not in known]
    if parameter not in known:
        raise BadRequestError(
            "UnknownParameter",
            f"machine {machine.machine_id} ({machine.machine_type}) has no "
            f"parameter {parameter!r}; use one of: {', '.join(known) or 'none'}",
        )
    return parameter


@app.route("/health", methods=["GET"], cors=CORS)
@documented(
    RouteDoc(
        summary="Is the database reachable, and at which schema version",
        description="200 when reachable; 503 (same body, plus error and message) "
        "when not.",
        response="Health",
        errors={503: "Database unreachable (body is a Health with error/message)"},
        tags=("service",),
    )
)
def health() -> Response:
    _query(specs.NO_QUERY)
    body: dict[str, Any] = {"time": format_timestamp(settings.clock())}
    try:
        with transaction() as conn:
            version = queries.schema_version(conn)
    except ServiceUnavailableError as error:
        body.update(status="unavailable", database="unreachable", schema_version=None)
        body.update(error=error.code, message=error.message)
        return Response(body=body, status_code=503)
    body.update(status="ok", database="reachable", schema_version=version)
    return Response(body=body, status_code=200)


@app.route("/machines", methods=["GET"], cors=CORS)
@documented(
    RouteDoc(
        summary="The fleet: every machine's status and latest value per parameter",
        description="Reads latest_readings only. Status is the worst of the "
        "parameters' statuses, classified with the catalog. Sorted by machine id.",
        response="MachineList",
        tags=("machines",),
    )
)
def list_machines() -> dict[str, Any]:
    _query(specs.NO_QUERY)
    catalog = load_catalog()
    now = settings.clock()
    with transaction() as conn:
        rows = queries.fetch_machines(conn)
    machines = [
        MachineView(row, catalog, now, settings.stale_after).summary() for row in rows
    ]
    return {
        "machines": machines,
        "count": len(machines),
        "stale_after_seconds": int(settings.stale_after.total_seconds()),
        "generated_at": format_timestamp(now),
    }


@app.route("/machines/{machine_id}", methods=["GET"], cors=CORS)
@documented(
    RouteDoc(
        summary="One machine: status, latest readings, drivers and open alerts",
        response="MachineDetail",
        path_params=specs.MACHINE_ID_PATH,
        errors=_MACHINE_404,
        tags=("machines",),
    )
)
def get_machine(machine_id: str) -> dict[str, Any]:
    _query(specs.NO_QUERY)
    machine_id = parse_machine_id(machine_id)
    catalog = load_catalog()
    now = settings.clock()
    with transaction() as conn:
        machine = _machine_or_404(conn, machine_id)
        alerts = queries.fetch_alerts(
            conn, "open", None, machine_id, specs.ALERTS_MAX_LIMIT
        )
    view = MachineView(machine, catalog, now, settings.stale_after)
    return view.detail([alert_body(alert, catalog) for alert in alerts])


def _machine_status(machine_id: str) -> dict[str, Any]:
    machine_id = parse_machine_id(machine_id)
    catalog = load_catalog()
    now = settings.clock()
    with transaction() as conn:
        machine = _machine_or_404(conn, machine_id)
    return MachineView(machine, catalog, now, settings.stale_after).status_body()


_STATUS_DESCRIPTION = (
    "CRITICAL when any parameter's latest reading crosses a critical threshold "
    "(a drill's Temperature above 1000 °C), else WARNING when any crosses a "
    "warning threshold, else NORMAL; UNKNOWN before the first reading. drivers "
    "names the parameters that make the status."
)


@app.route("/machines/{machine_id}/status", methods=["GET"], cors=CORS)
@documented(
    RouteDoc(
        summary="A machine's status and the parameters driving it",
        description=_STATUS_DESCRIPTION,
        response="MachineStatus",
        path_params=specs.MACHINE_ID_PATH,
        errors=_MACHINE_404,
        tags=("machines",),
    )
)
def get_machine_status(machine_id: str) -> dict[str, Any]:
    _query(specs.NO_QUERY)
    return _machine_status(machine_id)


@app.route("/machine/status", methods=["GET"], cors=CORS)
@documented(
    RouteDoc(
        summary="A machine's status, by query string (same as /machines/{id}/status)",
        description=_STATUS_DESCRIPTION,
        query=specs.MACHINE_STATUS_QUERY,
        response="MachineStatus",
        errors=_MACHINE_404,
        tags=("machines",),
    )
)
def get_machine_status_by_query() -> dict[str, Any]:
    query = _query(specs.MACHINE_STATUS_QUERY)
    return _machine_status(query["machine_id"])


@app.route("/machines/{machine_id}/readings", methods=["GET"], cors=CORS)
@documented(
    RouteDoc(
        summary="Raw readings of one parameter, paginated",
        description="Readings with from <= ts < to, oldest first (order=desc for "
        "newest first), at most `limit` per page; follow next_token until it is "
        "null. Keyset pagination on ts: pages stay fast and stable while new "
        "readings arrive.",
        query=specs.READINGS_QUERY,
        response="ReadingsPage",
        path_params=specs.MACHINE_ID_PATH,
        errors=_MACHINE_404,
        tags=("telemetry",),
    )
)
def get_readings(machine_id: str) -> dict[str, Any]:
    query = _query(specs.READINGS_QUERY)
    machine_id = parse_machine_id(machine_id)
    start, end = _time_range(query["from"], query["to"], settings.clock())
    order, limit = query["order"], query["limit"]
    low, high = start, end
    if query["next_token"] is not None:
        last = decode_token("next_token", query["next_token"], order)
        if order == "asc":
            low = max(low, last + timedelta(microseconds=1))
        else:
            high = min(high, last)

    catalog = load_catalog()
    with transaction() as conn:
        machine = _machine_or_404(conn, machine_id)
        parameter = _check_parameter(catalog, machine, query["parameter"])
        rows = []
        if low < high:
            rows = queries.fetch_readings(
                conn, machine_id, parameter, low, high, order, limit + 1
            )

    next_token = encode_token(rows[limit - 1][0], order) if len(rows) > limit else None
    readings = [{"ts": format_timestamp(ts), "value": v} for ts, v in rows[:limit]]
    return {
        "machine_id": machine_id,
        "parameter": parameter,
        "unit": unit_of(catalog, machine.machine_type, parameter),
        "from": format_timestamp(start),
        "to": format_timestamp(end),
        "order": order,
        "limit": limit,
        "count": len(readings),
        "readings": readings,
        "next_token": next_token,
    }


def _bucket_count(start: datetime, end: datetime, seconds: int) -> int:
    """Epoch-aligned buckets touched by [start, end)."""
    first = math.floor(start.timestamp() / seconds)
    last = math.floor((end.timestamp() - 1e-6) / seconds)
    return last - first + 1


def _auto_interval(start: datetime, end: datetime) -> int:
    for seconds in AUTO_INTERVALS:
        if _bucket_count(start, end, seconds) <= specs.AUTO_TARGET_POINTS:
            return seconds
    days = math.ceil((end - start).total_seconds() / specs.AUTO_TARGET_POINTS / 86400)
    return (days + 1) * 86400


def _smallest_allowed(start: datetime, end: datetime) -> str:
    for seconds in AUTO_INTERVALS:
        if _bucket_count(start, end, seconds) <= specs.MAX_BUCKETS:
            return interval_text(seconds)
    return "auto"


@app.route("/machines/{machine_id}/series", methods=["GET"], cors=CORS)
@documented(
    RouteDoc(
        summary="Bucketed min/max/avg/count of one parameter, for charts",
        description="Buckets are aligned to the Unix epoch and cover from <= ts < "
        "to; only non-empty buckets are returned. Intervals of a minute or more "
        "are computed from the per-minute rollups (range edges at minute "
        "precision), shorter ones from raw readings.",
        query=specs.SERIES_QUERY,
        response="Series",
        path_params=specs.MACHINE_ID_PATH,
        errors=_MACHINE_404,
        tags=("telemetry",),
    )
)
def get_series(machine_id: str) -> dict[str, Any]:
    query = _query(specs.SERIES_QUERY)
    machine_id = parse_machine_id(machine_id)
    start, end = _time_range(query["from"], query["to"], settings.clock())
    interval: Interval | None = query["interval"]
    seconds = interval.seconds if interval else _auto_interval(start, end)
    buckets = _bucket_count(start, end, seconds)
    if buckets > specs.MAX_BUCKETS:
        raise BadRequestError(
            "TooManyBuckets",
            f"{buckets} buckets of {interval_text(seconds)} between "
            f"{format_timestamp(start)} and {format_timestamp(end)}, more than "
            f"{specs.MAX_BUCKETS}; use interval={_smallest_allowed(start, end)} "
            "or larger (or auto), or a shorter range",
        )

    catalog = load_catalog()
    source = "rollups_minute" if seconds >= 60 else "readings"
    fetch = (
        queries.fetch_series_from_rollups
        if source == "rollups_minute"
        else queries.fetch_series_from_readings
    )
    with transaction() as conn:
        machine = _machine_or_404(conn, machine_id)
        parameter = _check_parameter(catalog, machine, query["parameter"])
        rows = fetch(
            conn, machine_id, parameter, start, end, timedelta(seconds=seconds)
        )

    return {
        "machine_id": machine_id,
        "parameter": parameter,
        "unit": unit_of(catalog, machine.machine_type, parameter),
        "from": format_timestamp(start),
        "to": format_timestamp(end),
        "interval": interval_text(seconds),
        "interval_seconds": seconds,
        "source": source,
        "points": [
            {
                "ts": format_timestamp(row.bucket),
                "min": row.min,
                "max": row.max,
                "avg": row.avg,
                "count": row.count,
            }
            for row in rows
        ],
    }


@app.route("/parameters", methods=["GET"], cors=CORS)
@documented(
    RouteDoc(
        summary="The machine catalog: parameters, units, normal ranges, thresholds",
        description="A reading is CRITICAL strictly above critical_high or below "
        "critical_low, WARNING strictly beyond a warning threshold.",
        query=specs.PARAMETERS_QUERY,
        response="ParameterCatalog",
        errors={400: "Unknown machine type or query parameter"},
        tags=("catalog",),
    )
)
def list_parameters() -> dict[str, Any]:
    query = _query(specs.PARAMETERS_QUERY)
    catalog = load_catalog()
    machine_type = query["machine_type"]
    if machine_type is not None and machine_type not in catalog.machine_types:
        raise BadRequestError(
            "UnknownMachineType",
            f"machine_type {machine_type!r} is not in the catalog; use one of: "
            f"{', '.join(catalog.machine_types)}",
        )
    return catalog_body(catalog, machine_type)


@app.route("/alerts", methods=["GET"], cors=CORS)
@documented(
    RouteDoc(
        summary="Alerts, newest first",
        description="state=open (default) lists alerts not yet cleared, "
        "acknowledged or not; cleared lists past alerts; all lists both.",
        query=specs.ALERTS_QUERY,
        response="AlertList",
        errors={400: "Bad query parameter", 404: "Unknown machine_id"},
        tags=("alerts",),
    )
)
def list_alerts() -> dict[str, Any]:
    query = _query(specs.ALERTS_QUERY)
    catalog = load_catalog()
    machine_id = query["machine_id"]
    with transaction() as conn:
        if machine_id is not None and not queries.machine_exists(conn, machine_id):
            raise _machine_not_found(machine_id)
        rows = queries.fetch_alerts(
            conn, query["state"], query["severity"], machine_id, query["limit"]
        )
    alerts = [alert_body(row, catalog) for row in rows]
    return {
        "alerts": alerts,
        "count": len(alerts),
        "state": query["state"],
        "limit": query["limit"],
    }


def _acknowledger(raw_body: bytes | str) -> str | None:
    body = parse_json_object(raw_body, {"by": "who acknowledges, 1 to 100 chars"})
    by = body.get("by")
    if by is None:
        return None
    if (
        not isinstance(by, str)
        or not 1 <= len(by.strip()) <= 100
        or any(ord(c) < 32 or ord(c) == 127 for c in by)
    ):
        raise BadRequestError(
            "InvalidBody",
            'the field "by" must be a string of 1 to 100 characters without '
            'control characters, such as {"by": "alice"}',
        )
    return by.strip()


@app.route("/alerts/{alert_id}/ack", methods=["POST"], cors=CORS)
@documented(
    RouteDoc(
        summary="Acknowledge an alert",
        description="Records who acknowledged and when; the alert stays listed "
        "as open until ingestion clears it. Acknowledging twice is a 409 naming "
        "who acknowledged first. The body is optional.",
        response="Alert",
        request_body="AckRequest",
        path_params=specs.ALERT_ID_PATH,
        errors={
            400: "Malformed alert id or body",
            404: "Unknown alert",
            409: "Already acknowledged",
        },
        tags=("alerts",),
    )
)
def acknowledge_alert(alert_id: str) -> dict[str, Any]:
    _query(specs.NO_QUERY)
    alert_number = parse_alert_id(alert_id)
    by = _acknowledger(_request().raw_body)
    catalog = load_catalog()
    with transaction() as conn:
        row = queries.acknowledge_alert(conn, alert_number, by, settings.clock())
        if row is None:
            existing = queries.fetch_alert(conn, alert_number)
            if existing is None:
                raise NotFoundError(
                    "AlertNotFound",
                    f"no alert {alert_number}; GET /alerts?state=all lists alerts",
                )
            when = format_timestamp(existing.acknowledged_at or settings.clock())
            who = existing.acknowledged_by or "someone"
            raise ConflictError(
                "AlertAlreadyAcknowledged",
                f"alert {alert_number} was already acknowledged by {who} at {when}; "
                "nothing to do",
            )
    return alert_body(row, catalog)


_openapi_document: dict[str, Any] | None = None


@app.route("/openapi.json", methods=["GET"], cors=CORS)
@documented(
    RouteDoc(
        summary="This API's OpenAPI 3.1 document, generated from the app",
        response={"type": "object", "required": ["openapi", "info", "paths"]},
        tags=("service",),
    )
)
def openapi_document() -> dict[str, Any]:
    global _openapi_document
    _query(specs.NO_QUERY)
    if _openapi_document is None:  # the routes are fixed once the module loaded
        _openapi_document = build_document(app)
    return _openapi_document

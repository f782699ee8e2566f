"""Each route's query parameters and path parameters, declared once.

The routes parse requests with these declarations and the OpenAPI document
describes them, so documentation and behaviour are the same object.
"""

from __future__ import annotations

from chalicelib.routing import PathParam
from chalicelib.validation import MACHINE_ID_PATTERN, QueryParam, QuerySpec

READINGS_DEFAULT_LIMIT = 1000
READINGS_MAX_LIMIT = 10_000
ALERTS_DEFAULT_LIMIT = 100
ALERTS_MAX_LIMIT = 1000
MAX_BUCKETS = 10_000
AUTO_TARGET_POINTS = 2000

MACHINE_ID_SCHEMA = {
    "type": "string",
    "maxLength": 64,
    "pattern": MACHINE_ID_PATTERN,
    "examples": ["drill-001"],
}

MACHINE_ID_PATH = {
    "machine_id": PathParam(
        "A machine id, such as drill-001 (GET /machines lists them)",
        MACHINE_ID_SCHEMA,
    )
}
ALERT_ID_PATH = {
    "alert_id": PathParam(
        "An alert_id from GET /alerts",
        {"type": "integer", "minimum": 1, "maximum": 999_999_999_999_999_999},
    )
}

_TIME_HELP = (
    "ISO-8601 (UTC when no offset is given, e.g. 2026-12-03T19:58:01Z) or "
    "milliseconds since the Unix epoch"
)


def _from(default_help: str) -> QueryParam:
    return QueryParam(
        "from",
        f"Start of the range, inclusive: {_TIME_HELP}. Default: {default_help}",
        "timestamp",
        "InvalidTimestamp",
        example="2026-12-03T18:00:00Z",
    )


_TO = QueryParam(
    "to",
    f"End of the range, exclusive: {_TIME_HELP}. Default: now",
    "timestamp",
    "InvalidTimestamp",
    example="2026-12-03T19:00:00Z",
)


def _parameter(what: str) -> QueryParam:
    return QueryParam(
        "parameter",
        f"The parameter {what}, one the machine's type reports (GET /parameters)",
        "parameter",
        "UnknownParameter",
        required=True,
        example="Temperature",
    )


NO_QUERY = QuerySpec()

MACHINE_STATUS_QUERY = QuerySpec(
    (
        QueryParam(
            "machine_id",
            "The machine whose status to evaluate, such as drill-001",
            "machine_id",
            "InvalidMachineId",
            required=True,
            example="drill-001",
        ),
    )
)

READINGS_QUERY = QuerySpec(
    (
        _parameter("to read"),
        _from("one hour before `to`"),
        _TO,
        QueryParam(
            "limit",
            f"Readings per page, 1 to {READINGS_MAX_LIMIT}",
            "integer",
            "InvalidLimit",
            default=READINGS_DEFAULT_LIMIT,
            minimum=1,
            maximum=READINGS_MAX_LIMIT,
        ),
        QueryParam(
            "order",
            "asc (oldest first, the default) or desc (newest first)",
            "enum",
            "InvalidOrder",
            default="asc",
            choices=("asc", "desc"),
        ),
        QueryParam(
            "next_token",
            "The next_token of the previous page, unchanged (same order)",
            "token",
            "InvalidNextToken",
        ),
    )
)

SERIES_QUERY = QuerySpec(
    (
        _parameter("to chart"),
        _from("one hour before `to`"),
        _TO,
        QueryParam(
            "interval",
            "Bucket width: a whole number and s, m, h or d (10s, 1m, 5m, 1h, 1d); "
            "a minute or more must be whole minutes and is served from the "
            f"per-minute rollups. auto (default) picks the finest width giving at "
            f"most {AUTO_TARGET_POINTS} buckets. At most {MAX_BUCKETS} buckets.",
            "interval",
            "InvalidInterval",
            default=None,
            example="5m",
        ),
    )
)

PARAMETERS_QUERY = QuerySpec(
    (
        QueryParam(
            "machine_type",
            "Only this machine type (Drilling, Milling, Lathe, ...)",
            "string",
            "UnknownMachineType",
            example="Drilling",
        ),
    )
)

ALERTS_QUERY = QuerySpec(
    (
        QueryParam(
            "state",
            "open (default; includes acknowledged alerts until they clear), "
            "cleared, or all",
            "enum",
            "InvalidState",
            default="open",
            choices=("open", "cleared", "all"),
        ),
        QueryParam(
            "severity",
            "Only WARNING or CRITICAL alerts (case-insensitive)",
            "enum",
            "InvalidSeverity",
            choices=("WARNING", "CRITICAL"),
            case_insensitive=True,
        ),
        QueryParam(
            "machine_id",
            "Only this machine's alerts",
            "machine_id",
            "InvalidMachineId",
            example="drill-001",
        ),
        QueryParam(
            "limit",
            f"At most this many alerts, newest first, 1 to {ALERTS_MAX_LIMIT}",
            "integer",
            "InvalidLimit",
            default=ALERTS_DEFAULT_LIMIT,
            minimum=1,
            maximum=ALERTS_MAX_LIMIT,
        ),
    )
)

"""Parsing of everything a client sends: query strings, path segments, bodies.

Each route declares its query parameters once, as a `QuerySpec`; the same
declaration parses the request (turning any bad value into a 400 that names
the parameter, the value and what would be accepted) and describes the
parameters in the OpenAPI document, so the two cannot drift apart.

Time values are ISO-8601 (`2026-12-03T19:58:01.123Z`; a value without an
offset is taken as UTC) or integer milliseconds since the Unix epoch, between
1970-01-01 and 9999-12-30. Every value is validated before it reaches SQL, and
SQL receives it as a parameter, never as text.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from chalicelib.errors import BadRequestError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_TIME = datetime(9999, 12, 30, tzinfo=UTC)
MAX_TEXT_LENGTH = 200

# The grammar ingestion (orchestralink.telemetry) accepts, so any other id can
# only be a mistake: '<prefix>-<rest>', at most 64 characters, nothing that
# needs percent-encoding in a URL.
MACHINE_ID_PATTERN = r"^[a-z][a-z0-9]{0,15}-[A-Za-z0-9][A-Za-z0-9-]{0,46}$"
PARAMETER_PATTERN = r"^[A-Za-z][A-Za-z0-9]{0,62}$"
_MACHINE_ID_RE = re.compile(MACHINE_ID_PATTERN)
_PARAMETER_RE = re.compile(PARAMETER_PATTERN)
_EPOCH_MS_RE = re.compile(r"^[0-9]{1,15}$")
_ALERT_ID_RE = re.compile(r"^[0-9]{1,18}$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def _show(value: str) -> str:
    """A client value quoted for a message, cut short if it is long."""
    shown = value if len(value) <= 60 else value[:57] + "..."
    return json.dumps(shown, ensure_ascii=False)


# -- single values ---------------------------------------------------------------


def parse_timestamp(name: str, value: str) -> datetime:
    """An ISO-8601 timestamp or epoch milliseconds, as an aware UTC datetime."""
    hint = (
        f"{name} must be an ISO-8601 timestamp such as 2026-12-03T19:58:01Z "
        "(UTC when no offset is given) or milliseconds since the Unix epoch"
    )
    out_of_range = BadRequestError(
        "InvalidTimestamp",
        f"{name} {_show(value)} is outside 1970-01-01 to 9999-12-30; "
        "give a time in that range",
    )
    try:
        if _EPOCH_MS_RE.match(value):
            parsed = EPOCH + timedelta(milliseconds=int(value))
        else:
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            parsed = parsed.astimezone(UTC)
    except OverflowError:
        raise out_of_range from None
    except ValueError:
        raise BadRequestError(
            "InvalidTimestamp", f"{hint}; got {_show(value)}"
        ) from None
    if not EPOCH <= parsed <= MAX_TIME:
        raise out_of_range
    return parsed


def format_timestamp(value: datetime) -> str:
    """UTC ISO-8601 with a Z; milliseconds, or microseconds when they matter."""
    value = value.astimezone(UTC)
    spec = "milliseconds" if value.microsecond % 1000 == 0 else "microseconds"
    return value.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def parse_machine_id(value: str) -> str:
    """A machine id from a path (percent-decoded here: API Gateway's REST APIs
    pass path parameters as the client encoded them) or a query string."""
    value = unquote(value)
    if not _MACHINE_ID_RE.match(value):
        raise BadRequestError(
            "InvalidMachineId",
            f"machine id {_show(value)} is malformed: ids look like drill-001 (a "
            "lowercase type prefix, '-', then letters, digits or '-'; at most 64 "
            "characters)",
        )
    return value


def parse_alert_id(value: str) -> int:
    value = unquote(value)
    if not _ALERT_ID_RE.match(value) or int(value) < 1:
        raise BadRequestError(
            "InvalidAlertId",
            f"alert id {_show(value)} is not valid: use the positive integer "
            "alert_id that GET /alerts returns",
        )
    return int(value)


@dataclass(frozen=True)
class Interval:
    """A series bucket width: a count and a unit of s, m, h or d."""

    text: str
    seconds: int

    @property
    def delta(self) -> timedelta:
        return timedelta(seconds=self.seconds)


INTERVAL_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
INTERVAL_PATTERN = r"^(auto|[1-9][0-9]{0,5}[smhd])$"
MAX_INTERVAL_SECONDS = 366 * 86400
_INTERVAL_RE = re.compile(r"^([1-9][0-9]{0,5})([smhd])$")


def parse_interval(name: str, value: str) -> Interval | None:
    """`auto` (None) or a width such as 10s, 1m, 5m, 1h, 1d.

    A minute or more must be whole minutes, because those series are summed
    from the per-minute rollups.
    """
    if value == "auto":
        return None
    match = _INTERVAL_RE.match(value)
    if match is None:
        raise BadRequestError(
            "InvalidInterval",
            f"{name} {_show(value)} is not an interval: write a positive whole "
            "number and a unit s, m, h or d (10s, 1m, 5m, 1h, 1d), or auto",
        )
    seconds = int(match.group(1)) * INTERVAL_UNITS[match.group(2)]
    if seconds > MAX_INTERVAL_SECONDS:
        raise BadRequestError(
            "InvalidInterval",
            f"{name} {_show(value)} is longer than 366d; choose a shorter interval",
        )
    if seconds > 60 and seconds % 60:
        lower, upper = seconds // 60, seconds // 60 + 1
        raise BadRequestError(
            "InvalidInterval",
            f"{name} {_show(value)} is over a minute but not whole minutes (series "
            f"of a minute or more come from per-minute rollups); use {lower}m or "
            f"{upper}m",
        )
    return Interval(value, seconds)


def interval_text(seconds: int) -> str:
    for unit, size in sorted(INTERVAL_UNITS.items(), key=lambda item: -item[1]):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"  # pragma: no cover - every whole second matches "s"


# -- pagination tokens -------------------------------------------------------------


def encode_token(ts: datetime, order: str) -> str:
    """An opaque cursor: the last timestamp returned and the order it ran in."""
    micros = (ts - EPOCH) // timedelta(microseconds=1)
    raw = json.dumps({"v": 1, "ts": micros, "o": order}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_token(name: str, value: str, order: str) -> datetime:
    problem = (
        f"{name} {_show(value)} is not a token this API issued: pass the "
        "next_token of the previous page unchanged, with the same order"
    )
    try:
        padded = value + "=" * (-len(value) % 4)
        decoded = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        micros = decoded["ts"]
        if (
            decoded.get("v") != 1
            or decoded.get("o") != order
            or isinstance(micros, bool)
            or not isinstance(micros, int)
        ):
            raise ValueError(problem)
        ts = EPOCH + timedelta(microseconds=micros)
    except (
        ValueError,
        TypeError,
        KeyError,
        OverflowError,
        UnicodeError,
        binascii.Error,
        AttributeError,
    ):
        raise BadRequestError("InvalidNextToken", problem) from None
    if not EPOCH <= ts <= MAX_TIME:
        raise BadRequestError("InvalidNextToken", problem)
    return ts


# -- query strings -----------------------------------------------------------------


@dataclass(frozen=True)
class QueryParam:
    """One query-string parameter: how to parse it and how to document it."""

    name: str
    description: str
    kind: str  # "string", "integer", "enum", "timestamp", "interval", "token",
    #            "machine_id", "parameter"
    error_code: str
    required: bool = False
    default: Any = None
    minimum: int | None = None
    maximum: int | None = None
    choices: Sequence[str] = ()
    case_insensitive: bool = False
    example: str | None = None

    def parse(self, raw: str) -> Any:
        parser: Callable[[str], Any] = getattr(self, f"_parse_{self.kind}")
        return parser(raw)

    def _parse_integer(self, raw: str) -> int:
        bounds = f"between {self.minimum} and {self.maximum}"
        if not re.fullmatch(r"[+-]?[0-9]{1,18}", raw):
            raise BadRequestError(
                self.error_code,
                f"{self.name} must be an integer {bounds}; got {_show(raw)}",
            )
        value = int(raw)
        low = -math.inf if self.minimum is None else self.minimum
        high = math.inf if self.maximum is None else self.maximum
        if not low <= value <= high:
            raise BadRequestError(
                self.error_code,
                f"{self.name} {value} is out of range: use an integer {bounds}",
            )
        return value

    def _parse_enum(self, raw: str) -> str:
        value = raw.upper() if self.case_insensitive else raw
        if value not in self.choices:
            raise BadRequestError(
                self.error_code,
                f"{self.name} {_show(raw)} is not one of: {', '.join(self.choices)}",
            )
        return value

    def _parse_string(self, raw: str) -> str:
        if not raw or len(raw) > MAX_TEXT_LENGTH or _CONTROL_RE.search(raw):
            raise BadRequestError(
                self.error_code,
                f"{self.name} {_show(raw)} must be 1 to {MAX_TEXT_LENGTH} "
                "characters without control characters",
            )
        return raw

    def _parse_parameter(self, raw: str) -> str:
        if not _PARAMETER_RE.match(raw):
            raise BadRequestError(
                self.error_code,
                f"{self.name} {_show(raw)} is not a parameter name (letters and "
                "digits starting with a letter); GET /parameters lists them",
            )
        return raw

    def _parse_timestamp(self, raw: str) -> datetime:
        return parse_timestamp(self.name, raw)

    def _parse_interval(self, raw: str) -> Interval | None:
        return parse_interval(self.name, raw)

    def _parse_token(self, raw: str) -> str:
        if not raw or len(raw) > 200:
            raise BadRequestError(
                self.error_code,
                f"{self.name} {_show(raw)} is not a token this API issued: pass the "
                "next_token of the previous page unchanged",
            )
        return raw  # decoded by the route, which knows the order it runs in

    def _parse_machine_id(self, raw: str) -> str:
        return parse_machine_id(raw)


@dataclass(frozen=True)
class QuerySpec:
    """Every query parameter a route accepts; anything else is refused."""

    params: tuple[QueryParam, ...] = field(default_factory=tuple)

    def parse(self, query: Mapping[str, Sequence[str]] | None) -> dict[str, Any]:
        """Parsed values by name, defaults filled in, in declaration order."""
        query = query or {}
        known = {param.name: param for param in self.params}
        for name in query:
            if name not in known:
                accepted = ", ".join(known) or "none"
                raise BadRequestError(
                    "UnknownQueryParameter",
                    f"query parameter {_show(name)} is not accepted here; this "
                    f"route accepts: {accepted}",
                )

        values: dict[str, Any] = {}
        for param in self.params:
            raw_values = list(query.get(param.name, []))
            if len(raw_values) > 1:
                raise BadRequestError(
                    "DuplicateQueryParameter",
                    f"query parameter {param.name} is given {len(raw_values)} "
                    "times; give it once",
                )
            if not raw_values or raw_values[0] == "":
                if param.required:
                    raise BadRequestError(
                        "MissingParameter",
                        f"query parameter {param.name} is required: "
                        f"{param.description}",
                    )
                values[param.name] = param.default
                continue
            values[param.name] = param.parse(raw_values[0])
        return values


def multi_query(query: Any) -> dict[str, list[str]]:
    """Chalice's MultiDict (or None) as a plain mapping of name to values."""
    if query is None:
        return {}
    return {name: list(query.getlist(name)) for name in query}


def parse_json_object(raw: bytes | str, allowed: Mapping[str, str]) -> dict[str, Any]:
    """An optional JSON object body whose keys are among `allowed` (name: hint)."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        if not text.strip():
            return {}
        value = json.loads(text)
    except ValueError:
        raise BadRequestError(
            "InvalidBody",
            "the request body is not valid JSON: send a JSON object such as "
            '{"by": "alice"}, or no body',
        ) from None
    if not isinstance(value, dict):
        raise BadRequestError(
            "InvalidBody",
            f"the request body must be a JSON object, not {type(value).__name__}",
        )
    for key in value:
        if key not in allowed:
            keys = ", ".join(f"{name} ({hint})" for name, hint in allowed.items())
            raise BadRequestError(
                "InvalidBody",
                f"the request body has an unknown field {_show(str(key))}; "
                f"accepted fields: {keys}",
            )
    return value

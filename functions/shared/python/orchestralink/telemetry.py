"""Telemetry messages as ingestion receives them, validated strictly.

The IoT rule `SELECT *, topic(2) AS machine_id, topic(3) AS parameter,
timestamp() AS received_at FROM 'machine/+/+'` turns every MQTT message into the
object parsed here (an SQS message body, or the event of a direct invocation):

* one reading, from `machine/{machine_id}/{parameter}`::

    {"machine_id": "drill-001", "machine_type": "Drilling", "parameter": "Temperature",
     "value": 812.4, "unit": "°C", "timestamp": "2026-12-03T19:58:01.123Z",
     "sequence": 42, "received_at": 1796327881150}

* a batch, from `machine/{machine_id}/telemetry` (so `parameter` is "telemetry")::

    {"machine_id": "drill-001", "machine_type": "Drilling", "parameter": "telemetry",
     "timestamp": "...", "sequence": 42, "readings": [{"parameter": "Temperature",
     "value": 812.4, "unit": "°C"}, ...], "received_at": 1796327881150}

Anything accepted here is stored for good, so validation is strict: values are
finite JSON numbers (not strings, not booleans), timestamps carry a time zone and
lie in a plausible window, machine types and parameters exist in the catalog and
units match it. Because the rule's aliases override same-named body fields, the
topic's machine id and parameter are the ones validated (the broker's ACLs are
on topics, so they are also the trustworthy ones).

Checks that depend on the world (catalog, clock, limits) read a `TelemetryRules`
passed as pydantic validation context, or set with `use_rules()` around a call
that cannot pass context (Powertools' parser); failing both they use
`default_rules()`: the catalog from `load_catalog()`, the system clock and limits
from the environment.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    RootModel,
    StrictInt,
    StrictStr,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from orchestralink.catalog import Catalog, CatalogError, load_catalog
from orchestralink.errors import OrchestraLinkError

__all__ = [
    "MAX_CLOCK_SKEW_ENV",
    "MAX_PAYLOAD_BYTES",
    "MAX_READINGS_PER_MESSAGE",
    "MAX_READING_AGE_ENV",
    "BatchMessage",
    "BatchReading",
    "InvalidTelemetryError",
    "Reading",
    "ReadingMessage",
    "TelemetryConfigError",
    "TelemetryError",
    "TelemetryMessage",
    "TelemetryRules",
    "check_payload_size",
    "default_rules",
    "describe_validation_error",
    "parse_telemetry",
    "use_rules",
]

# AWS IoT Core refuses MQTT payloads above 128 KB; nothing larger is a real message.
MAX_PAYLOAD_BYTES = 128 * 1024
# A batch carries one tick of one machine: one reading per parameter.
MAX_READINGS_PER_MESSAGE = 100
MAX_CLOCK_SKEW = timedelta(minutes=5)
MAX_READING_AGE = timedelta(days=30)
MAX_CLOCK_SKEW_ENV = "ORCHESTRALINK_MAX_CLOCK_SKEW_SECONDS"
MAX_READING_AGE_ENV = "ORCHESTRALINK_MAX_READING_AGE_SECONDS"
BATCH_TOPIC_LEVEL = "telemetry"

# "<id_prefix>-<suffix>": it is an MQTT topic level, so no '/', '+' or '#'.
_MACHINE_ID_RE = re.compile(r"^[a-z][a-z0-9]{0,15}-[A-Za-z0-9][A-Za-z0-9-]{0,46}$")
_MAX_INPUT_REPR = 60
# Error types whose message is clearer with the offending input quoted.
_SHOW_INPUT = frozenset(
    {
        "float_type",
        "int_type",
        "string_type",
        "literal_error",
        "greater_than_equal",
        "less_than_equal",
    }
)


class TelemetryError(OrchestraLinkError):
    """Base class of the telemetry module's errors."""


class InvalidTelemetryError(TelemetryError, ValueError):
    """A message that cannot be stored; `reason` names each field and problem."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TelemetryConfigError(TelemetryError):
    """A validation limit in the environment is not usable."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, eq=False)
class TelemetryRules:
    """What validation checks against; inject a clock or catalog in tests."""

    catalog: Catalog
    clock: Callable[[], datetime] = _utc_now
    max_clock_skew: timedelta = MAX_CLOCK_SKEW
    max_reading_age: timedelta = MAX_READING_AGE
    max_payload_bytes: int = MAX_PAYLOAD_BYTES
    # One shared adapter context per rules object: pydantic passes it to validators.
    context: dict[str, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "context", {"rules": self})


def default_rules() -> TelemetryRules:
    """Rules from the environment: ORCHESTRALINK_CATALOG and the limit variables."""
    return _rules_for(
        load_catalog(),
        os.environ.get(MAX_CLOCK_SKEW_ENV, ""),
        os.environ.get(MAX_READING_AGE_ENV, ""),
    )


# Validators ask for the rules several times per message: build them once per
# catalog and environment. Keyed by id(); the cached rules keep the catalog alive.
_default_rules: dict[tuple[int, str, str], TelemetryRules] = {}


def _rules_for(catalog: Catalog, skew: str, age: str) -> TelemetryRules:
    key = (id(catalog), skew, age)
    rules = _default_rules.get(key)
    if rules is None or rules.catalog is not catalog:
        rules = TelemetryRules(
            catalog=catalog,
            max_clock_skew=_seconds(MAX_CLOCK_SKEW_ENV, skew, MAX_CLOCK_SKEW),
            max_reading_age=_seconds(MAX_READING_AGE_ENV, age, MAX_READING_AGE),
        )
        if len(_default_rules) > 16:
            _default_rules.clear()
        _default_rules[key] = rules
    return rules


def _seconds(name: str, text: str, default: timedelta) -> timedelta:
    if not text.strip():
        return default
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise TelemetryConfigError(
            f"{name}={text!r} is not a positive number of seconds; set it to, for "
            f"example, {int(default.total_seconds())} or unset it"
        )
    return timedelta(seconds=seconds)


_active_rules: ContextVar[TelemetryRules | None] = ContextVar(
    "orchestralink_telemetry_rules", default=None
)


@contextmanager
def use_rules(rules: TelemetryRules) -> Iterator[TelemetryRules]:
    """Validate with `rules` inside the block, even without pydantic context.

    Powertools' parser cannot pass validation context; a handler wraps its
    parsing in this block so every validator sees the same rules without
    rebuilding them (and re-reading the catalog) once per field.
    """
    token = _active_rules.set(rules)
    try:
        yield rules
    finally:
        _active_rules.reset(token)


def _rules(info: ValidationInfo) -> TelemetryRules:
    context = info.context
    if isinstance(context, Mapping):
        rules = context.get("rules")
        if isinstance(rules, TelemetryRules):
            return rules
    return _active_rules.get() or default_rules()


# Bounds keep every accepted value storable: PostgreSQL raises on float8 sums that
# overflow (a minute's rollup of two 1e308 readings), on bigint beyond 2**63 - 1,
# and Python's datetime stops at year 9999. One such record would otherwise fail
# its whole batch in the database instead of alone in validation.
MAX_ABS_VALUE = 1e12
MAX_SEQUENCE = 2**63 - 1
MAX_EPOCH_MS = 253402300799999  # 9999-12-31T23:59:59.999Z

FiniteNumber = Annotated[
    float,
    Field(strict=True, allow_inf_nan=False, ge=-MAX_ABS_VALUE, le=MAX_ABS_VALUE),
]
Name = Annotated[StrictStr, Field(min_length=1, max_length=64)]


class Reading(NamedTuple):
    """One stored measurement: a row of the `readings` table, before status."""

    machine_id: str
    machine_type: str
    parameter: str
    ts: datetime
    value: float
    sequence: int | None
    received_at: datetime | None


class _Message(BaseModel):
    """Fields both shapes share; field order matters (later checks use earlier)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    machine_type: Name
    machine_id: Annotated[StrictStr, Field(max_length=64)]
    timestamp: datetime
    sequence: Annotated[StrictInt, Field(ge=0, le=MAX_SEQUENCE)] | None = None
    received_at: Annotated[StrictInt, Field(ge=0, le=MAX_EPOCH_MS)] | None = None

    @field_validator("machine_type")
    @classmethod
    def _known_machine_type(cls, value: str, info: ValidationInfo) -> str:
        try:
            _rules(info).catalog.machine_type(value)
        except CatalogError as error:
            raise ValueError(str(error)) from None
        return value

    @field_validator("machine_id")
    @classmethod
    def _machine_id_format(cls, value: str, info: ValidationInfo) -> str:
        if not _MACHINE_ID_RE.match(value):
            raise ValueError(
                f"{value!r} is not a machine id: use '<prefix>-<number>' such as "
                "'drill-001' (lowercase prefix, then letters, digits or '-')"
            )
        machine_type = info.data.get("machine_type")
        if machine_type is not None:
            prefix = _rules(info).catalog.machine_type(machine_type).id_prefix
            if not value.startswith(f"{prefix}-"):
                raise ValueError(
                    f"{value!r} is not a {machine_type} id: {machine_type} ids "
                    f"start with '{prefix}-'"
                )
        return value

    @field_validator("timestamp", mode="before")
    @classmethod
    def _timestamp_in_window(cls, value: Any, info: ValidationInfo) -> datetime:
        if not isinstance(value, str):
            raise ValueError(
                f"must be an ISO-8601 string such as '2026-12-03T19:58:01.123Z', "
                f"got {type(value).__name__}"
            )
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"{_short(value)} is not an ISO-8601 date and time; use a form "
                "such as '2026-12-03T19:58:01.123Z'"
            ) from None
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            raise ValueError(
                f"{_short(value)} has no time zone; add 'Z' for UTC "
                "(for example '2026-12-03T19:58:01.123Z')"
            )
        parsed = parsed.astimezone(UTC)

        rules = _rules(info)
        now = rules.clock()
        if parsed - now > rules.max_clock_skew:
            raise ValueError(
                f"{_short(value)} is {_duration(parsed - now)} in the future; "
                f"readings may be at most {_duration(rules.max_clock_skew)} ahead "
                f"(check the machine's clock, or {MAX_CLOCK_SKEW_ENV})"
            )
        if now - parsed > rules.max_reading_age:
            raise ValueError(
                f"{_short(value)} is {_duration(now - parsed)} old; readings older "
                f"than {_duration(rules.max_reading_age)} are refused "
                f"(check the machine's clock, or {MAX_READING_AGE_ENV})"
            )
        return parsed

    def _received_at(self) -> datetime | None:
        if self.received_at is None:
            return None
        return datetime.fromtimestamp(self.received_at / 1000, UTC)


def _check_unit(
    unit: str | None, machine_type: str, parameter: str, info: ValidationInfo
) -> None:
    if unit is None:
        return
    expected = _rules(info).catalog.parameter(machine_type, parameter).unit
    if unit != expected:
        raise ValueError(
            f"unit {unit!r} of {parameter} differs from the catalog's {expected!r}; "
            f"send {machine_type} {parameter} in {expected}"
        )


class ReadingMessage(_Message):
    """One reading, published on machine/{machine_id}/{parameter}."""

    parameter: Name
    value: FiniteNumber
    unit: Annotated[StrictStr, Field(max_length=32)] | None = None

    @field_validator("parameter")
    @classmethod
    def _known_parameter(cls, value: str, info: ValidationInfo) -> str:
        machine_type = info.data.get("machine_type")
        if machine_type is not None:
            try:
                _rules(info).catalog.parameter(machine_type, value)
            except CatalogError as error:
                raise ValueError(str(error)) from None
        return value

    @field_validator("unit")
    @classmethod
    def _unit_matches_catalog(cls, value: str | None, info: ValidationInfo) -> Any:
        machine_type = info.data.get("machine_type")
        parameter = info.data.get("parameter")
        if machine_type is not None and parameter is not None:
            _check_unit(value, machine_type, parameter, info)
        return value

    def to_readings(self) -> list[Reading]:
        return [
            Reading(
                self.machine_id,
                self.machine_type,
                self.parameter,
                self.timestamp,
                self.value,
                self.sequence,
                self._received_at(),
            )
        ]


class BatchReading(BaseModel):
    """One entry of a batch message's `readings`; the header gives the rest."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    parameter: Name
    value: FiniteNumber
    unit: Annotated[StrictStr, Field(max_length=32)] | None = None


class BatchMessage(_Message):
    """Every parameter of one machine at one instant, on machine/{id}/telemetry."""

    parameter: Literal["telemetry"] | None = None
    readings: Annotated[
        list[BatchReading], Field(min_length=1, max_length=MAX_READINGS_PER_MESSAGE)
    ]

    @field_validator("readings")
    @classmethod
    def _known_distinct_parameters(
        cls, value: list[BatchReading], info: ValidationInfo
    ) -> list[BatchReading]:
        machine_type = info.data.get("machine_type")
        if machine_type is None:
            return value
        seen: set[str] = set()
        for index, reading in enumerate(value):
            where = f"readings[{index}]"
            try:
                _rules(info).catalog.parameter(machine_type, reading.parameter)
            except CatalogError as error:
                raise ValueError(f"{where}: {error}") from None
            if reading.parameter in seen:
                raise ValueError(
                    f"{where}: {reading.parameter} appears twice; a batch holds "
                    "one reading per parameter"
                )
            seen.add(reading.parameter)
            try:
                _check_unit(reading.unit, machine_type, reading.parameter, info)
            except ValueError as error:
                raise ValueError(f"{where}: {error}") from None
        return value

    def to_readings(self) -> list[Reading]:
        received_at = self._received_at()
        return [
            Reading(
                self.machine_id,
                self.machine_type,
                reading.parameter,
                self.timestamp,
                reading.value,
                self.sequence,
                received_at,
            )
            for reading in self.readings
        ]


def _shape(value: Any) -> str | None:
    """Batch when it came from .../telemetry (or, unrouted, carries readings)."""
    if isinstance(value, Mapping):
        parameter = value.get("parameter")
        if parameter == BATCH_TOPIC_LEVEL:
            return "batch"
        if parameter is None and "readings" in value:
            return "batch"
        return "reading"
    if isinstance(value, BatchMessage):
        return "batch"
    if isinstance(value, ReadingMessage):
        return "reading"
    return None


class TelemetryMessage(
    RootModel[
        Annotated[
            Annotated[ReadingMessage, Tag("reading")]
            | Annotated[BatchMessage, Tag("batch")],
            Discriminator(
                _shape,
                custom_error_type="message_type",
                custom_error_message="a telemetry message must be a JSON object",
            ),
        ]
    ]
):
    """Either shape; what Powertools' parser is given for a message body."""


def check_payload_size(body: str | bytes, rules: TelemetryRules | None = None) -> None:
    """Refuse oversized bodies before spending time parsing them."""
    limit = (rules or _active_rules.get() or default_rules()).max_payload_bytes
    size = len(body.encode()) if isinstance(body, str) else len(body)
    if size > limit:
        raise InvalidTelemetryError(
            f"(message): payload is {size} bytes, more than the {limit} bytes a "
            "telemetry message may have (AWS IoT Core's MQTT limit); split it"
        )


def parse_telemetry(
    body: str | bytes | Mapping[str, Any], rules: TelemetryRules | None = None
) -> ReadingMessage | BatchMessage:
    """Validate one message (JSON text or a decoded object).

    Raises InvalidTelemetryError whose message names every bad field.
    """
    rules = rules or default_rules()
    try:
        if isinstance(body, str | bytes):
            check_payload_size(body, rules)
            message = TelemetryMessage.model_validate_json(body, context=rules.context)
        else:
            message = TelemetryMessage.model_validate(body, context=rules.context)
    except ValidationError as error:
        raise InvalidTelemetryError(describe_validation_error(error)) from error
    return message.root


def describe_validation_error(error: ValidationError) -> str:
    """One line naming each bad field: 'value: Input should be a finite number'."""
    problems = []
    for detail in error.errors(include_url=False):
        location = [str(part) for part in detail["loc"]]
        if location and location[0] in ("reading", "batch"):
            location = location[1:]  # the union's tag, not a field
        where = ".".join(location) or "(message)"
        message = detail["msg"].removeprefix("Value error, ")
        problem = f"{where}: {message}"
        if detail["type"] in _SHOW_INPUT:
            problem += f" (got {_short(detail.get('input'))})"
        problems.append(problem)
    return "; ".join(problems)


def _short(value: Any) -> str:
    text = repr(value)
    if len(text) > _MAX_INPUT_REPR:
        text = text[: _MAX_INPUT_REPR - 3] + "..."
    return text


def _duration(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"

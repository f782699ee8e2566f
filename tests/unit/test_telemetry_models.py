"""Telemetry messages are validated strictly, and every refusal names the field
and the problem: what is accepted is stored for good."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser import ValidationError, parse

from orchestralink.catalog import DEFAULT_CATALOG_PATH, load_catalog
from orchestralink.telemetry import (
    MAX_READING_AGE_ENV,
    BatchMessage,
    InvalidTelemetryError,
    Reading,
    ReadingMessage,
    TelemetryConfigError,
    TelemetryMessage,
    TelemetryRules,
    default_rules,
    parse_telemetry,
    use_rules,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 3, 19, 58, 1, 500000, tzinfo=UTC)
RULES = TelemetryRules(catalog=load_catalog(), clock=lambda: NOW)


def reading_message(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "machine_id": "drill-001",
        "machine_type": "Drilling",
        "parameter": "Temperature",
        "value": 812.4,
        "unit": "°C",
        "timestamp": "2026-12-03T19:58:01.123Z",
        "sequence": 42,
        "received_at": 1796327881600,
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


def batch_message(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "machine_id": "drill-001",
        "machine_type": "Drilling",
        "parameter": "telemetry",
        "timestamp": "2026-12-03T19:58:01.123Z",
        "sequence": 42,
        "readings": [
            {"parameter": "Temperature", "value": 812.4, "unit": "°C"},
            {"parameter": "Torque", "value": 31},
        ],
        "received_at": 1796327881600,
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


def refusal(body: str | dict[str, Any]) -> str:
    text = body if isinstance(body, str) else json.dumps(body)
    with pytest.raises(InvalidTelemetryError) as caught:
        parse_telemetry(text, RULES)
    return caught.value.reason


def test_a_reading_message_becomes_one_reading_in_utc() -> None:
    message = parse_telemetry(json.dumps(reading_message()), RULES)

    assert isinstance(message, ReadingMessage)
    assert message.to_readings() == [
        Reading(
            machine_id="drill-001",
            machine_type="Drilling",
            parameter="Temperature",
            ts=datetime(2026, 12, 3, 19, 58, 1, 123000, tzinfo=UTC),
            value=812.4,
            sequence=42,
            received_at=datetime(2026, 12, 3, 19, 58, 1, 600000, tzinfo=UTC),
        )
    ]


def test_a_batch_message_becomes_one_reading_per_entry() -> None:
    message = parse_telemetry(json.dumps(batch_message()), RULES)

    assert isinstance(message, BatchMessage)
    assert [(r.parameter, r.value, r.sequence) for r in message.to_readings()] == [
        ("Temperature", 812.4, 42),
        ("Torque", 31.0, 42),
    ]


def test_a_batch_not_yet_routed_by_the_rule_is_recognised_by_its_readings() -> None:
    body = batch_message(parameter=..., received_at=...)

    message = parse_telemetry(body, RULES)

    assert isinstance(message, BatchMessage)
    assert message.to_readings()[0].received_at is None


def test_a_timestamp_with_an_offset_is_converted_to_utc() -> None:
    body = reading_message(timestamp="2026-12-03T20:58:01.123+01:00")

    [reading] = parse_telemetry(body, RULES).to_readings()

    assert reading.ts == datetime(2026, 12, 3, 19, 58, 1, 123000, tzinfo=UTC)
    assert reading.ts.tzinfo is UTC


def test_a_timestamp_up_to_the_allowed_clock_skew_ahead_is_accepted() -> None:
    ahead = (NOW + timedelta(minutes=4)).isoformat()

    [reading] = parse_telemetry(reading_message(timestamp=ahead), RULES).to_readings()

    assert reading.ts == NOW + timedelta(minutes=4)


def test_unit_and_sequence_are_optional() -> None:
    body = reading_message(unit=..., sequence=..., received_at=...)

    [reading] = parse_telemetry(body, RULES).to_readings()

    assert (reading.sequence, reading.received_at) == (None, None)


MALFORMED_READINGS: list[tuple[str, str | dict[str, Any], str]] = [
    (
        "invalid JSON",
        '{"machine_id": "drill-001", "value": ',
        "(message): Invalid JSON: EOF while parsing a value at line 1 column 37",
    ),
    ("not an object", "[1, 2]", "(message): a telemetry message must be a JSON object"),
    (
        "a bare string",
        '"812.4"',
        "(message): a telemetry message must be a JSON object",
    ),
    (
        "NaN",
        json.dumps(reading_message(value=float("nan"))),
        "value: Input should be a finite number",
    ),
    (
        "Infinity",
        json.dumps(reading_message(value=float("inf"))),
        "value: Input should be a finite number",
    ),
    (
        "a number too large for a double",
        json.dumps(reading_message()).replace("812.4", "1e999"),
        "value: Input should be a finite number",
    ),
    (
        "value as a string",
        reading_message(value="812.4"),
        "value: Input should be a valid number (got '812.4')",
    ),
    (
        "value as a boolean",
        reading_message(value=True),
        "value: Input should be a valid number (got True)",
    ),
    (
        "value null",
        reading_message(value=None),
        "value: Input should be a valid number (got None)",
    ),
    ("value missing", reading_message(value=...), "value: Field required"),
    (
        "unknown machine type",
        reading_message(machine_type="Press"),
        "machine_type: unknown machine type 'Press'; known machine types: "
        "Drilling, Milling, Lathe",
    ),
    (
        "unknown parameter",
        reading_message(parameter="Humidity"),
        "parameter: unknown parameter 'Humidity' for machine type 'Drilling'; known "
        "parameters: CoolantPressure, FeedRate, SpindleSpeed, Temperature, Torque",
    ),
    (
        "parameter of another machine type",
        reading_message(parameter="CoolantFlow"),
        "parameter: unknown parameter 'CoolantFlow' for machine type 'Drilling'",
    ),
    (
        "machine id of another type",
        reading_message(machine_id="mill-001"),
        "machine_id: 'mill-001' is not a Drilling id: Drilling ids start with 'drill-'",
    ),
    (
        "machine id that is not a topic level",
        reading_message(machine_id="drill/001"),
        "machine_id: 'drill/001' is not a machine id: use '<prefix>-<number>'",
    ),
    (
        "wrong unit",
        reading_message(unit="°F"),
        "unit: unit '°F' of Temperature differs from the catalog's '°C'; "
        "send Drilling Temperature in °C",
    ),
    (
        "timestamp far in the future",
        reading_message(timestamp="2026-12-06T19:58:01Z"),
        "timestamp: '2026-12-06T19:58:01Z' is 3 days in the future; readings may be "
        "at most 5 min ahead (check the machine's clock, or "
        "ORCHESTRALINK_MAX_CLOCK_SKEW_SECONDS)",
    ),
    (
        "timestamp six minutes ahead",
        reading_message(timestamp="2026-12-03T20:04:02Z"),
        "timestamp: '2026-12-03T20:04:02Z' is 6 min in the future",
    ),
    (
        "timestamp absurdly old",
        reading_message(timestamp="2025-01-01T00:00:00Z"),
        "timestamp: '2025-01-01T00:00:00Z' is 702 days old; readings older than "
        "30 days are refused",
    ),
    (
        "timestamp without a time zone",
        reading_message(timestamp="2026-12-03T19:58:01.123"),
        "timestamp: '2026-12-03T19:58:01.123' has no time zone; add 'Z' for UTC",
    ),
    (
        "timestamp as epoch seconds",
        reading_message(timestamp=1796327881),
        "timestamp: must be an ISO-8601 string such as '2026-12-03T19:58:01.123Z', "
        "got int",
    ),
    (
        "timestamp that is not a date",
        reading_message(timestamp="yesterday"),
        "timestamp: 'yesterday' is not an ISO-8601 date and time",
    ),
    (
        "negative sequence",
        reading_message(sequence=-1),
        "sequence: Input should be greater than or equal to 0",
    ),
    (
        "a value beyond what rollups can sum",
        reading_message(value=1e300),
        "value: Input should be less than or equal to 1000000000000 (got 1e+300)",
    ),
    (
        "sequence beyond a bigint",
        reading_message(sequence=2**63),
        "sequence: Input should be less than or equal to 9223372036854775807",
    ),
    (
        "received_at after the year 9999",
        reading_message(received_at=10**16),
        "received_at: Input should be less than or equal to 253402300799999",
    ),
    (
        "sequence as a string",
        reading_message(sequence="42"),
        "sequence: Input should be a valid integer (got '42')",
    ),
    (
        "received_at as a float",
        reading_message(received_at=1.5),
        "received_at: Input should be a valid integer (got 1.5)",
    ),
    (
        "a reading on the batch topic",
        reading_message(parameter="telemetry"),
        "readings: Field required",
    ),
]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(body, expected, id=name)
        for name, body, expected in MALFORMED_READINGS
    ],
)
def test_a_malformed_reading_is_refused_naming_the_field(
    body: str | dict[str, Any], expected: str
) -> None:
    assert expected in refusal(body)


def test_every_bad_field_is_named_at_once() -> None:
    reason = refusal(reading_message(value="hot", sequence=-3))

    assert reason == (
        "sequence: Input should be greater than or equal to 0 (got -3); "
        "value: Input should be a valid number (got 'hot')"
    )


def test_an_oversized_payload_is_refused_before_parsing() -> None:
    body = json.dumps(reading_message(padding="x" * 200_000))

    assert refusal(body) == (
        f"(message): payload is {len(body.encode())} bytes, more than the 131072 "
        "bytes a telemetry message may have (AWS IoT Core's MQTT limit); split it"
    )


MALFORMED_BATCHES: list[tuple[str, dict[str, Any], str]] = [
    (
        "no readings",
        batch_message(readings=[]),
        "readings: List should have at least 1 item after validation, not 0",
    ),
    (
        "too many readings",
        batch_message(readings=[{"parameter": "Torque", "value": 1}] * 101),
        "readings: List should have at most 100 items after validation, not 101",
    ),
    (
        "readings not a list",
        batch_message(readings={"Temperature": 812.4}),
        "readings: Input should be a valid array",
    ),
    (
        "one parameter twice",
        batch_message(
            readings=[
                {"parameter": "Torque", "value": 1},
                {"parameter": "Torque", "value": 2},
            ]
        ),
        "readings: readings[1]: Torque appears twice; a batch holds one reading per "
        "parameter",
    ),
    (
        "unknown parameter in a batch",
        batch_message(readings=[{"parameter": "Humidity", "value": 1}]),
        "readings: readings[0]: unknown parameter 'Humidity' for machine type "
        "'Drilling'",
    ),
    (
        "wrong unit in a batch",
        batch_message(readings=[{"parameter": "Torque", "value": 1, "unit": "Nm"}]),
        "readings: readings[0]: unit 'Nm' of Torque differs from the catalog's 'N·m'",
    ),
    (
        "string value in a batch",
        batch_message(readings=[{"parameter": "Torque", "value": "1"}]),
        "readings.0.value: Input should be a valid number (got '1')",
    ),
    (
        "NaN in a batch",
        batch_message(readings=[{"parameter": "Torque", "value": float("nan")}]),
        "readings.0.value: Input should be a finite number",
    ),
    (
        "batch without a timestamp",
        batch_message(timestamp=...),
        "timestamp: Field required",
    ),
]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(body, expected, id=name)
        for name, body, expected in MALFORMED_BATCHES
    ],
)
def test_a_malformed_batch_is_refused_naming_the_field(
    body: dict[str, Any], expected: str
) -> None:
    assert expected in refusal(body)


def test_a_decoded_object_is_validated_like_json_text() -> None:
    with pytest.raises(InvalidTelemetryError, match="value: Input should be a finite"):
        parse_telemetry(reading_message(value=float("inf")), RULES)


def test_powertools_parser_uses_the_rules_set_around_it() -> None:
    # 2026-12-03T20:00:00Z is under 2 minutes after RULES' clock; the real clock
    # may be anywhere, so only the injected rules make this message valid.
    body: Any = json.dumps(reading_message(timestamp="2026-12-03T20:00:00Z"))
    far_future: Any = json.dumps(reading_message(timestamp="2099-01-01T00:00:00Z"))

    with use_rules(RULES):
        message = parse(event=body, model=TelemetryMessage)
        with pytest.raises(ValidationError, match="days in the future"):
            parse(event=far_future, model=TelemetryMessage)

    assert isinstance(message.root, ReadingMessage)
    assert message.root.timestamp == datetime(2026, 12, 3, 20, 0, tzinfo=UTC)


def test_the_reading_age_limit_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(MAX_READING_AGE_ENV, "3600")

    assert default_rules().max_reading_age == timedelta(hours=1)


def test_a_bad_limit_in_the_environment_names_the_variable_and_the_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(MAX_READING_AGE_ENV, "a month")

    with pytest.raises(TelemetryConfigError) as caught:
        default_rules()

    assert str(caught.value) == (
        "ORCHESTRALINK_MAX_READING_AGE_SECONDS='a month' is not a positive number of "
        "seconds; set it to, for example, 2592000 or unset it"
    )


def test_a_parameter_added_to_the_catalog_is_accepted(tmp_path: Path) -> None:
    catalog_file = tmp_path / "catalog.toml"
    catalog_file.write_text(
        DEFAULT_CATALOG_PATH.read_text(encoding="utf-8")
        + "\n[machine_types.Drilling.parameters.VibrationLevel]\n"
        'unit = "Hz"\nnormal_min = 20.0\nnormal_max = 120.0\n'
        "warning_high = 150.0\ncritical_high = 200.0\ndrift = 4.0\nnoise = 1.5\n",
        encoding="utf-8",
    )
    rules = TelemetryRules(catalog=load_catalog(catalog_file), clock=lambda: NOW)
    body = reading_message(parameter="VibrationLevel", value=88.0, unit="Hz")

    [reading] = parse_telemetry(body, rules).to_readings()

    assert (reading.parameter, reading.value) == ("VibrationLevel", 88.0)
    with pytest.raises(InvalidTelemetryError, match="unknown parameter 'Vibration"):
        parse_telemetry(body, RULES)

"""The machine catalog: the packaged file, classification, validation, overrides."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from orchestralink.catalog import (
    CATALOG_ENV,
    DEFAULT_CATALOG_PATH,
    CatalogError,
    InvalidCatalogError,
    InvalidValueError,
    Parameter,
    UnknownMachineTypeError,
    UnknownParameterError,
    clear_catalog_cache,
    load_catalog,
    parse_catalog,
)
from orchestralink.errors import OrchestraLinkError

pytestmark = pytest.mark.unit

VIBRATION_TABLE = """
[machine_types.Drilling.parameters.VibrationLevel]
unit = "Hz"
normal_min = 20.0
normal_max = 120.0
warning_high = 150.0
critical_high = 200.0
drift = 4.0
noise = 1.5
"""


@pytest.fixture(autouse=True)
def packaged_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CATALOG_ENV, raising=False)


def minimal(**overrides: object) -> str:
    """A one-type, one-parameter catalog; overrides replace or add parameter keys."""
    keys: dict[str, object] = {
        "unit": '"°C"',
        "normal_min": 10.0,
        "normal_max": 20.0,
        "warning_high": 25.0,
        "critical_high": 30.0,
        "drift": 1.0,
        "noise": 0.5,
    }
    keys.update(overrides)
    lines = [f"{k} = {v}" for k, v in keys.items() if v is not None]
    return (
        '[machine_types.Oven]\nid_prefix = "oven"\n'
        "[machine_types.Oven.parameters.Heat]\n" + "\n".join(lines) + "\n"
    )


def test_the_packaged_catalog_defines_drills_mills_and_lathes() -> None:
    catalog = load_catalog()

    assert list(catalog.machine_types) == ["Drilling", "Milling", "Lathe"]
    assert [t.id_prefix for t in catalog.machine_types.values()] == [
        "drill",
        "mill",
        "lathe",
    ]
    assert catalog.source == DEFAULT_CATALOG_PATH.resolve()


def test_every_machine_type_reports_temperature_in_celsius() -> None:
    catalog = load_catalog()

    for machine_type in catalog.machine_types.values():
        assert machine_type.parameters["Temperature"].unit == "°C"


def test_a_drill_is_critical_strictly_above_1000_degrees() -> None:
    temperature = load_catalog().parameter("Drilling", "Temperature")

    assert temperature.classify(725.0) == "NORMAL"
    assert temperature.classify(900.0) == "NORMAL"
    assert temperature.classify(900.1) == "WARNING"
    assert temperature.classify(1000.0) == "WARNING"
    assert temperature.classify(1000.1) == "CRITICAL"
    assert temperature.threshold_for(1000.1) == 1000.0
    assert temperature.threshold_for(950.0) == 900.0
    assert temperature.threshold_for(800.0) is None


def test_a_low_threshold_makes_too_little_pressure_an_alarm() -> None:
    coolant = load_catalog().parameter("Drilling", "CoolantPressure")

    assert coolant.classify(40.0) == "NORMAL"
    assert coolant.classify(14.9) == "WARNING"
    assert coolant.threshold_for(14.9) == 15.0
    assert coolant.classify(9.9) == "CRITICAL"
    assert coolant.threshold_for(9.9) == 10.0
    assert coolant.classify(10_000.0) == "NORMAL"


def test_a_parameter_with_thresholds_on_both_sides_alarms_both_ways() -> None:
    oil = load_catalog().parameter("Lathe", "OilPressure")

    assert [oil.classify(v) for v in (19.0, 24.0, 40.0, 56.0, 61.0)] == [
        "CRITICAL",
        "WARNING",
        "NORMAL",
        "WARNING",
        "CRITICAL",
    ]
    assert [oil.threshold_for(v) for v in (19.0, 24.0, 40.0, 56.0, 61.0)] == [
        20.0,
        25.0,
        None,
        55.0,
        60.0,
    ]


def test_a_parameter_without_thresholds_is_always_normal() -> None:
    free = Parameter("Free", "u", 0.0, 1.0, None, None, None, None, 0.1, 0.1)

    assert free.classify(-1e9) == "NORMAL"
    assert free.classify(1e9) == "NORMAL"


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_classifying_a_non_finite_value_is_refused(value: float) -> None:
    temperature = load_catalog().parameter("Drilling", "Temperature")

    with pytest.raises(InvalidValueError, match="must be a finite number") as caught:
        temperature.classify(value)
    assert "Temperature" in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_an_unknown_machine_type_names_the_known_ones() -> None:
    with pytest.raises(UnknownMachineTypeError) as caught:
        load_catalog().machine_type("Grinding")

    assert str(caught.value) == (
        "unknown machine type 'Grinding'; known machine types: Drilling, Milling, Lathe"
    )
    assert isinstance(caught.value, CatalogError)
    assert isinstance(caught.value, OrchestraLinkError)


def test_an_unknown_parameter_names_the_machine_types_parameters() -> None:
    with pytest.raises(UnknownParameterError) as caught:
        load_catalog().parameter("Milling", "OilPressure")

    assert str(caught.value) == (
        "unknown parameter 'OilPressure' for machine type 'Milling'; known "
        "parameters: CoolantFlow, FeedRate, SpindleSpeed, Temperature, Torque"
    )


def test_parameter_names_are_the_sorted_union_over_machine_types() -> None:
    assert load_catalog().parameter_names() == [
        "CoolantFlow",
        "CoolantPressure",
        "CuttingForce",
        "FeedRate",
        "OilPressure",
        "SpindleSpeed",
        "Temperature",
        "Torque",
    ]


def test_a_machine_id_prefix_finds_its_machine_type() -> None:
    catalog = load_catalog()

    assert catalog.machine_type_for_id("lathe-003").name == "Lathe"
    with pytest.raises(UnknownMachineTypeError, match="no known id prefix"):
        catalog.machine_type_for_id("press-001")


def test_every_packaged_parameter_keeps_its_simulated_walk_inside_normal() -> None:
    # The walk's stationary spread is drift / sqrt(2 * reversion); four of them
    # must fit in half the normal range or quiet machines would raise warnings.
    for machine_type in load_catalog().machine_types.values():
        for p in machine_type.parameters.values():
            spread = p.drift / math.sqrt(2 * p.reversion)
            assert 4 * spread < (p.normal_max - p.normal_min) / 2, p.name


def test_loading_twice_returns_the_cached_catalog() -> None:
    assert load_catalog() is load_catalog()


def test_an_edited_catalog_file_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "catalog.toml"
    path.write_text(minimal())
    first = load_catalog(path)

    path.write_text(minimal(critical_high=40.0))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

    assert load_catalog(path).parameter("Oven", "Heat").critical_high == 40.0
    assert first.parameter("Oven", "Heat").critical_high == 30.0


def test_the_environment_variable_points_at_another_catalog_with_vibration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "catalog.toml"
    path.write_text(DEFAULT_CATALOG_PATH.read_text(encoding="utf-8") + VIBRATION_TABLE)
    monkeypatch.setenv(CATALOG_ENV, str(path))

    catalog = load_catalog()

    assert catalog.source == path.resolve()
    assert "VibrationLevel" in catalog.parameter_names()
    vibration = catalog.parameter("Drilling", "VibrationLevel")
    assert vibration.unit == "Hz"
    assert vibration.classify(210.0) == "CRITICAL"
    assert vibration.classify(160.0) == "WARNING"
    assert vibration.classify(80.0) == "NORMAL"
    with pytest.raises(UnknownParameterError):
        catalog.parameter("Milling", "VibrationLevel")


def test_a_missing_catalog_file_names_the_path_and_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CATALOG_ENV, str(tmp_path / "nowhere.toml"))

    with pytest.raises(InvalidCatalogError) as caught:
        load_catalog()

    message = str(caught.value)
    assert "nowhere.toml" in message
    assert "point ORCHESTRALINK_CATALOG at an existing TOML file" in message


def test_clearing_the_cache_forces_a_new_read() -> None:
    first = load_catalog()
    clear_catalog_cache()

    assert load_catalog() is not first


BAD_CATALOGS = [
    pytest.param(
        minimal(warning_hgh=25.0),
        "machine_types.Oven.parameters.Heat.warning_hgh: unknown key; did you "
        "mean 'warning_high'?",
        id="misspelt key",
    ),
    pytest.param(
        minimal(warning_high=35.0),
        "machine_types.Oven.parameters.Heat.warning_high: warning_high (35.0) must "
        "be below critical_high (30.0)",
        id="warning beyond critical",
    ),
    pytest.param(
        minimal(warning_high=30.0),
        "warning_high (30.0) must be below critical_high (30.0)",
        id="warning equal to critical",
    ),
    pytest.param(
        minimal(normal_min=20.0, normal_max=10.0),
        "machine_types.Oven.parameters.Heat.normal_min: normal range is reversed or "
        "empty (20.0 >= 10.0); normal_min must be below normal_max",
        id="normal range reversed",
    ),
    pytest.param(
        minimal(warning_high=15.0),
        "Heat.warning_high: normal_max (20.0) must be at most warning_high (15.0)",
        id="warning inside the normal range",
    ),
    pytest.param(
        minimal(warning_low=5.0, critical_low=6.0),
        "Heat.critical_low: critical_low (6.0) must be below warning_low (5.0)",
        id="low thresholds reversed",
    ),
    pytest.param(
        minimal(unit=None),
        "machine_types.Oven.parameters.Heat.unit: missing; this key is required",
        id="missing unit",
    ),
    pytest.param(
        minimal(critical_high='"hot"'),
        "Heat.critical_high: got 'hot'; it must be a number",
        id="threshold not a number",
    ),
    pytest.param(
        minimal(critical_high="nan"),
        "Heat.critical_high: got nan; it must be finite",
        id="threshold not finite",
    ),
    pytest.param(
        minimal(drift=-1.0),
        "Heat.drift: got -1.0; it must be zero or positive",
        id="negative drift",
    ),
    pytest.param(
        minimal(decimals=1.5),
        "Heat.decimals: got 1.5; it must be an integer",
        id="fractional decimals",
    ),
    pytest.param(
        minimal().replace("parameters.Heat]", "parameters.telemetry]"),
        "parameters.telemetry: 'telemetry' is reserved for batch messages",
        id="reserved parameter name",
    ),
    pytest.param(
        minimal().replace("parameters.Heat]", 'parameters."Heat/Top"]'),
        "a parameter name is an MQTT topic level: letters and digits",
        id="slash in parameter name",
    ),
    pytest.param(
        minimal().replace('id_prefix = "oven"', 'id_prefix = "Oven-1"'),
        "machine_types.Oven.id_prefix: got 'Oven-1'; set it to lowercase letters",
        id="bad id prefix",
    ),
    pytest.param(
        minimal() + minimal().replace("Oven", "Kiln"),
        "machine_types.Kiln.id_prefix: 'oven' is already the prefix of Oven",
        id="duplicate id prefix",
    ),
    pytest.param(
        minimal()
        + minimal()
        .replace("Oven", "Kiln")
        .replace('"oven"', '"kiln"')
        .replace('"°C"', '"K"'),
        "machine_types.Kiln.parameters.Heat.unit: 'K' differs from '°C' used by "
        "Oven; a parameter name must have one unit in every machine type",
        id="one name two units",
    ),
    pytest.param(
        "colour = 1\n" + minimal(),
        "colour: unknown key; allowed keys here: machine_types",
        id="unknown top-level key",
    ),
    pytest.param(
        "",
        "machine_types: no machine types defined",
        id="empty file",
    ),
    pytest.param(
        '[machine_types.Oven]\nid_prefix = "oven"\n',
        "machine_types.Oven.parameters: no parameters defined",
        id="type without parameters",
    ),
    pytest.param(
        "[machine_types.Oven\n",
        "not valid TOML",
        id="broken syntax",
    ),
]


@pytest.mark.parametrize(("text", "expected"), BAD_CATALOGS)
def test_an_invalid_catalog_is_refused_with_the_key_and_the_fix(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "catalog.toml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(InvalidCatalogError) as caught:
        load_catalog(path)

    assert expected in str(caught.value)
    assert str(caught.value).startswith(str(path.resolve()))


def test_parsing_text_without_a_file_names_the_catalog_generically() -> None:
    with pytest.raises(InvalidCatalogError) as caught:
        parse_catalog(minimal(noise=-0.5))

    assert str(caught.value) == (
        "<catalog>: machine_types.Oven.parameters.Heat.noise: got -0.5; it must be "
        "zero or positive"
    )


def test_a_minimal_valid_catalog_gets_default_motion_settings() -> None:
    heat = parse_catalog(minimal()).parameter("Oven", "Heat")

    assert heat.reversion == 0.05
    assert heat.decimals == 2
    assert heat.warning_low is None
    assert heat.normal_centre == 15.0

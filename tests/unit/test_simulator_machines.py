"""Simulated machines: reproducible values, realistic wandering, incidents."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from orchestralink.catalog import DEFAULT_CATALOG_PATH, Catalog, load_catalog
from simulator.errors import ConfigurationError
from simulator.incidents import (
    parse_duration,
    parse_schedule,
    target_level,
)
from simulator.machines import Machine, Sample, build_fleet, ou_step

pytestmark = pytest.mark.unit


@pytest.fixture
def catalog() -> Catalog:
    return load_catalog(DEFAULT_CATALOG_PATH)


def run(machine: Machine, ticks: int, dt: float = 1.0) -> list[Sample]:
    return [machine.step(dt) for _ in range(ticks)]


def series(samples: list[Sample], parameter: str) -> list[tuple[float, str]]:
    return [
        (r.value, r.status)
        for s in samples
        for r in s.readings
        if r.parameter == parameter
    ]


def values(fleet: list[Machine], ticks: int) -> list[tuple[str, str, float]]:
    return [
        (s.machine_id, r.parameter, r.value)
        for _ in range(ticks)
        for m in fleet
        for s in [m.step(0.5)]
        for r in s.readings
    ]


def test_a_fleet_mixes_machine_types_with_numbered_ids(catalog: Catalog) -> None:
    fleet = build_fleet(catalog, 5, seed=1)

    assert [(m.machine_id, m.machine_type.name) for m in fleet] == [
        ("drill-001", "Drilling"),
        ("mill-002", "Milling"),
        ("lathe-003", "Lathe"),
        ("drill-004", "Drilling"),
        ("mill-005", "Milling"),
    ]


def test_a_fleet_can_be_limited_to_some_machine_types(catalog: Catalog) -> None:
    fleet = build_fleet(catalog, 3, seed=1, types=["Lathe"])

    assert [m.machine_id for m in fleet] == ["lathe-001", "lathe-002", "lathe-003"]


def test_an_unknown_machine_type_in_the_fleet_is_refused(catalog: Catalog) -> None:
    with pytest.raises(ConfigurationError) as caught:
        build_fleet(catalog, 3, seed=1, types=["Press"])

    assert str(caught.value) == (
        "unknown machine type 'Press'; known machine types: Drilling, Milling, "
        "Lathe; fix the list of machine types"
    )


def test_the_same_seed_gives_the_same_values(catalog: Catalog) -> None:
    first = values(build_fleet(catalog, 3, seed=42, incident_rate=60.0), 200)
    second = values(build_fleet(catalog, 3, seed=42, incident_rate=60.0), 200)

    assert first == second


def test_another_seed_gives_other_values(catalog: Catalog) -> None:
    first = values(build_fleet(catalog, 3, seed=42), 20)
    second = values(build_fleet(catalog, 3, seed=43), 20)

    assert first != second


def test_adding_a_machine_leaves_the_other_machines_values_alone(
    catalog: Catalog,
) -> None:
    small = values(build_fleet(catalog, 2, seed=7), 30)
    large = values(build_fleet(catalog, 3, seed=7), 30)

    assert small == [v for v in large if v[0] != "lathe-003"]


def test_without_incidents_every_reading_stays_normal_for_hours(
    catalog: Catalog,
) -> None:
    fleet = build_fleet(catalog, 3, seed=3)

    statuses = {
        r.status for m in fleet for s in run(m, 3 * 3600, dt=1.0) for r in s.readings
    }

    assert statuses == {"NORMAL"}


def test_values_wander_rather_than_stay_put(catalog: Catalog) -> None:
    (machine,) = build_fleet(catalog, 1, seed=5)
    temperatures = [v for v, _ in series(run(machine, 600), "Temperature")]

    spread = max(temperatures) - min(temperatures)
    assert 30.0 < spread < 250.0
    assert all(600.0 - 10 <= t <= 850.0 + 10 for t in temperatures)


def test_readings_carry_the_catalog_units_and_decimals(catalog: Catalog) -> None:
    (machine,) = build_fleet(catalog, 1, seed=5)
    sample = machine.step(1.0)

    by_name = {r.parameter: r for r in sample.readings}
    assert list(by_name) == list(catalog.machine_type("Drilling").parameters)
    assert by_name["Temperature"].unit == "°C"
    assert by_name["SpindleSpeed"].value == round(by_name["SpindleSpeed"].value)
    assert by_name["Temperature"].value == round(by_name["Temperature"].value, 1)


def test_a_scheduled_critical_incident_overheats_a_drill_then_it_recovers(
    catalog: Catalog,
) -> None:
    schedule = parse_schedule("drill-001:Temperature:critical@30s+20s", 20.0)
    (machine,) = build_fleet(catalog, 1, seed=11, schedule=schedule)

    samples = run(machine, 120)
    statuses = [status for _, status in series(samples, "Temperature")]
    temperatures = [value for value, _ in series(samples, "Temperature")]

    assert set(statuses[:30]) == {"NORMAL"}
    assert "CRITICAL" in statuses[30:50]
    assert max(temperatures) > 1000.0
    assert statuses.index("WARNING") < statuses.index("CRITICAL")
    assert set(statuses[90:]) == {"NORMAL"}
    assert [s.time for s in samples if s.incidents_started] == [30.0]
    assert [s.time for s in samples if s.incidents_ended] == [50.0]


def test_a_warning_incident_warns_without_going_critical(catalog: Catalog) -> None:
    schedule = parse_schedule("mill-002:SpindleSpeed:warning@10s+30s", 20.0)
    fleet = build_fleet(catalog, 2, seed=2, schedule=schedule)

    statuses = [status for _, status in series(run(fleet[1], 40), "SpindleSpeed")]

    assert "WARNING" in statuses
    assert "CRITICAL" not in statuses


def test_a_low_side_incident_drops_oil_pressure_below_its_critical_floor(
    catalog: Catalog,
) -> None:
    schedule = parse_schedule("lathe-003:OilPressure:critical-low@5s+30s", 20.0)
    lathe = build_fleet(catalog, 3, seed=4, schedule=schedule)[2]

    readings = series(run(lathe, 35), "OilPressure")

    assert any(value < 20.0 and status == "CRITICAL" for value, status in readings)
    assert all(value < 60.0 for value, _ in readings)


def test_a_severity_without_side_uses_the_only_side_there_is(
    catalog: Catalog,
) -> None:
    schedule = parse_schedule("drill-001:CoolantPressure:critical@0s+10s", 20.0)
    (drill,) = build_fleet(catalog, 1, seed=4, schedule=schedule)

    assert drill.incidents[0].direction == "low"
    assert min(v for v, _ in series(run(drill, 10), "CoolantPressure")) < 10.0


def test_random_incidents_happen_at_the_configured_rate_and_repeat_with_the_seed(
    catalog: Catalog,
) -> None:
    def incidents(seed: int) -> list[str]:
        fleet = build_fleet(catalog, 3, seed=seed, incident_rate=30.0)
        for machine in fleet:
            run(machine, 3600)
        return [i.describe() for m in fleet for i in m.incidents]

    found = incidents(9)

    # 30 per hour per machine, but never two at once on one machine.
    assert 40 <= len(found) <= 90
    assert found == incidents(9)


def test_random_incidents_produce_warnings_and_critical_readings(
    catalog: Catalog,
) -> None:
    fleet = build_fleet(catalog, 3, seed=9, incident_rate=60.0)

    statuses = {
        r.status for m in fleet for s in run(m, 1800, dt=1.0) for r in s.readings
    }

    assert statuses == {"NORMAL", "WARNING", "CRITICAL"}


def test_an_incident_rate_of_zero_means_no_incidents(catalog: Catalog) -> None:
    (machine,) = build_fleet(catalog, 1, seed=9, incident_rate=0.0)

    run(machine, 3600)

    assert machine.incidents == []


def test_the_walk_settles_at_the_target_at_the_reversion_speed() -> None:
    level = ou_step(
        level=100.0, target=0.0, reversion=0.5, volatility=3.0, dt=2.0, gauss=0.0
    )

    assert level == pytest.approx(100.0 * math.exp(-1.0))


def test_the_walk_without_reversion_is_a_plain_random_walk() -> None:
    level = ou_step(
        level=10.0, target=0.0, reversion=0.0, volatility=2.0, dt=4.0, gauss=1.0
    )

    assert level == pytest.approx(14.0)


def test_incident_targets_lie_past_their_thresholds(catalog: Catalog) -> None:
    temperature = catalog.parameter("Drilling", "Temperature")
    oil = catalog.parameter("Lathe", "OilPressure")

    assert target_level(temperature, "warning", "high") == 950.0
    assert target_level(temperature, "critical", "high") == 1050.0
    assert target_level(oil, "warning", "low") == 22.5
    assert target_level(oil, "critical", "low") == 17.5


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30", 30.0), ("30s", 30.0), ("1.5m", 90.0), ("2h", 7200.0), ("250ms", 0.25)],
)
def test_durations_take_a_unit(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_a_duration_without_a_number_is_refused() -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_duration("soon")

    assert str(caught.value) == (
        "duration 'soon' is not a duration; write a number of seconds, optionally "
        "with a unit: 30, 30s, 1.5m, 2h, 250ms"
    )


def test_a_schedule_lists_several_incidents_with_default_durations() -> None:
    schedule = parse_schedule(
        "drill-001:Temperature:critical@30s+10s; lathe-003:OilPressure:warning-low@1m",
        25.0,
    )

    assert [
        (e.machine_id, e.parameter, e.severity, e.direction, e.start, e.duration)
        for e in schedule
    ] == [
        ("drill-001", "Temperature", "critical", None, 30.0, 10.0),
        ("lathe-003", "OilPressure", "warning", "low", 60.0, 25.0),
    ]


BAD_SCHEDULES = [
    pytest.param(
        "drill-001:Temperature@30s",
        "incident schedule entry 'drill-001:Temperature@30s' is malformed; write "
        "MACHINE:PARAMETER:SEVERITY@START[+DURATION], for example "
        "drill-001:Temperature:critical@30s+20s",
        id="no severity",
    ),
    pytest.param(
        "drill-001:Temperature:fatal@30s",
        "incident schedule entry 'drill-001:Temperature:fatal@30s': severity "
        "'fatal' is unknown; use warning, critical, warning-high, warning-low, "
        "critical-high or critical-low",
        id="unknown severity",
    ),
    pytest.param(
        "drill-001:Temperature:critical@later",
        "start time in 'drill-001:Temperature:critical@later' 'later' is not a "
        "duration",
        id="bad start",
    ),
    pytest.param(
        "drill-001:Temperature:critical@1s+0s",
        "incident schedule entry 'drill-001:Temperature:critical@1s+0s': the "
        "duration must be positive",
        id="zero duration",
    ),
]


@pytest.mark.parametrize(("text", "expected"), BAD_SCHEDULES)
def test_a_malformed_schedule_is_refused_with_the_syntax(
    text: str, expected: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_schedule(text, 20.0)

    assert expected in str(caught.value)


UNBINDABLE = [
    pytest.param(
        "drill-009:Temperature:critical@1s",
        "incident schedule entry 'drill-009:Temperature:critical@1s': no machine "
        "'drill-009' in this fleet; the fleet is drill-001, mill-002, lathe-003 "
        "(raise --machines or fix the id)",
        id="machine not in fleet",
    ),
    pytest.param(
        "mill-002:OilPressure:critical@1s",
        "incident schedule entry 'mill-002:OilPressure:critical@1s': unknown "
        "parameter 'OilPressure' for machine type 'Milling'",
        id="parameter of another type",
    ),
    pytest.param(
        "drill-001:CoolantPressure:critical-high@1s",
        "incident schedule entry 'drill-001:CoolantPressure:critical-high@1s': "
        "Drilling CoolantPressure has no critical_high threshold in the catalog; "
        "pick a severity it has (warning-low, critical-low) or another parameter",
        id="no threshold on that side",
    ),
]


@pytest.mark.parametrize(("text", "expected"), UNBINDABLE)
def test_a_schedule_that_does_not_fit_the_fleet_is_refused(
    catalog: Catalog, text: str, expected: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        build_fleet(catalog, 3, seed=1, schedule=parse_schedule(text, 20.0))

    assert expected in str(caught.value)


def test_a_catalog_with_vibration_makes_drills_report_it(tmp_path: Path) -> None:
    path = tmp_path / "catalog.toml"
    path.write_text(
        DEFAULT_CATALOG_PATH.read_text(encoding="utf-8")
        + "\n[machine_types.Drilling.parameters.VibrationLevel]\n"
        'unit = "Hz"\nnormal_min = 20.0\nnormal_max = 120.0\nwarning_high = 150.0\n'
        "critical_high = 200.0\ndrift = 4.0\nnoise = 1.5\n",
        encoding="utf-8",
    )
    schedule = parse_schedule("drill-001:VibrationLevel:critical@5s+20s", 20.0)
    (drill,) = build_fleet(load_catalog(path), 1, seed=1, schedule=schedule)

    readings = series(run(drill, 20), "VibrationLevel")

    assert len(readings) == 20
    assert {
        r.unit
        for s in [drill.step(1.0)]
        for r in s.readings
        if r.parameter == "VibrationLevel"
    } == {"Hz"}
    assert "CRITICAL" in {status for _, status in readings}

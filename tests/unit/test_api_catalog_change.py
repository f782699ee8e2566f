"""A parameter added to the catalog file (VibrationLevel, Hz) is served by the
API with no code change: listed, readable, charted and counted in the status."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orchestralink.catalog import DEFAULT_CATALOG_PATH, clear_catalog_cache
from tests.unit.test_api_support import Api, Fleet, api, api_db, fleet

__all__ = ["api", "api_db", "fleet"]  # fixtures, imported for pytest

pytestmark = pytest.mark.integration

VIBRATION = """
[machine_types.Drilling.parameters.VibrationLevel]
unit = "Hz"
normal_min = 20.0
normal_max = 120.0
warning_high = 150.0
critical_high = 200.0
drift = 4.0
noise = 1.5
"""


@pytest.fixture
def vibrating_fleet(
    fleet: Fleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Fleet]:
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(DEFAULT_CATALOG_PATH.read_text(encoding="utf-8") + VIBRATION)
    monkeypatch.setenv("ORCHESTRALINK_CATALOG", str(catalog))
    yield Fleet(fleet.conn)  # loads the catalog named by the variable
    clear_catalog_cache()


def test_a_parameter_added_to_the_catalog_flows_through_every_route(
    api: Api, vibrating_fleet: Fleet
) -> None:
    ts = datetime(2026, 12, 3, 18, 0, tzinfo=UTC)
    vibrating_fleet.machine("drill-001")
    vibrating_fleet.latest("drill-001", "Temperature", 700.0)
    vibrating_fleet.latest("drill-001", "VibrationLevel", 180.0)
    vibrating_fleet.readings("drill-001", "VibrationLevel", [(ts, 180.0)])
    window = {"from": "2026-12-03T17:00:00Z", "to": "2026-12-03T19:00:00Z"}

    catalog = api.get("/parameters", machine_type="Drilling").body
    status = api.get("/machines/drill-001/status").body
    readings = api.get(
        "/machines/drill-001/readings", parameter="VibrationLevel", **window
    ).body
    series = api.get(
        "/machines/drill-001/series",
        parameter="VibrationLevel",
        interval="10s",
        **window,
    ).body

    vibration = next(
        p
        for p in catalog["machine_types"][0]["parameters"]
        if p["name"] == "VibrationLevel"
    )
    assert (vibration["unit"], vibration["critical_high"]) == ("Hz", 200.0)
    assert status["status"] == "WARNING"
    assert status["drivers"][0]["parameter"] == "VibrationLevel"
    assert status["drivers"][0]["unit"] == "Hz"
    assert readings["readings"] == [{"ts": "2026-12-03T18:00:00.000Z", "value": 180.0}]
    assert series["points"][0]["count"] == 1

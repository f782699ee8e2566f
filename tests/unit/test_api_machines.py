"""The fleet routes: health, machines, machine status, the catalog."""

from __future__ import annotations

import json
from datetime import timedelta

import boto3
import pytest
from moto import mock_aws

from chalicelib.models import (
    Health,
    MachineDetail,
    MachineList,
    MachineStatus,
    ParameterCatalog,
)
from orchestralink import db
from orchestralink.migrations import available_migrations
from tests.fixtures.postgres import PostgresDatabase
from tests.unit.test_api_support import Api, Fleet, api, api_db, conforms, fleet, now

__all__ = ["api", "api_db", "fleet"]  # fixtures, imported for pytest

pytestmark = pytest.mark.integration

LATEST_SCHEMA = max(m.version for m in available_migrations())


def test_health_reports_a_reachable_database_and_its_schema_version(
    api: Api, api_db: PostgresDatabase
) -> None:
    reply = api.get("/health")

    assert reply.status == 200
    assert reply.body["status"] == "ok"
    assert reply.body["database"] == "reachable"
    assert reply.body["schema_version"] == LATEST_SCHEMA
    conforms(Health, reply.body)


def test_health_answers_503_with_the_error_shape_when_the_database_is_down(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fixtures.ports import free_port

    monkeypatch.delenv("DB_SECRET_ARN", raising=False)
    monkeypatch.setenv(
        "DATABASE_URL", f"postgresql://nobody:pw@127.0.0.1:{free_port()}/none"
    )
    db.reset_connection()

    reply = api.get("/health")

    assert reply.status == 503
    assert reply.body["database"] == "unreachable"
    assert reply.body["error"] == "DatabaseUnavailable"
    assert "retry" in reply.body["message"]
    conforms(Health, reply.body)


def test_data_routes_answer_503_database_unavailable_when_it_is_down(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fixtures.ports import free_port

    monkeypatch.delenv("DB_SECRET_ARN", raising=False)
    monkeypatch.setenv(
        "DATABASE_URL", f"postgresql://nobody:pw@127.0.0.1:{free_port()}/none"
    )
    db.reset_connection()

    status, code, message = api.get("/machines").error()

    assert (status, code) == (503, "DatabaseUnavailable")
    assert "GET /health" in message


def test_health_reads_credentials_from_the_secrets_manager_secret(
    api: Api, api_db: PostgresDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        arn = boto3.client("secretsmanager").create_secret(
            Name="orchestralink/api-test-db",
            SecretString=json.dumps(api_db.secret()),
        )["ARN"]
        monkeypatch.setenv("DB_SECRET_ARN", arn)
        monkeypatch.setenv("DATABASE_URL", "postgresql://wrong:wrong@127.0.0.1:1/x")
        db.reset_connection()

        reply = api.get("/health")

    assert reply.status == 200
    assert reply.body["schema_version"] == LATEST_SCHEMA


def test_a_dropped_connection_answers_503_once_and_the_next_request_reconnects(
    api: Api, fleet: Fleet
) -> None:
    assert api.get("/machines").status == 200
    fleet.conn.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )

    first = api.get("/machines")
    second = api.get("/machines")

    assert (first.status, first.body["error"]) == (503, "DatabaseUnavailable")
    assert second.status == 200


def test_an_empty_fleet_is_an_empty_list(api: Api, api_db: PostgresDatabase) -> None:
    reply = api.get("/machines")

    assert reply.status == 200
    assert reply.body["machines"] == []
    assert reply.body["count"] == 0
    conforms(MachineList, reply.body)


def test_machines_show_type_worst_status_and_latest_value_per_parameter(
    api: Api, fleet: Fleet
) -> None:
    fleet.machine("drill-001", "Drilling")
    fleet.latest("drill-001", "Temperature", 1012.5)
    fleet.latest("drill-001", "Torque", 40.0)
    fleet.machine("mill-001", "Milling")
    fleet.latest("mill-001", "Temperature", 200.0)

    reply = api.get("/machines")

    assert reply.status == 200
    conforms(MachineList, reply.body)
    drill, mill = reply.body["machines"]
    assert drill["machine_id"] == "drill-001"
    assert drill["machine_type"] == "Drilling"
    assert drill["status"] == "CRITICAL"
    assert drill["stale"] is False
    temperature = drill["parameters"][0]
    assert temperature["name"] == "Temperature"
    assert temperature["value"] == 1012.5
    assert temperature["unit"] == "°C"
    assert temperature["status"] == "CRITICAL"
    assert [p["name"] for p in drill["parameters"]] == ["Temperature", "Torque"]
    assert mill["machine_id"] == "mill-001"
    assert reply.body["count"] == 2


def test_a_machine_silent_longer_than_the_stale_limit_is_marked_stale(
    api: Api, fleet: Fleet
) -> None:
    fleet.machine("drill-001", last_seen=now() - timedelta(minutes=10))
    fleet.latest("drill-001", "Temperature", 700.0)

    machine = api.get("/machines").body["machines"][0]

    assert machine["stale"] is True
    assert machine["status"] == "NORMAL"


def test_a_machine_without_readings_has_status_unknown(api: Api, fleet: Fleet) -> None:
    fleet.machine("lathe-001", "Lathe")

    reply = api.get("/machines/lathe-001/status")

    assert reply.status == 200
    assert reply.body["status"] == "UNKNOWN"
    assert reply.body["drivers"] == []


def test_machine_detail_has_drivers_first_seen_and_open_alerts(
    api: Api, fleet: Fleet
) -> None:
    fleet.machine("drill-001", sequence=42)
    fleet.latest("drill-001", "Temperature", 1012.5)
    open_id = fleet.alert("drill-001")
    fleet.alert("drill-001", cleared_at=now())

    reply = api.get("/machines/drill-001")

    assert reply.status == 200
    conforms(MachineDetail, reply.body)
    assert reply.body["last_sequence"] == 42
    assert [a["alert_id"] for a in reply.body["open_alerts"]] == [open_id]
    assert reply.body["drivers"][0]["parameter"] == "Temperature"
    assert reply.body["drivers"][0]["threshold"] == 1000.0


@pytest.mark.parametrize(
    ("temperature", "expected"),
    [(700.0, "NORMAL"), (950.0, "WARNING"), (1000.0, "WARNING"), (1000.1, "CRITICAL")],
)
def test_machine_status_is_critical_above_1000_degrees_and_warning_above_900(
    api: Api, fleet: Fleet, temperature: float, expected: str
) -> None:
    fleet.machine("drill-001")
    fleet.latest("drill-001", "Temperature", temperature)
    fleet.latest("drill-001", "Torque", 40.0)

    by_path = api.get("/machines/drill-001/status")
    by_query = api.get("/machine/status", machine_id="drill-001")

    assert by_path.status == by_query.status == 200
    assert by_path.body["status"] == expected
    conforms(MachineStatus, by_query.body)
    assert by_query.body["status"] == expected
    assert by_query.body["drivers"] == by_path.body["drivers"]


def test_every_parameter_counts_towards_the_status_not_only_temperature(
    api: Api, fleet: Fleet
) -> None:
    fleet.machine("drill-001")
    fleet.latest("drill-001", "Temperature", 700.0)
    fleet.latest("drill-001", "SpindleSpeed", 500.0)  # critical below 600 rpm
    fleet.latest("drill-001", "Torque", 75.0)  # warning above 70

    reply = api.get("/machine/status", machine_id="drill-001")

    assert reply.body["status"] == "CRITICAL"
    assert [(d["parameter"], d["threshold"]) for d in reply.body["drivers"]] == [
        ("SpindleSpeed", 600.0)
    ]


def test_a_parameter_the_catalog_dropped_keeps_its_stored_status(
    api: Api, fleet: Fleet
) -> None:
    fleet.machine("drill-001")
    fleet.latest("drill-001", "Temperature", 700.0)
    fleet.latest("drill-001", "Humming", 3.0, status="WARNING")

    reply = api.get("/machines/drill-001/status")

    assert reply.body["status"] == "WARNING"
    assert reply.body["drivers"][0]["parameter"] == "Humming"
    assert reply.body["drivers"][0]["unit"] is None


def test_parameters_list_every_machine_type_with_units_ranges_and_thresholds(
    api: Api,
) -> None:
    reply = api.get("/parameters")

    assert reply.status == 200
    conforms(ParameterCatalog, reply.body)
    types = {t["name"]: t for t in reply.body["machine_types"]}
    assert {"Drilling", "Milling", "Lathe"} <= set(types)
    temperature = next(
        p for p in types["Drilling"]["parameters"] if p["name"] == "Temperature"
    )
    assert temperature["unit"] == "°C"
    assert temperature["critical_high"] == 1000.0
    assert temperature["normal_min"] < temperature["normal_max"]


def test_parameters_can_be_limited_to_one_machine_type(api: Api) -> None:
    reply = api.get("/parameters", machine_type="Milling")

    assert [t["name"] for t in reply.body["machine_types"]] == ["Milling"]


def test_a_percent_encoded_machine_id_in_the_path_is_decoded(
    api: Api, fleet: Fleet
) -> None:
    fleet.machine("drill-001")

    reply = api.get("/machines/drill%2D001/status")

    assert reply.status == 200
    assert reply.body["machine_id"] == "drill-001"

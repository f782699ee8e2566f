"""RDS PostgreSQL in a running local cloud: real servers behind DB instances.

Instances are created through boto3, the AWS CLI and CloudFormation, and used
with psycopg at the endpoint DescribeDBInstances reports.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from botocore.exceptions import ClientError

from tests.fixtures.localcloud import RunningCloud
from tests.fixtures.ports import free_port

pytestmark = [pytest.mark.localcloud, pytest.mark.slow]

PASSWORD = "first-password-1"


def _identifier() -> str:
    return f"db-{uuid.uuid4().hex[:10]}"


def _create(rds: Any, identifier: str, password: str = PASSWORD, **extra: Any) -> Any:
    return rds.create_db_instance(
        DBInstanceIdentifier=identifier,
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="master",
        MasterUserPassword=password,
        DBName="telemetry",
        **extra,
    )["DBInstance"]


def _wait_for(
    rds: Any, identifier: str, status: str, timeout: float = 30
) -> tuple[Any, list[str]]:
    """The instance once it reached `status`, and every status seen on the way."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        instance = rds.describe_db_instances(DBInstanceIdentifier=identifier)[
            "DBInstances"
        ][0]
        if not seen or seen[-1] != instance["DBInstanceStatus"]:
            seen.append(instance["DBInstanceStatus"])
        if instance["DBInstanceStatus"] == status:
            return instance, seen
        if time.monotonic() > deadline or instance["DBInstanceStatus"] == "failed":
            raise AssertionError(f"{identifier} went through {seen}, not to {status}")
        time.sleep(0.05)


def _connect(endpoint: dict[str, Any], password: str = PASSWORD) -> Any:
    return psycopg.connect(
        host=endpoint["Address"],
        port=endpoint["Port"],
        user="master",
        password=password,
        dbname="telemetry",
        connect_timeout=5,
    )


@pytest.fixture
def rds(local_cloud: RunningCloud) -> Any:
    return local_cloud.client("rds")


@pytest.fixture
def instance(rds: Any) -> Iterator[str]:
    identifier = _identifier()
    _create(rds, identifier)
    yield identifier
    with contextlib.suppress(ClientError):
        rds.delete_db_instance(DBInstanceIdentifier=identifier, SkipFinalSnapshot=True)


def test_a_new_instance_reports_creating_then_available_at_its_endpoint(
    rds: Any, local_cloud: RunningCloud
) -> None:
    identifier = _identifier()
    asked = time.monotonic()

    created = _create(rds, identifier)
    available, statuses = _wait_for(rds, identifier, "available")
    took = time.monotonic() - asked
    with _connect(available["Endpoint"]) as connection:
        database = connection.execute("SELECT current_database()").fetchone()

    assert created["DBInstanceStatus"] == "creating"
    assert statuses[0] == "creating"
    assert statuses[-1] == "available"
    assert available["Endpoint"]["Address"] == "127.0.0.1"
    assert database == ("telemetry",)
    assert took < 15  # the benchmark measures it; this only catches a hang
    assert (local_cloud.state_dir / "rds" / identifier / "pgdata").is_dir()
    rds.delete_db_instance(DBInstanceIdentifier=identifier, SkipFinalSnapshot=True)


def test_the_cli_describes_the_real_endpoint(
    rds: Any, instance: str, local_cloud: RunningCloud
) -> None:
    _wait_for(rds, instance, "available")

    described = json.loads(
        local_cloud.aws(
            "rds", "describe-db-instances", "--db-instance-identifier", instance
        ).stdout
    )["DBInstances"][0]

    with _connect(described["Endpoint"]) as connection:
        assert connection.execute("SELECT 1").fetchone() == (1,)


def test_data_survives_a_reboot_and_a_stop_and_start(rds: Any, instance: str) -> None:
    available, _ = _wait_for(rds, instance, "available")
    with _connect(available["Endpoint"]) as connection:
        connection.execute("CREATE TABLE readings (value int)")
        connection.execute("INSERT INTO readings VALUES (42)")

    rebooting = rds.reboot_db_instance(DBInstanceIdentifier=instance)["DBInstance"]
    _, after_reboot = _wait_for(rds, instance, "available")
    stopping = rds.stop_db_instance(DBInstanceIdentifier=instance)["DBInstance"]
    _wait_for(rds, instance, "stopped")
    with pytest.raises(psycopg.OperationalError):
        _connect(available["Endpoint"])
    starting = rds.start_db_instance(DBInstanceIdentifier=instance)["DBInstance"]
    again, _ = _wait_for(rds, instance, "available")
    with _connect(again["Endpoint"]) as connection:
        rows = connection.execute("SELECT value FROM readings").fetchall()

    assert rebooting["DBInstanceStatus"] == "rebooting"
    assert after_reboot[-1] == "available"
    assert stopping["DBInstanceStatus"] == "stopping"
    assert starting["DBInstanceStatus"] == "starting"
    assert again["Endpoint"] == available["Endpoint"]
    assert rows == [(42,)]


def test_a_stopped_instance_cannot_be_rebooted(rds: Any, instance: str) -> None:
    _wait_for(rds, instance, "available")
    rds.stop_db_instance(DBInstanceIdentifier=instance)
    _wait_for(rds, instance, "stopped")

    with pytest.raises(ClientError) as caught:
        rds.reboot_db_instance(DBInstanceIdentifier=instance)

    assert caught.value.response["Error"]["Code"] == "InvalidDBInstanceState"
    assert "is not in available state" in caught.value.response["Error"]["Message"]


def test_a_new_master_password_takes_effect(rds: Any, instance: str) -> None:
    available, _ = _wait_for(rds, instance, "available")

    rds.modify_db_instance(
        DBInstanceIdentifier=instance,
        MasterUserPassword="second-password-2",
        ApplyImmediately=True,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with _connect(available["Endpoint"], "second-password-2") as connection:
                connection.execute("SELECT 1")
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)

    with pytest.raises(psycopg.OperationalError):
        _connect(available["Endpoint"], PASSWORD)


def test_deleting_an_instance_stops_its_server_and_removes_its_data(
    rds: Any, local_cloud: RunningCloud
) -> None:
    identifier = _identifier()
    _create(rds, identifier)
    available, _ = _wait_for(rds, identifier, "available")

    deleted = rds.delete_db_instance(
        DBInstanceIdentifier=identifier, SkipFinalSnapshot=True
    )["DBInstance"]
    folder = local_cloud.state_dir / "rds" / identifier
    deadline = time.monotonic() + 15
    while folder.exists() and time.monotonic() < deadline:
        time.sleep(0.1)

    assert deleted["DBInstanceStatus"] == "deleting"
    assert not folder.exists()
    with pytest.raises(psycopg.OperationalError):
        _connect(available["Endpoint"])
    with pytest.raises(ClientError) as caught:
        rds.describe_db_instances(DBInstanceIdentifier=identifier)
    assert caught.value.response["Error"]["Code"] == "DBInstanceNotFound"


def test_a_postgres_instance_without_a_password_is_refused(rds: Any) -> None:
    with pytest.raises(ClientError) as caught:
        rds.create_db_instance(
            DBInstanceIdentifier=_identifier(),
            Engine="postgres",
            DBInstanceClass="db.t3.micro",
            MasterUsername="master",
        )

    assert caught.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert (
        "MasterUserPassword must be provided"
        in caught.value.response["Error"]["Message"]
    )


def test_another_engine_is_recorded_with_a_warning_and_no_server(
    rds: Any, local_cloud: RunningCloud
) -> None:
    identifier = _identifier()

    created = rds.create_db_instance(
        DBInstanceIdentifier=identifier,
        Engine="mysql",
        DBInstanceClass="db.t3.micro",
        MasterUsername="admin",
        MasterUserPassword=PASSWORD,
    )["DBInstance"]

    assert created["DBInstanceStatus"] == "available"
    assert not (local_cloud.state_dir / "rds" / identifier).exists()
    assert f"{identifier}: engine mysql is recorded by moto only" in (
        local_cloud.log_text()
    )
    rds.delete_db_instance(DBInstanceIdentifier=identifier, SkipFinalSnapshot=True)


def test_a_cloudformation_stack_creates_an_instance_ready_to_use(
    local_cloud: RunningCloud,
) -> None:
    cloudformation = local_cloud.client("cloudformation")
    identifier = _identifier()
    template = {
        "Resources": {
            "Database": {
                "Type": "AWS::RDS::DBInstance",
                "Properties": {
                    "DBInstanceIdentifier": identifier,
                    "Engine": "postgres",
                    "DBInstanceClass": "db.t3.micro",
                    "AllocatedStorage": "20",
                    "MasterUsername": "master",
                    "MasterUserPassword": PASSWORD,
                    "DBName": "telemetry",
                },
            }
        },
        "Outputs": {
            "Address": {"Value": {"Fn::GetAtt": ["Database", "Endpoint.Address"]}},
            "Port": {"Value": {"Fn::GetAtt": ["Database", "Endpoint.Port"]}},
        },
    }
    stack = f"rds-{identifier}"

    cloudformation.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    deadline = time.monotonic() + 60
    while True:
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
        if not described["StackStatus"].endswith("IN_PROGRESS"):
            break
        assert time.monotonic() < deadline
        time.sleep(0.2)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
    endpoint = {"Address": outputs["Address"], "Port": int(outputs["Port"])}
    with _connect(endpoint) as connection:
        answer = connection.execute("SELECT 1").fetchone()
    cloudformation.delete_stack(StackName=stack)

    assert described["StackStatus"] == "CREATE_COMPLETE"
    assert endpoint["Address"] == "127.0.0.1"
    assert answer == (1,)


def _instance_left_by_a_stopped_cloud(
    state_dir: Path, identifier: str, *statements: str
) -> Any:
    """Create an instance in a local cloud, run `statements` in it, stop the
    cloud; returns the instance as DescribeDBInstances reported it."""
    cloud = RunningCloud(state_dir)
    cloud.start()
    try:
        rds = cloud.client("rds")
        _create(rds, identifier)
        described, _ = _wait_for(rds, identifier, "available")
        if statements:
            with _connect(described["Endpoint"]) as connection:
                for statement in statements:
                    connection.execute(statement)
    finally:
        cloud.stop()
    return described


def test_data_survives_a_restart_of_the_local_cloud(tmp_path: Path) -> None:
    identifier = _identifier()
    before = _instance_left_by_a_stopped_cloud(
        tmp_path / "state",
        identifier,
        "CREATE TABLE readings (value int)",
        "INSERT INTO readings VALUES (7)",
    )
    with pytest.raises(psycopg.OperationalError):
        _connect(before["Endpoint"])

    second = RunningCloud(tmp_path / "state")
    second.start()
    try:
        rds = second.client("rds")
        forgotten = rds.describe_db_instances()["DBInstances"]
        _create(rds, identifier, password="after-restart-3")
        after, _ = _wait_for(rds, identifier, "available")
        with _connect(after["Endpoint"], "after-restart-3") as connection:
            rows = connection.execute("SELECT value FROM readings").fetchall()
        with pytest.raises(psycopg.OperationalError):
            _connect(after["Endpoint"], PASSWORD)
    finally:
        second.stop()

    assert forgotten == []
    assert rows == [(7,)]
    # The port it had, unless another process took it meanwhile (ports picked
    # by the system come from the range outgoing connections use): then it
    # says so.
    if after["Endpoint"]["Port"] != before["Endpoint"]["Port"]:
        assert (
            f"listened on port {before['Endpoint']['Port']} before, which another "
            "process holds now"
        ) in second.log_path.read_text()


def test_a_port_taken_while_the_cloud_was_down_is_replaced_and_logged(
    tmp_path: Path,
) -> None:
    identifier = _identifier()
    before = _instance_left_by_a_stopped_cloud(tmp_path / "state", identifier)
    old_port = before["Endpoint"]["Port"]

    second = RunningCloud(tmp_path / "state")
    with socket.socket() as squatter:
        # Past connections may leave the port in TIME_WAIT; a listener takes it.
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", old_port))
        squatter.listen()
        second.start()
        try:
            rds = second.client("rds")
            _create(rds, identifier)
            after, _ = _wait_for(rds, identifier, "available")
            with _connect(after["Endpoint"]) as connection:
                answer = connection.execute("SELECT 1").fetchone()
        finally:
            second.stop()

    assert answer == (1,)
    assert after["Endpoint"]["Port"] != old_port
    assert (
        f"DB instance {identifier} listened on port {old_port} before, which "
        f"another process holds now; it listens on {after['Endpoint']['Port']}"
    ) in second.log_path.read_text()


def test_a_managed_master_password_is_in_the_instance_secret(
    rds: Any, local_cloud: RunningCloud
) -> None:
    identifier = _identifier()
    created = rds.create_db_instance(
        DBInstanceIdentifier=identifier,
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        MasterUsername="master",
        ManageMasterUserPassword=True,
        DBName="telemetry",
    )["DBInstance"]
    available, _ = _wait_for(rds, identifier, "available")
    secret = json.loads(
        local_cloud.client("secretsmanager").get_secret_value(
            SecretId=created["MasterUserSecret"]["SecretArn"]
        )["SecretString"]
    )

    with _connect(available["Endpoint"], secret["password"]) as connection:
        assert connection.execute("SELECT current_user").fetchone() == ("master",)
    assert secret["username"] == "master"
    assert secret["password"] != "P@55w0rd!"  # moto's fixed placeholder
    rds.delete_db_instance(DBInstanceIdentifier=identifier, SkipFinalSnapshot=True)


def test_a_requested_free_port_is_used(rds: Any) -> None:
    identifier = _identifier()
    wanted = free_port()

    _create(rds, identifier, Port=wanted)
    available, _ = _wait_for(rds, identifier, "available")

    assert available["Endpoint"]["Port"] == wanted
    rds.delete_db_instance(DBInstanceIdentifier=identifier, SkipFinalSnapshot=True)


def test_a_requested_port_in_use_is_replaced_with_a_warning(
    rds: Any, local_cloud: RunningCloud
) -> None:
    identifier = _identifier()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]

        _create(rds, identifier, Port=taken)
        available, _ = _wait_for(rds, identifier, "available")
        with _connect(available["Endpoint"]) as connection:
            connection.execute("SELECT 1")

    assert available["Endpoint"]["Port"] != taken
    assert f"asked for port {taken}, which is in use here" in local_cloud.log_text()
    rds.delete_db_instance(DBInstanceIdentifier=identifier, SkipFinalSnapshot=True)

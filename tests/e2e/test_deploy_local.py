"""`make deploy-local` end to end: the real deploy into a temporary state
folder, a reading published with mosquitto_pub seen through the API, and the
data still there after the stack is stopped and started again."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from typing import Any

import pytest

from tests.fixtures.stack import DeployedStack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

MACHINE = "drill-e2e-1"


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())


def publish_reading(stack: DeployedStack, machine: str, value: float) -> None:
    timestamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".000Z"
    body = {
        "machine_id": machine,
        "machine_type": "Drilling",
        "parameter": "Temperature",
        "value": value,
        "unit": "°C",
        "timestamp": timestamp,
        "sequence": 1,
    }
    credentials = ["-u", "simulator", "-P", stack.credentials["simulator"]]
    broker = ["-h", "127.0.0.1", "-p", str(stack.mqtt_port), *credentials]
    topic = f"machine/{machine}/Temperature"
    subprocess.run(
        ["mosquitto_pub", *broker, "-q", "1", "-t", topic, "-m", json.dumps(body)],
        check=True,
        timeout=10,
    )


def wait_for_status(stack: DeployedStack, machine: str, timeout: float = 30) -> Any:
    url = f"{stack.api_url.rstrip('/')}/machines/{machine}/status"
    deadline = time.monotonic() + timeout
    while True:
        try:
            return get_json(url)
        except urllib.error.HTTPError as error:
            if error.code != 404 or time.monotonic() > deadline:
                raise
        time.sleep(0.5)


def test_the_deploy_prints_where_everything_is(deployed_stack: DeployedStack) -> None:
    output = deployed_stack.deploy_output

    for label in ("Dashboard", "API", "OpenAPI", "MQTT (TCP)", "MQTT (WebSockets)"):
        assert label in output
    assert deployed_stack.api_url in output
    assert "make status" in output


def test_a_hot_reading_published_with_mosquitto_pub_is_critical_in_the_api(
    deployed_stack: DeployedStack,
) -> None:
    publish_reading(deployed_stack, MACHINE, 1234.5)

    status = wait_for_status(deployed_stack, MACHINE)

    assert status["status"] == "CRITICAL"


def test_the_simulated_fleet_is_queryable(deployed_stack: DeployedStack) -> None:
    body = get_json(f"{deployed_stack.api_url.rstrip('/')}/machines")

    machines = body["machines"] if isinstance(body, dict) else body
    assert len(machines) >= 3


def test_data_survives_down_and_a_new_deploy(deployed_stack: DeployedStack) -> None:
    publish_reading(deployed_stack, "drill-e2e-2", 1100.0)
    wait_for_status(deployed_stack, "drill-e2e-2")

    deployed_stack.deploy("down")
    deployed_stack.deploy("up")

    status = wait_for_status(deployed_stack, "drill-e2e-2", timeout=5)
    assert status["status"] == "CRITICAL"


def test_status_reports_every_component_and_the_reading_count(
    deployed_stack: DeployedStack,
) -> None:
    output = deployed_stack.deploy("status")

    for component in ("mosquitto", "localcloud", "simulator", "readings stored"):
        assert component in output
    assert "running" in output

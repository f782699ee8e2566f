"""`make deploy-local` end to end: the real deploy into a temporary state
folder, a reading published with mosquitto_pub seen through the API, and the
data still there after the stack is stopped and started again."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.stack import REPO_DIR, DeployedStack

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
    # Other tests may deploy again (a new API id): compare with the first deploy's.
    assert deployed_stack.first_endpoints["api_url_path_style"] in output
    assert deployed_stack.first_endpoints["dashboard_url"] in output
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


def test_watch_puts_a_changed_function_live(
    deployed_stack: DeployedStack, tmp_path: Path
) -> None:
    # A copy of the template and functions, so the test edits no repository file.
    shutil.copy(REPO_DIR / "template.yaml", tmp_path / "template.yaml")
    shutil.copytree(
        REPO_DIR / "functions",
        tmp_path / "functions",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    env = {
        **deployed_stack.env,
        "ORCHESTRALINK_TEMPLATE": str(tmp_path / "template.yaml"),
    }
    watcher = subprocess.Popen(
        [sys.executable, "-m", "deploy", "watch"],
        cwd=REPO_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert watcher.stdout is not None
        assert "watching" in watcher.stdout.readline()
        handler = tmp_path / "functions" / "migrate" / "migrate" / "handler.py"
        marker = f"watch-{time.time_ns()}"
        wrapper = (
            "\n\n_original_handler = lambda_handler\n\n\n"
            "def lambda_handler(event, context):\n"
            "    return {**_original_handler(event, context), 'marker': MARKER}\n"
        )
        handler.write_text(
            handler.read_text() + wrapper.replace("MARKER", repr(marker))
        )
        changed = time.monotonic()

        lambda_client = deployed_stack.client("lambda")
        name = deployed_stack.output("MigrateFunctionName")
        deadline = changed + 20
        live_after = None
        while time.monotonic() < deadline:
            result = lambda_client.invoke(FunctionName=name)
            if marker in result["Payload"].read().decode():
                live_after = time.monotonic() - changed
                break
            time.sleep(0.1)
    finally:
        watcher.terminate()
        output = watcher.communicate(timeout=10)[0]
    print(f"changed function live after {live_after} s")
    assert live_after is not None, output
    assert "updated in" in output

"""The simulator command against a real Mosquitto: delivery, signals, outages."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from orchestralink.catalog import DEFAULT_CATALOG_PATH, load_catalog
from tests.fixtures.mosquitto import MosquittoBroker, StartMosquitto
from tests.fixtures.ports import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
READING_KEYS = {
    "machine_id",
    "machine_type",
    "parameter",
    "value",
    "unit",
    "timestamp",
    "sequence",
}


class Subscriber:
    """A QoS 1 paho subscriber that keeps every message it receives."""

    def __init__(self, host: str, port: int, topic: str = "machine/#") -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self._changed = threading.Condition()
        self._subscribed = threading.Event()
        self._topic = topic
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"test-sub-{secrets.token_hex(4)}"
        )
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._client.connect(host, port)
        self._client.loop_start()
        if not self._subscribed.wait(10):
            raise TimeoutError(f"no SUBACK from {host}:{port}")

    def _on_connect(self, client: mqtt.Client, *args: Any) -> None:
        client.subscribe(self._topic, qos=1)

    def _on_subscribe(self, *args: Any) -> None:
        self._subscribed.set()

    def _on_message(
        self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage
    ) -> None:
        with self._changed:
            self.messages.append((message.topic, json.loads(message.payload)))
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 30.0) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: len(self.messages) >= count, timeout)

    def settle(self, quiet: float = 0.5) -> int:
        """Wait until no message arrived for `quiet` seconds; return the count."""
        while True:
            before = len(self.messages)
            time.sleep(quiet)
            if len(self.messages) == before:
                return before

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        # Break the client <-> callbacks cycle so paho's sockets are closed when the
        # client is freed, not finalised in arbitrary order by the cycle collector.
        self._client.on_connect = None
        self._client.on_subscribe = None
        self._client.on_message = None


@pytest.fixture
def subscriber(mosquitto_broker: MosquittoBroker) -> Iterator[Subscriber]:
    sub = Subscriber(mosquitto_broker.host, mosquitto_broker.port)
    yield sub
    sub.close()


def simulator_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIM_", "MQTT_"))}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), str(ROOT / "functions" / "shared" / "python")]
    )
    env.pop("ORCHESTRALINK_CATALOG", None)
    return env


def simulator(port: int, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "simulator",
        "--port",
        str(port),
        "--progress-interval",
        "0",
        *args,
    ]


def run_simulator(port: int, *args: str, timeout: float = 60) -> tuple[int, str, str]:
    done = subprocess.run(
        simulator(port, *args),
        cwd=ROOT,
        env=simulator_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def start_simulator(port: int, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        simulator(port, *args),
        cwd=ROOT,
        env=simulator_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def terminate(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    process.send_signal(signal.SIGTERM)
    try:
        stdout, stderr = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        pytest.fail(f"the simulator ignored SIGTERM; its log:\n{stderr}")
    return process.returncode, stdout, stderr


def test_load_mode_delivers_exactly_what_its_summary_reports(
    mosquitto_broker: MosquittoBroker, subscriber: Subscriber, tmp_path: Path
) -> None:
    summary_path = tmp_path / "sent.json"

    status, _, stderr = run_simulator(
        mosquitto_broker.port,
        *("--load", "5000", "--machines", "4", "--seed", "3"),
        *("--summary-file", str(summary_path)),
    )

    assert status == 0, stderr
    summary = json.loads(summary_path.read_text())
    assert subscriber.wait_for(5000)
    assert subscriber.settle() == 5000
    assert summary["messages_sent"] == 5000
    assert summary["messages_acknowledged"] == 5000
    assert summary["messages_unacknowledged"] == 0
    assert summary["stopped_by"] == "count"
    assert summary["machine_ids"] == ["drill-001", "mill-002", "lathe-003", "drill-004"]

    sequences: dict[str, list[int]] = defaultdict(list)
    for topic, body in subscriber.messages:
        assert set(body) == READING_KEYS
        assert topic == f"machine/{body['machine_id']}/{body['parameter']}"
        sequences[body["machine_id"]].append(body["sequence"])
    for machine_id, sent in summary["machines"].items():
        assert sorted(sequences[machine_id]) == list(
            range(sent["first_sequence"], sent["last_sequence"] + 1)
        )
    stamps = sorted(body["timestamp"] for _, body in subscriber.messages)
    assert (stamps[0], stamps[-1]) == (
        summary["first_timestamp"],
        summary["last_timestamp"],
    )


def test_batch_mode_sends_one_message_per_machine_and_tick(
    mosquitto_broker: MosquittoBroker, subscriber: Subscriber
) -> None:
    status, stdout, stderr = run_simulator(
        mosquitto_broker.port, "--batch", "--load", "12", "--machines", "3"
    )

    assert status == 0, stderr
    assert json.loads(stdout)["readings_sent"] == 60
    assert subscriber.wait_for(12)
    assert subscriber.settle() == 12
    catalog = load_catalog(DEFAULT_CATALOG_PATH)
    for topic, body in subscriber.messages:
        assert topic == f"machine/{body['machine_id']}/telemetry"
        assert set(body) == {
            "machine_id",
            "machine_type",
            "timestamp",
            "sequence",
            "readings",
        }
        expected = list(catalog.machine_type(body["machine_type"]).parameters)
        assert [r["parameter"] for r in body["readings"]] == expected
    assert sorted(b["sequence"] for _, b in subscriber.messages) == sorted(
        [1, 2, 3, 4] * 3
    )


def test_a_scheduled_overheat_reaches_the_broker_and_then_recovers(
    mosquitto_broker: MosquittoBroker, subscriber: Subscriber
) -> None:
    status, _, stderr = run_simulator(
        mosquitto_broker.port,
        *("--load", "400", "--machines", "1", "--incident-rate", "0"),
        *("--incident-schedule", "drill-001:Temperature:critical@10s+20s"),
    )

    assert status == 0, stderr
    assert subscriber.wait_for(400)
    temperatures = [
        body["value"]
        for topic, body in sorted(subscriber.messages, key=lambda m: m[1]["sequence"])
        if topic == "machine/drill-001/Temperature"
    ]
    assert len(temperatures) == 80
    assert max(temperatures[:10]) < 900.0
    assert max(temperatures[10:30]) > 1000.0
    assert max(temperatures[60:]) < 900.0


def test_sigterm_stops_publishing_waits_for_acks_and_prints_the_summary(
    mosquitto_broker: MosquittoBroker, subscriber: Subscriber, tmp_path: Path
) -> None:
    heartbeat = tmp_path / "alive"
    process = start_simulator(
        mosquitto_broker.port,
        *("--rate", "20", "--machines", "2", "--seed", "1"),
        *("--heartbeat-file", str(heartbeat)),
    )
    try:
        assert subscriber.wait_for(50, timeout=20)
        assert time.time() - heartbeat.stat().st_mtime < 5
    finally:
        status, stdout, stderr = terminate(process)

    assert status == 0, stderr
    summary = json.loads(stdout)
    assert summary["stopped_by"] == "signal"
    assert summary["messages_unacknowledged"] == 0
    assert summary["messages_acknowledged"] == summary["messages_sent"]
    assert subscriber.settle() == summary["messages_sent"]
    assert "stopping on SIGTERM" in stderr
    assert "disconnected from" in stderr


@pytest.mark.slow
def test_the_simulator_reconnects_with_backoff_after_the_broker_restarts(
    start_mosquitto: StartMosquitto,
) -> None:
    broker = start_mosquitto()
    before = Subscriber(broker.host, broker.port)
    process = start_simulator(
        broker.port,
        *("--rate", "10", "--machines", "1", "--incident-rate", "0"),
        *("--reconnect-min", "0.2", "--reconnect-max", "1"),
    )
    try:
        assert before.wait_for(20, timeout=20)
        before.close()

        broker.stop()
        time.sleep(1.5)
        broker.start()

        after = Subscriber(broker.host, broker.port)
        try:
            assert after.wait_for(20, timeout=20)
        finally:
            after.close()
    finally:
        status, stdout, stderr = terminate(process)

    assert status == 0, stderr
    assert "lost the connection to" in stderr
    assert f"connection attempt 1 to 127.0.0.1:{broker.port} failed" in stderr
    assert "next attempt in 0.4 s" in stderr
    assert f"reconnected to 127.0.0.1:{broker.port}" in stderr
    summary = json.loads(stdout)
    assert summary["disconnections"] >= 1
    assert summary["connections"] >= 2
    assert summary["messages_unacknowledged"] == 0


def test_an_unreachable_broker_ends_the_run_with_status_1_and_says_why() -> None:
    port = free_port()

    status, stdout, stderr = run_simulator(
        port, "--connect-timeout", "1", "--reconnect-min", "0.2"
    )

    assert status == 1
    assert f"connection attempt 1 to 127.0.0.1:{port} failed" in stderr
    assert f"could not connect to 127.0.0.1:{port} within 1 s" in stderr
    summary = json.loads(stdout)
    assert summary["stopped_by"] == "not-connected"
    assert summary["messages_sent"] == 0

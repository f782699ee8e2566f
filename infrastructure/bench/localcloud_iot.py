"""Benchmark: IoT rules engine throughput, Mosquitto QoS 1 -> rule -> SQS action.

Starts its own Mosquitto on a free port and an in-process local cloud (IoT and
SQS features), creates a queue and a topic rule with the project's telemetry
SQL, then publishes N telemetry messages at QoS 1 with paho from a separate
process and counts the messages that arrived in the queue.

Scenarios:
  live     publisher and rules engine run at the same time (end to end)
  backlog  the engine is stopped while the messages are published, then
           started: it drains its persistent session (the engine alone)

Usage: python infrastructure/bench/localcloud_iot.py [--messages 50000]
Target (issue 4): at least 7,000 messages/s into the SQS action.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "infrastructure" / "localcloud")]

RULE_SQL = (
    "SELECT *, topic(2) AS machine_id, topic(3) AS parameter, "
    "timestamp() AS received_at FROM 'machine/+/+'"
)
PUBLISHER = r"""
import json, sys, time
import paho.mqtt.client as mqtt
port, count = int(sys.argv[1]), int(sys.argv[2])
client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-publisher")
client.max_inflight_messages_set(100)
client.connect("127.0.0.1", port)
client.loop_start()
started = time.perf_counter()
last = None
for sequence in range(count):
    machine = f"drill-{sequence % 50:03d}"
    body = json.dumps({"machine_id": machine, "machine_type": "Drilling",
        "parameter": "Temperature", "value": 812.4, "unit": "\u00b0C",
        "timestamp": "2026-12-03T19:58:01.123Z", "sequence": sequence})
    last = client.publish(f"machine/{machine}/Temperature", body, qos=1)
last.wait_for_publish()
print(json.dumps({"seconds": time.perf_counter() - started}))
client.disconnect()
client.loop_stop()
"""


def publish(port: int, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", PUBLISHER, str(port), str(count)],
        stdout=subprocess.PIPE,
        text=True,
    )


def queue_depth(url: str) -> int:
    """Read in-process from the SQS backend: polling over HTTP from this
    process would take the engine's CPU (one GIL) and skew the figure."""
    from moto.sqs.models import sqs_backends

    account_id, name = url.rsplit("/", 2)[-2:]
    queue = sqs_backends[account_id]["us-east-1"].get_queue(name)
    return int(queue.approximate_number_of_messages)


def wait_for_depth(url: str, expected: int, timeout: float) -> float:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if queue_depth(url) >= expected:
            return time.perf_counter()
        time.sleep(0.01)
    raise SystemExit(
        f"only {queue_depth(url)} of {expected} messages reached the queue "
        f"in {timeout:.0f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--timeout", type=float, default=120.0)
    arguments = parser.parse_args()

    import boto3

    from localcloud.cloud import LocalCloud
    from localcloud.config import CloudConfig
    from tests.fixtures.mosquitto import MosquittoBroker
    from tests.fixtures.ports import free_port

    workdir = Path(tempfile.mkdtemp(prefix="bench-iot-"))
    (workdir / "mosquitto").mkdir()
    broker = MosquittoBroker(workdir / "mosquitto", free_port())
    broker.start()
    config = CloudConfig.from_env(
        port=0, mqtt_port=broker.port, state_dir=workdir / "cloud", log_level="WARNING"
    )
    cloud = LocalCloud(config, features=("localcloud.sqs", "localcloud.iot"))
    cloud.start()
    engine = next(service for service in cloud.services if service.name == "iot")
    clients = {
        "endpoint_url": cloud.endpoint_url,
        "region_name": "us-east-1",
        "aws_access_key_id": "bench",
        "aws_secret_access_key": "bench",
    }
    sqs, iot = boto3.client("sqs", **clients), boto3.client("iot", **clients)
    rows: list[tuple[str, int, float, float, float]] = []
    try:
        for scenario in ("live", "backlog"):
            url = sqs.create_queue(QueueName=f"bench-{scenario}")["QueueUrl"]
            iot.create_topic_rule(
                ruleName=f"bench_{scenario}",
                topicRulePayload={
                    "sql": RULE_SQL,
                    "actions": [
                        {
                            "sqs": {
                                "queueUrl": url,
                                "roleArn": "arn:aws:iam::123456789012:role/bench",
                            }
                        }
                    ],
                },
            )
            time.sleep(0.5)  # the subscription is made by the listener
            count = arguments.messages
            if scenario == "backlog":
                engine.stop()
            started = time.perf_counter()
            publisher = publish(broker.port, count)
            output, _ = publisher.communicate(timeout=arguments.timeout)
            publish_seconds = json.loads(output)["seconds"]
            if scenario == "backlog":
                started = time.perf_counter()
                engine.start()
            finished = wait_for_depth(url, count, arguments.timeout)
            rows.append(
                (
                    scenario,
                    count,
                    count / publish_seconds,
                    finished - started,
                    count / (finished - started),
                )
            )
            iot.delete_topic_rule(ruleName=f"bench_{scenario}")
    finally:
        cloud.stop()
        broker.stop()
    print(f"rule SQL: {RULE_SQL}")
    print(
        f"{'scenario':<10}{'messages':>10}{'publish msg/s':>16}"
        f"{'seconds':>10}{'into SQS msg/s':>17}"
    )
    for scenario, count, publish_rate, seconds, rate in rows:
        print(
            f"{scenario:<10}{count:>10}{publish_rate:>16,.0f}"
            f"{seconds:>10.2f}{rate:>17,.0f}"
        )


if __name__ == "__main__":
    main()

"""The IoT rules engine in-process: moto holds the rules, Mosquitto is real.

These pin down the engine's MQTT behaviour (persistent session across a
restart, shared subscriptions, rules applied without a restart) with paho
publishing to a real broker; the Lambda service is replaced by a recording
invoker, the one stand-in here.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import paho.mqtt.client as mqtt
import pytest
from moto import mock_aws
from paho.mqtt.enums import CallbackAPIVersion

from localcloud.invoker import InvocationResult
from localcloud.iot import IotSettings, RulesEngine
from tests.fixtures.mosquitto import MosquittoBroker

pytestmark = pytest.mark.integration

REGION = "us-east-1"


@dataclass
class RecordingInvoker:
    calls: list[tuple[str, bytes, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def invoke(
        self,
        function: str,
        payload: bytes,
        *,
        qualifier: str | None = None,
        invocation_type: str = "RequestResponse",
        timeout_override: float | None = None,
    ) -> InvocationResult:
        with self._lock:
            self.calls.append((function, payload, invocation_type))
        return InvocationResult(202, b"")


@dataclass
class Aws:
    sqs: Any
    iot: Any

    def queue(self) -> str:
        return str(
            self.sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        )

    def rule(self, sql: str, actions: list[dict[str, Any]], **payload: Any) -> str:
        name = f"rule_{uuid.uuid4().hex[:8]}"
        self.iot.create_topic_rule(
            ruleName=name,
            topicRulePayload={"sql": sql, "actions": actions, **payload},
        )
        return name

    def bodies(self, url: str, expected: int, timeout: float = 20.0) -> list[str]:
        """Receives until `expected` messages arrived (or fails), then 0.3 s more."""
        received: list[str] = []
        deadline = time.monotonic() + timeout
        quiet_until = None
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300
            ).get("Messages", [])
            received += [item["Body"] for item in batch]
            now = time.monotonic()
            if len(received) >= expected and quiet_until is None:
                quiet_until = now + 0.3
            if quiet_until is not None and now > quiet_until:
                return received
            if now > deadline:
                pytest.fail(f"{len(received)} of {expected} messages arrived")
            if not batch:
                time.sleep(0.05)


def sqs_action(url: str) -> dict[str, Any]:
    return {"sqs": {"queueUrl": url, "roleArn": "arn:aws:iam::123456789012:role/r"}}


@pytest.fixture
def aws() -> Iterator[Aws]:
    with mock_aws():
        yield Aws(
            boto3.client("sqs", region_name=REGION),
            boto3.client("iot", region_name=REGION),
        )


@pytest.fixture
def make_engine(
    mosquitto_broker: MosquittoBroker, tmp_path: Path
) -> Iterator[Callable[..., RulesEngine]]:
    engines: list[RulesEngine] = []
    prefix = uuid.uuid4().hex[:8]

    def make(
        name: str = "a", invoker: RecordingInvoker | None = None, **settings: Any
    ) -> RulesEngine:
        engine = RulesEngine(
            IotSettings(
                client_id=f"test-{prefix}-{name}",
                mqtt_port=mosquitto_broker.port,
                reconcile_interval=0.2,
                state_dir=tmp_path / name,
                **settings,
            ),
            invoker=invoker,
        )
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.stop()


def publish(broker: MosquittoBroker, messages: list[tuple[str, Any]]) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.max_inflight_messages_set(100)
    client.connect(broker.host, broker.port)
    client.loop_start()
    infos = [client.publish(topic, json.dumps(body), qos=1) for topic, body in messages]
    for info in infos:
        info.wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


def started(engine: RulesEngine) -> RulesEngine:
    engine.start()
    assert engine.wait_connected(10)
    time.sleep(0.2)  # the SUBACK
    return engine


def test_messages_published_while_the_engine_is_stopped_arrive_after_restart(
    aws: Aws, make_engine: Callable[..., RulesEngine], mosquitto_broker: MosquittoBroker
) -> None:
    url = aws.queue()
    aws.rule("SELECT sequence FROM 'restart/+'", [sqs_action(url)])
    engine = started(make_engine())
    engine.stop()

    publish(mosquitto_broker, [("restart/m1", {"sequence": n}) for n in range(300)])
    started(engine)

    bodies = aws.bodies(url, 300)
    assert sorted(json.loads(body)["sequence"] for body in bodies) == list(range(300))


def test_two_engines_in_one_shared_group_split_the_messages(
    aws: Aws, make_engine: Callable[..., RulesEngine], mosquitto_broker: MosquittoBroker
) -> None:
    url = aws.queue()
    aws.rule("SELECT sequence FROM 'shared/+'", [sqs_action(url)])
    first = started(make_engine("a", shared_group="rules"))
    second = started(make_engine("b", shared_group="rules"))

    publish(mosquitto_broker, [("shared/m1", {"sequence": n}) for n in range(200)])

    bodies = aws.bodies(url, 200)
    assert sorted(json.loads(body)["sequence"] for body in bodies) == list(range(200))
    assert first.processed > 0
    assert second.processed > 0
    assert first.processed + second.processed == 200


def test_rules_created_deleted_and_disabled_apply_without_a_restart(
    aws: Aws, make_engine: Callable[..., RulesEngine], mosquitto_broker: MosquittoBroker
) -> None:
    url = aws.queue()
    engine = make_engine()
    engine.start()
    name = aws.rule("SELECT n FROM 'live/+'", [sqs_action(url)])
    engine.refresh()  # what the edge's listener does after CreateTopicRule
    assert engine.wait_connected(10)  # the first rule opens the session
    time.sleep(0.2)
    publish(mosquitto_broker, [("live/a", {"n": 1})])
    assert aws.bodies(url, 1) == ['{"n":1}']

    aws.iot.disable_topic_rule(ruleName=name)
    engine.refresh()
    publish(mosquitto_broker, [("live/a", {"n": 2})])
    aws.iot.enable_topic_rule(ruleName=name)
    engine.refresh()
    time.sleep(0.2)
    publish(mosquitto_broker, [("live/a", {"n": 3})])
    assert aws.bodies(url, 1) == ['{"n":3}']

    aws.iot.delete_topic_rule(ruleName=name)
    engine.refresh()
    publish(mosquitto_broker, [("live/a", {"n": 4})])
    time.sleep(0.5)
    assert aws.sqs.receive_message(QueueUrl=url).get("Messages", []) == []


def test_overlapping_rules_each_get_a_message_once(
    aws: Aws, make_engine: Callable[..., RulesEngine], mosquitto_broker: MosquittoBroker
) -> None:
    url = aws.queue()
    aws.rule("SELECT 'levels' AS rule FROM 'ov/+/c'", [sqs_action(url)])
    aws.rule("SELECT 'any' AS rule FROM 'ov/b/+'", [sqs_action(url)])
    started(make_engine())

    publish(mosquitto_broker, [("ov/b/c", {}), ("ov/x/c", {})])

    bodies = aws.bodies(url, 3)
    assert sorted(bodies) == sorted(
        ['{"rule":"levels"}', '{"rule":"any"}', '{"rule":"levels"}']
    )


def test_the_lambda_action_invokes_asynchronously_with_the_selected_payload(
    aws: Aws, make_engine: Callable[..., RulesEngine], mosquitto_broker: MosquittoBroker
) -> None:
    invoker = RecordingInvoker()
    arn = "arn:aws:lambda:us-east-1:123456789012:function:ingest"
    aws.rule(
        "SELECT *, topic(2) AS machine_id FROM 'fn/+' WHERE value > 10",
        [{"lambda": {"functionArn": arn}}],
    )
    started(make_engine(invoker=invoker))

    publish(mosquitto_broker, [("fn/m7", {"value": 5}), ("fn/m7", {"value": 50})])

    deadline = time.monotonic() + 10
    while not invoker.calls and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    assert invoker.calls == [(arn, b'{"value":50,"machine_id":"m7"}', "Event")]

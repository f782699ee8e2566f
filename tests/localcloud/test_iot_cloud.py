"""IoT Core in the local cloud, through real clients: boto3, the AWS CLI,
`mosquitto_pub` and paho against a real Mosquitto."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.fixtures.localcloud import RunningCloud
from tests.fixtures.mosquitto import MosquittoBroker
from tests.localcloud.conftest import lambda_role, wait_for, zip_source

pytestmark = pytest.mark.localcloud

ROLE = "arn:aws:iam::123456789012:role/iot-rule"


@pytest.fixture(scope="module")
def cloud(
    tmp_path_factory: pytest.TempPathFactory, mosquitto_broker: MosquittoBroker
) -> Iterator[RunningCloud]:
    """A cloud whose rules engine uses the session's Mosquitto."""
    running = RunningCloud(
        tmp_path_factory.mktemp("iot-cloud"),
        {"mqtt_host": mosquitto_broker.host, "mqtt_port": mosquitto_broker.port},
    )
    running.start()
    wait_for(lambda: running.health()["services"].get("iot") == "running")
    yield running
    running.stop()


def new_queue(cloud: RunningCloud) -> str:
    name = f"iot-{uuid.uuid4().hex[:8]}"
    return str(cloud.client("sqs").create_queue(QueueName=name)["QueueUrl"])


def new_rule(
    cloud: RunningCloud, sql: str, actions: list[dict[str, Any]], **payload: Any
) -> str:
    name = f"rule_{uuid.uuid4().hex[:8]}"
    cloud.client("iot").create_topic_rule(
        ruleName=name, topicRulePayload={"sql": sql, "actions": actions, **payload}
    )
    return name


def sqs_action(url: str, **options: Any) -> dict[str, Any]:
    return {"sqs": {"queueUrl": url, "roleArn": ROLE, **options}}


def receive(cloud: RunningCloud, url: str, expected: int) -> list[str]:
    """Bodies of `expected` messages, checking for 0.5 s that no more arrive."""
    sqs = cloud.client("sqs")
    bodies: list[str] = []

    def collect() -> bool:
        batch = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300
        ).get("Messages", [])
        bodies.extend(item["Body"] for item in batch)
        return len(bodies) >= expected

    wait_for(collect, timeout=30)
    time.sleep(0.5)
    collect()
    return bodies


def paho_publish(broker: MosquittoBroker, messages: list[tuple[str, bytes]]) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.max_inflight_messages_set(100)
    client.connect(broker.host, broker.port)
    client.loop_start()
    for info in [client.publish(topic, body, qos=1) for topic, body in messages]:
        info.wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


def settle() -> None:
    """The rule's subscription is made right after CreateTopicRule returns."""
    time.sleep(0.3)


def test_mosquitto_pub_messages_meeting_where_reach_sqs_with_topic_levels(
    cloud: RunningCloud, mosquitto_broker: MosquittoBroker
) -> None:
    url = new_queue(cloud)
    new_rule(
        cloud,
        "SELECT value, topic(2) AS machine_id, topic(3) AS parameter "
        "FROM 'pub/+/+' WHERE value > 100",
        [sqs_action(url)],
    )
    settle()

    command = [shutil.which("mosquitto_pub") or "mosquitto_pub", "-q", "1"]
    command += ["-h", mosquitto_broker.host, "-p", str(mosquitto_broker.port)]
    for value in (50, 150, 250):
        message = [
            "-t",
            "pub/drill-001/Temperature",
            "-m",
            json.dumps({"value": value}),
        ]
        subprocess.run([*command, *message], check=True, timeout=10)

    bodies = [json.loads(body) for body in receive(cloud, url, 2)]
    assert sorted(bodies, key=lambda body: body["value"]) == [
        {"value": 150, "machine_id": "drill-001", "parameter": "Temperature"},
        {"value": 250, "machine_id": "drill-001", "parameter": "Temperature"},
    ]


def test_paho_telemetry_reaches_sqs_through_the_project_rule(
    cloud: RunningCloud, mosquitto_broker: MosquittoBroker
) -> None:
    url = new_queue(cloud)
    new_rule(
        cloud,
        "SELECT *, topic(2) AS machine_id, topic(3) AS parameter, "
        "timestamp() AS received_at FROM 'tele/+/+'",
        [sqs_action(url)],
    )
    settle()
    sent_at = time.time() * 1000
    reading = {"machine_id": "x", "value": 812.4, "unit": "°C", "sequence": 0}

    paho_publish(
        mosquitto_broker,
        [
            (
                f"tele/mill-{n % 4}/Torque",
                json.dumps({**reading, "sequence": n}).encode(),
            )
            for n in range(200)
        ],
    )

    bodies = [json.loads(body) for body in receive(cloud, url, 200)]
    assert sorted(body["sequence"] for body in bodies) == list(range(200))
    first = next(body for body in bodies if body["sequence"] == 5)
    assert first["machine_id"] == "mill-1"
    assert first["parameter"] == "Torque"
    assert first["unit"] == "°C"
    assert sent_at - 1000 <= first["received_at"] <= time.time() * 1000


def test_unsupported_sql_is_rejected_with_sql_parse_exception_quoting_it(
    cloud: RunningCloud,
) -> None:
    iot = cloud.client("iot")

    with pytest.raises(botocore.exceptions.ClientError) as raised:
        iot.create_topic_rule(
            ruleName="uses_aws_lambda",
            topicRulePayload={
                "sql": "SELECT aws_lambda('arn:aws:lambda:us-east-1:1:function:f', *) "
                "FROM 'a/b'",
                "actions": [],
            },
        )

    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "SqlParseException"
    assert "Unsupported function aws_lambda()" in error["Error"]["Message"]
    assert (
        "aws_lambda('arn:aws:lambda:us-east-1:1:function:f', *)"
        in (error["Error"]["Message"])
    )
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.get_topic_rule(ruleName="uses_aws_lambda")


def test_the_aws_cli_gets_the_same_sql_parse_exception(cloud: RunningCloud) -> None:
    payload = json.dumps({"sql": "SELECT * FROM 'a/b' LIMIT 5", "actions": []})

    result = cloud.aws(
        "iot", "create-topic-rule", "--rule-name", "limited",
        "--topic-rule-payload", payload, check=False,
    )  # fmt: skip

    assert result.returncode != 0
    assert "SqlParseException" in result.stderr
    assert "the LIMIT clause in 'LIMIT 5' is not supported" in result.stderr


def test_replacing_a_rule_with_bad_sql_is_refused_and_keeps_the_old_rule(
    cloud: RunningCloud,
) -> None:
    iot = cloud.client("iot")
    name = new_rule(cloud, "SELECT * FROM 'keep/+'", [])

    with pytest.raises(botocore.exceptions.ClientError) as raised:
        iot.replace_topic_rule(
            ruleName=name,
            topicRulePayload={"sql": "SELECT * FROM 'keep/#/x'", "actions": []},
        )

    assert raised.value.response["Error"]["Code"] == "SqlParseException"
    assert "'#' must be a whole level" in raised.value.response["Error"]["Message"]
    assert iot.get_topic_rule(ruleName=name)["rule"]["sql"] == "SELECT * FROM 'keep/+'"


def test_a_disabled_rule_does_nothing(
    cloud: RunningCloud, mosquitto_broker: MosquittoBroker
) -> None:
    url = new_queue(cloud)
    new_rule(cloud, "SELECT n FROM 'off/+'", [sqs_action(url)], ruleDisabled=True)
    enabled_url = new_queue(cloud)
    new_rule(cloud, "SELECT n FROM 'off/+'", [sqs_action(enabled_url)])
    settle()

    paho_publish(mosquitto_broker, [("off/1", b'{"n": 1}')])

    assert receive(cloud, enabled_url, 1) == ['{"n":1}']
    assert cloud.client("sqs").receive_message(QueueUrl=url).get("Messages", []) == []


def test_republish_sends_the_selected_payload_to_a_templated_topic(
    cloud: RunningCloud, mosquitto_broker: MosquittoBroker
) -> None:
    received: list[tuple[str, bytes]] = []
    arrived = threading.Event()
    subscriber = mqtt.Client(CallbackAPIVersion.VERSION2)

    def on_message(client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        received.append((message.topic, bytes(message.payload)))
        arrived.set()

    subscriber.on_message = on_message
    subscriber.connect(mosquitto_broker.host, mosquitto_broker.port)
    subscriber.subscribe("alerts-out/#", qos=1)
    subscriber.loop_start()
    new_rule(
        cloud,
        "SELECT value, 'high' AS level FROM 'rep/+/+' WHERE value > 10",
        [{"republish": {"topic": "alerts-out/${topic(2)}", "roleArn": ROLE, "qos": 1}}],
    )
    settle()

    paho_publish(
        mosquitto_broker, [("rep/lathe-9/Speed", b'{"value": 5}'),
                           ("rep/lathe-9/Speed", b'{"value": 50}')],
    )  # fmt: skip

    assert arrived.wait(10)
    time.sleep(0.3)
    subscriber.loop_stop()
    subscriber.disconnect()
    assert received == [("alerts-out/lathe-9", b'{"value":50,"level":"high"}')]


def test_the_error_action_gets_aws_error_document_when_the_sqs_action_fails(
    cloud: RunningCloud, mosquitto_broker: MosquittoBroker
) -> None:
    errors_url = new_queue(cloud)
    missing = f"{cloud.endpoint_url}/123456789012/no-such-queue"
    name = new_rule(
        cloud,
        "SELECT * FROM 'err/+'",
        [sqs_action(missing)],
        errorAction=sqs_action(errors_url),
    )
    settle()

    paho_publish(mosquitto_broker, [("err/m1", b'{"reading": 1}')])

    (body,) = receive(cloud, errors_url, 1)
    document = json.loads(body)
    assert document["ruleName"] == name
    assert document["topic"] == "err/m1"
    assert base64.b64decode(document["base64OriginalPayload"]) == b'{"reading": 1}'
    assert set(document) == {
        "ruleName", "topic", "cloudwatchTraceId", "clientId",
        "base64OriginalPayload", "failures",
    }  # fmt: skip
    (failure,) = document["failures"]
    assert failure["failedAction"] == "SqsAction"
    assert failure["failedResource"] == missing
    assert "no-such-queue" in failure["errorMessage"]


def test_iot_data_publish_reaches_the_rules(
    cloud: RunningCloud, mosquitto_broker: MosquittoBroker
) -> None:
    url = new_queue(cloud)
    new_rule(cloud, "SELECT *, topic(2) AS machine FROM 'http/+'", [sqs_action(url)])
    settle()

    cloud.client("iot-data").publish(
        topic="http/press-3", qos=1, payload=b'{"alert": "critical"}'
    )

    assert receive(cloud, url, 1) == ['{"alert":"critical","machine":"press-3"}']


def test_iot_data_publish_rejects_a_qos_above_one(cloud: RunningCloud) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        cloud.client("iot-data").publish(topic="x/y", qos=2, payload=b"{}")

    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert raised.value.response["Error"]["Code"] == "InvalidRequestException"
    assert "qos must be 0 or 1, got '2'" in raised.value.response["Error"]["Message"]


def test_describe_endpoint_returns_the_brokers_host_and_port(
    cloud: RunningCloud, mosquitto_broker: MosquittoBroker
) -> None:
    endpoint = cloud.client("iot").describe_endpoint(endpointType="iot:Data-ATS")

    assert endpoint["endpointAddress"] == (
        f"{mosquitto_broker.host}:{mosquitto_broker.port}"
    )


def test_messages_published_while_the_cloud_is_down_reach_the_redeployed_rule(
    tmp_path_factory: pytest.TempPathFactory, mosquitto_broker: MosquittoBroker
) -> None:
    restarted = RunningCloud(
        tmp_path_factory.mktemp("iot-restart"),
        {"mqtt_host": mosquitto_broker.host, "mqtt_port": mosquitto_broker.port},
    )

    def deploy() -> str:
        url = str(restarted.client("sqs").create_queue(QueueName="down")["QueueUrl"])
        restarted.client("iot").create_topic_rule(
            ruleName="down",
            topicRulePayload={
                "sql": "SELECT n FROM 'down/+'",
                "actions": [sqs_action(url)],
            },
        )
        settle()
        return url

    restarted.start()
    try:
        url = deploy()
        paho_publish(mosquitto_broker, [("down/a", b'{"n": 0}')])
        assert receive(restarted, url, 1) == ['{"n":0}']
        restarted.stop()

        paho_publish(
            mosquitto_broker,
            [("down/a", json.dumps({"n": n}).encode()) for n in range(1, 51)],
        )
        restarted.start()  # moto's state is gone: the stack is deployed again
        url = deploy()

        bodies = receive(restarted, url, 50)
    finally:
        restarted.stop()
    assert sorted(json.loads(body)["n"] for body in bodies) == list(range(1, 51))


HANDLER = """
import json, os
import boto3

def handler(event, context):
    boto3.client("sqs").send_message(
        QueueUrl=os.environ["OUT_QUEUE"], MessageBody=json.dumps(event)
    )
"""


def test_a_rule_invokes_a_lambda_function_that_receives_the_selected_event(
    cloud: RunningCloud, mosquitto_broker: MosquittoBroker
) -> None:
    url = new_queue(cloud)
    name = f"iot-fn-{uuid.uuid4().hex[:8]}"
    function = cloud.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=lambda_role(cloud),
        Handler="app.handler",
        Code={"ZipFile": zip_source({"app.py": HANDLER})},
        Environment={"Variables": {"OUT_QUEUE": url}},
    )
    new_rule(
        cloud,
        "SELECT value, topic(2) AS machine_id FROM 'lam/+' WHERE value >= 10",
        [{"lambda": {"functionArn": function["FunctionArn"]}}],
    )
    settle()

    paho_publish(
        mosquitto_broker,
        [("lam/drill-2", b'{"value": 1}'), ("lam/drill-2", b'{"value": 10}')],
    )

    assert [json.loads(body) for body in receive(cloud, url, 1)] == [
        {"value": 10, "machine_id": "drill-2"}
    ]

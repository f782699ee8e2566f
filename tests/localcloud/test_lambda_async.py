"""Asynchronous invocations: retries, then destinations or the dead-letter queue."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.fixtures.localcloud import RunningCloud
from tests.localcloud.conftest import MakeFunction, log_messages, wait_for

pytestmark = pytest.mark.localcloud

FAILING = """
def handler(event, context):
    print("attempt for", event["id"])
    raise RuntimeError("cannot store " + event["id"])
"""


def make_queue(cloud: RunningCloud, name: str) -> tuple[str, str]:
    sqs = cloud.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return url, arn["Attributes"]["QueueArn"]


def receive_one(cloud: RunningCloud, url: str) -> dict[str, Any]:
    sqs = cloud.client("sqs")

    def poll() -> list[dict[str, Any]]:
        found = sqs.receive_message(
            QueueUrl=url, MessageAttributeNames=["All"], WaitTimeSeconds=1
        )
        return list(found.get("Messages", []))

    messages: list[dict[str, Any]] = wait_for(poll, timeout=30)
    return messages[0]


def send_event(cloud: RunningCloud, name: str, event: object) -> None:
    response = cloud.client("lambda").invoke(
        FunctionName=name, InvocationType="Event", Payload=json.dumps(event).encode()
    )
    assert response["StatusCode"] == 202


def test_a_failing_event_is_retried_twice_then_sent_to_the_dead_letter_queue(
    local_cloud: RunningCloud, make_function: MakeFunction
) -> None:
    url, arn = make_queue(local_cloud, "async-dlq")
    name = make_function(FAILING, DeadLetterConfig={"TargetArn": arn})

    send_event(local_cloud, name, {"id": "r-1"})
    message = receive_one(local_cloud, url)

    assert json.loads(message["Body"]) == {"id": "r-1"}
    attributes = message["MessageAttributes"]
    assert attributes["ErrorMessage"]["StringValue"] == "cannot store r-1"
    assert attributes["RequestID"]["StringValue"]
    attempts = [m for m in log_messages(local_cloud, name) if m == "attempt for r-1"]
    assert len(attempts) == 3


def test_an_on_failure_destination_gets_aws_invocation_record(
    local_cloud: RunningCloud, make_function: MakeFunction
) -> None:
    url, arn = make_queue(local_cloud, "async-on-failure")
    name = make_function(FAILING)
    local_cloud.client("lambda").put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": arn}},
    )

    send_event(local_cloud, name, {"id": "r-2"})
    record = json.loads(receive_one(local_cloud, url)["Body"])

    assert record["version"] == "1.0"
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["requestContext"]["functionArn"].endswith(f":{name}:$LATEST")
    assert record["requestPayload"] == {"id": "r-2"}
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorMessage"] == "cannot store r-2"


def test_an_on_success_destination_gets_the_result(
    local_cloud: RunningCloud, make_function: MakeFunction
) -> None:
    url, arn = make_queue(local_cloud, "async-on-success")
    name = make_function("def handler(event, context):\n    return {'stored': 1}\n")
    local_cloud.client("lambda").put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": arn}}
    )

    send_event(local_cloud, name, {"id": "r-3"})
    record = json.loads(receive_one(local_cloud, url)["Body"])

    assert record["requestContext"]["condition"] == "Success"
    assert record["responsePayload"] == {"stored": 1}

"""The local cloud's SQS queues through the AWS CLI and boto3 over HTTP.

The same queue model the event source poller uses answers these clients:
visibility, deletes by receipt handle, redrive to a dead-letter queue,
long polls that do not hold up other requests, and counts on a deep queue.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

import pytest

from tests.fixtures.localcloud import RunningCloud

pytestmark = pytest.mark.localcloud


def _name() -> str:
    return f"q{uuid.uuid4().hex[:12]}"


def _cli(cloud: RunningCloud, *args: str) -> Any:
    output = cloud.aws("sqs", *args).stdout
    return json.loads(output) if output.strip() else {}


def _counts(cloud: RunningCloud, url: str) -> tuple[int, int]:
    found = _cli(
        cloud,
        "get-queue-attributes",
        "--queue-url",
        url,
        "--attribute-names",
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
    )["Attributes"]
    return (
        int(found["ApproximateNumberOfMessages"]),
        int(found["ApproximateNumberOfMessagesNotVisible"]),
    )


def test_the_cli_sees_visibility_timeouts_and_deletes(
    local_cloud: RunningCloud,
) -> None:
    url = _cli(
        local_cloud,
        "create-queue",
        "--queue-name",
        _name(),
        "--attributes",
        "VisibilityTimeout=60",
    )["QueueUrl"]
    sent = _cli(local_cloud, "send-message", "--queue-url", url, "--message-body", "hi")

    first = _cli(local_cloud, "receive-message", "--queue-url", url)["Messages"][0]
    hidden = _cli(local_cloud, "receive-message", "--queue-url", url)
    counts_in_flight = _counts(local_cloud, url)
    _cli(
        local_cloud,
        "change-message-visibility",
        "--queue-url",
        url,
        "--receipt-handle",
        first["ReceiptHandle"],
        "--visibility-timeout",
        "1",
    )
    shortened_at = time.monotonic()
    again = _cli(
        local_cloud,
        "receive-message",
        "--queue-url",
        url,
        "--wait-time-seconds",
        "20",
        "--attribute-names",
        "ApproximateReceiveCount",
    )["Messages"][0]
    waited = time.monotonic() - shortened_at
    _cli(
        local_cloud,
        "delete-message",
        "--queue-url",
        url,
        "--receipt-handle",
        again["ReceiptHandle"],
    )

    assert first["MessageId"] == sent["MessageId"]
    assert first["MD5OfBody"] == sent["MD5OfMessageBody"]
    assert hidden == {}
    assert counts_in_flight == (0, 1)
    assert 0.5 < waited < 15
    assert again["MessageId"] == sent["MessageId"]
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"
    assert _counts(local_cloud, url) == (0, 0)


def test_the_cli_can_end_a_visibility_timeout_early(local_cloud: RunningCloud) -> None:
    url = _cli(local_cloud, "create-queue", "--queue-name", _name())["QueueUrl"]
    _cli(local_cloud, "send-message", "--queue-url", url, "--message-body", "hi")
    handle = _cli(local_cloud, "receive-message", "--queue-url", url)["Messages"][0][
        "ReceiptHandle"
    ]

    _cli(
        local_cloud,
        "change-message-visibility",
        "--queue-url",
        url,
        "--receipt-handle",
        handle,
        "--visibility-timeout",
        "0",
    )

    assert _counts(local_cloud, url) == (1, 0)


def test_a_bad_receipt_handle_is_refused_with_sqs_error(
    local_cloud: RunningCloud,
) -> None:
    url = _cli(local_cloud, "create-queue", "--queue-name", _name())["QueueUrl"]

    failed = local_cloud.aws(
        "sqs",
        "delete-message",
        "--queue-url",
        url,
        "--receipt-handle",
        "nope",
        check=False,
    )

    assert failed.returncode != 0
    assert "ReceiptHandleIsInvalid" in failed.stderr
    assert "receipt handle is invalid" in failed.stderr


def test_the_cli_sees_a_message_redriven_to_the_dead_letter_queue(
    local_cloud: RunningCloud,
) -> None:
    name = _name()
    dlq = _cli(local_cloud, "create-queue", "--queue-name", f"{name}-dlq")["QueueUrl"]
    dlq_arn = _cli(
        local_cloud,
        "get-queue-attributes",
        "--queue-url",
        dlq,
        "--attribute-names",
        "QueueArn",
    )["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"})
    url = _cli(
        local_cloud,
        "create-queue",
        "--queue-name",
        name,
        "--attributes",
        json.dumps({"VisibilityTimeout": "0", "RedrivePolicy": policy}),
    )["QueueUrl"]
    _cli(local_cloud, "send-message", "--queue-url", url, "--message-body", "poison")

    first = _cli(local_cloud, "receive-message", "--queue-url", url)
    second = _cli(local_cloud, "receive-message", "--queue-url", url)
    moved = _cli(local_cloud, "receive-message", "--queue-url", dlq)
    sources = _cli(local_cloud, "list-dead-letter-source-queues", "--queue-url", dlq)

    assert first["Messages"][0]["Body"] == "poison"
    assert second == {}
    assert moved["Messages"][0]["Body"] == "poison"
    assert sources["queueUrls"] == [url]


def test_a_long_poll_waits_for_a_message_without_holding_up_other_calls(
    local_cloud: RunningCloud,
) -> None:
    sqs = local_cloud.client("sqs")
    url = sqs.create_queue(QueueName=_name())["QueueUrl"]
    received: dict[str, Any] = {}

    def poll() -> None:
        started = time.monotonic()
        received["reply"] = local_cloud.client("sqs").receive_message(
            QueueUrl=url, WaitTimeSeconds=10
        )
        received["seconds"] = time.monotonic() - started

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(0.5)
    answered = time.monotonic()
    sqs.send_message(QueueUrl=url, MessageBody="late")
    send_took = time.monotonic() - answered
    poller.join(15)

    assert received["reply"]["Messages"][0]["Body"] == "late"
    assert 0.4 < received["seconds"] < 5
    assert send_took < 2


def test_counts_stay_exact_on_a_deep_queue(local_cloud: RunningCloud) -> None:
    sqs = local_cloud.client("sqs")
    url = sqs.create_queue(QueueName=_name())["QueueUrl"]
    for start in range(0, 3000, 10):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "MessageBody": f"m{start + i}"} for i in range(10)],
        )

    in_flight = [
        message
        for _ in range(5)
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)[
            "Messages"
        ]
    ]
    sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
            for i, m in enumerate(in_flight[:10])
        ],
    )

    assert _counts(local_cloud, url) == (2950, 40)

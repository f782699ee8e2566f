"""The local cloud's SQS queue model behind moto's API, driven through boto3.

Every test runs against moto in-process (`mock_aws`) with `FastQueue`
installed, and checks a behaviour SQS clients rely on: visibility, deletes by
receipt handle, redrive, attributes and their MD5s, FIFO groups and
deduplication, long polls, counts that do not scan.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from localcloud.sqs import FastQueue, install_queue_model, uninstall_queue_model
from localcloud.sqs.queue_model import new_receipt_handle

pytestmark = pytest.mark.unit

REGION = "us-east-1"


@pytest.fixture
def sqs() -> Iterator[Any]:
    install_queue_model()
    with mock_aws():
        yield boto3.client("sqs", region_name=REGION)


def _queue(sqs: Any, name: str, **attributes: str) -> str:
    url: str = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url


def _arn(sqs: Any, url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def _counts(sqs: Any, url: str) -> tuple[int, int, int]:
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    values = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)
    return tuple(int(values["Attributes"][name]) for name in names)  # type: ignore[return-value]


def test_new_queues_use_the_fast_model(sqs: Any) -> None:
    from moto.sqs.models import sqs_backends

    _queue(sqs, "model")

    queue = sqs_backends["123456789012"][REGION].queues["model"]
    assert isinstance(queue, FastQueue)


def test_a_received_message_is_invisible_until_its_timeout_ends(sqs: Any) -> None:
    url = _queue(sqs, "visibility", VisibilityTimeout="1")
    sqs.send_message(QueueUrl=url, MessageBody="one")

    first = sqs.receive_message(QueueUrl=url)["Messages"]
    hidden = sqs.receive_message(QueueUrl=url).get("Messages", [])
    assert _counts(sqs, url) == (0, 1, 0)
    time.sleep(1.1)
    again = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"]

    assert hidden == []
    assert again[0]["MessageId"] == first[0]["MessageId"]
    assert again[0]["ReceiptHandle"] != first[0]["ReceiptHandle"]
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"


def test_a_deleted_message_is_gone_and_a_second_delete_succeeds(sqs: Any) -> None:
    url = _queue(sqs, "delete", VisibilityTimeout="1")
    sqs.send_message(QueueUrl=url, MessageBody="one")
    handle = sqs.receive_message(QueueUrl=url)["Messages"][0]["ReceiptHandle"]

    sqs.delete_message(QueueUrl=url, ReceiptHandle=handle)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=handle)
    time.sleep(1.1)

    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    assert _counts(sqs, url) == (0, 0, 0)


def test_deleting_with_an_unknown_receipt_handle_is_refused(sqs: Any) -> None:
    url = _queue(sqs, "bad-handle")

    with pytest.raises(ClientError) as caught:
        sqs.delete_message(QueueUrl=url, ReceiptHandle="not-a-handle")

    assert caught.value.response["Error"]["Code"] == "ReceiptHandleIsInvalid"
    assert "receipt handle is invalid" in caught.value.response["Error"]["Message"]


def test_visibility_can_be_ended_early_or_extended(sqs: Any) -> None:
    url = _queue(sqs, "change", VisibilityTimeout="30")
    sqs.send_message(QueueUrl=url, MessageBody="one")
    handle = sqs.receive_message(QueueUrl=url)["Messages"][0]["ReceiptHandle"]

    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0
    )
    second = sqs.receive_message(QueueUrl=url, VisibilityTimeout=1)["Messages"][0]
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=second["ReceiptHandle"], VisibilityTimeout=3
    )
    time.sleep(1.2)

    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    assert _counts(sqs, url) == (0, 1, 0)


def test_a_visibility_beyond_twelve_hours_is_refused(sqs: Any) -> None:
    url = _queue(sqs, "too-long")
    sqs.send_message(QueueUrl=url, MessageBody="one")
    handle = sqs.receive_message(QueueUrl=url)["Messages"][0]["ReceiptHandle"]

    with pytest.raises(ClientError) as caught:
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=43200
        )

    assert caught.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert (
        "beyond the limit [43200 seconds]" in caught.value.response["Error"]["Message"]
    )


def test_a_message_received_max_receive_count_times_moves_to_the_dlq(
    sqs: Any,
) -> None:
    dlq = _queue(sqs, "redrive-dlq")
    policy = {"deadLetterTargetArn": _arn(sqs, dlq), "maxReceiveCount": 2}
    url = _queue(
        sqs, "redrive", VisibilityTimeout="0", RedrivePolicy=json.dumps(policy)
    )
    sent = sqs.send_message(QueueUrl=url, MessageBody="poison")["MessageId"]

    receipts = [sqs.receive_message(QueueUrl=url).get("Messages", []) for _ in range(3)]
    moved = sqs.receive_message(QueueUrl=dlq, AttributeNames=["All"])["Messages"]

    assert [len(batch) for batch in receipts] == [1, 1, 0]
    assert moved[0]["MessageId"] == sent
    assert moved[0]["Body"] == "poison"
    assert _counts(sqs, url) == (0, 0, 0)


def test_message_attributes_and_their_md5_match_what_sqs_computes(sqs: Any) -> None:
    url = _queue(sqs, "attributes")
    attributes = {
        "kind": {"DataType": "String", "StringValue": "reading"},
        "count": {"DataType": "Number", "StringValue": "3"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
    }

    sent = sqs.send_message(
        QueueUrl=url, MessageBody="hello", MessageAttributes=attributes
    )
    received = sqs.receive_message(
        QueueUrl=url, MessageAttributeNames=["kind", "co.*"]
    )["Messages"][0]

    assert sent["MD5OfMessageBody"] == "5d41402abc4b2a76b9719d911017c592"
    assert received["MD5OfBody"] == sent["MD5OfMessageBody"]
    assert set(received["MessageAttributes"]) == {"kind", "count"}
    assert len(sent["MD5OfMessageAttributes"]) == 32


def test_delayed_messages_are_counted_and_appear_when_their_delay_ends(
    sqs: Any,
) -> None:
    url = _queue(sqs, "delay")

    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=1)
    before = _counts(sqs, url)
    early = sqs.receive_message(QueueUrl=url).get("Messages", [])
    time.sleep(1.1)

    assert before == (0, 0, 1)
    assert early == []
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "later"


def test_a_long_poll_returns_as_soon_as_a_message_arrives(sqs: Any) -> None:
    url = _queue(sqs, "long-poll")
    timer = threading.Timer(
        0.3, lambda: sqs.send_message(QueueUrl=url, MessageBody="late")
    )
    started = time.monotonic()
    timer.start()

    messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]

    assert messages[0]["Body"] == "late"
    assert 0.2 < time.monotonic() - started < 2.0


def test_a_long_poll_on_an_empty_queue_waits_its_full_time(sqs: Any) -> None:
    url = _queue(sqs, "empty-poll")
    started = time.monotonic()

    messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)

    assert "Messages" not in messages
    assert 0.9 < time.monotonic() - started < 1.5


def test_messages_come_back_oldest_first(sqs: Any) -> None:
    url = _queue(sqs, "order")
    for number in range(25):
        sqs.send_message(QueueUrl=url, MessageBody=str(number))

    bodies: list[str] = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
        if "Messages" not in batch:
            break
        bodies.extend(message["Body"] for message in batch["Messages"])

    assert bodies == [str(number) for number in range(25)]


def test_a_purged_queue_is_empty(sqs: Any) -> None:
    url = _queue(sqs, "purge")
    sqs.send_message(QueueUrl=url, MessageBody="one")
    sqs.receive_message(QueueUrl=url)
    sqs.send_message(QueueUrl=url, MessageBody="two")

    sqs.purge_queue(QueueUrl=url)

    assert _counts(sqs, url) == (0, 0, 0)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)


def test_a_fifo_group_delivers_nothing_more_while_a_message_is_in_flight(
    sqs: Any,
) -> None:
    url = _queue(sqs, "groups.fifo", FifoQueue="true", ContentBasedDeduplication="true")
    for group, body in [("a", "a1"), ("a", "a2"), ("b", "b1"), ("a", "a3")]:
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group)

    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2)["Messages"]
    second = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    third = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    for message in first:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    fourth = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]

    assert [m["Body"] for m in first] == ["a1", "a2"]
    assert [m["Body"] for m in second] == ["b1"]
    assert "Messages" not in third
    assert [m["Body"] for m in fourth] == ["a3"]


def test_a_fifo_queue_drops_a_duplicate_sent_within_five_minutes(sqs: Any) -> None:
    url = _queue(sqs, "dedup.fifo", FifoQueue="true")

    for _ in range(2):
        sqs.send_message(
            QueueUrl=url,
            MessageBody="once",
            MessageGroupId="g",
            MessageDeduplicationId="same",
        )
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=received[0]["ReceiptHandle"])
    sqs.send_message(
        QueueUrl=url,
        MessageBody="once",
        MessageGroupId="g",
        MessageDeduplicationId="same",
    )

    assert len(received) == 1
    assert "Messages" not in sqs.receive_message(QueueUrl=url)


def test_a_fifo_message_without_a_group_is_refused(sqs: Any) -> None:
    url = _queue(sqs, "nogroup.fifo", FifoQueue="true")

    with pytest.raises(ClientError) as caught:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageDeduplicationId="d")

    assert caught.value.response["Error"]["Code"] == "MissingParameter"
    assert "MessageGroupId" in caught.value.response["Error"]["Message"]


def test_counting_does_not_scan_the_messages(sqs: Any) -> None:
    from moto.sqs.models import sqs_backends

    url = _queue(sqs, "deep")
    backend = sqs_backends["123456789012"][REGION]
    for _ in range(20_000):
        backend.send_message("deep", "x")

    started = time.perf_counter()
    for _ in range(200):
        sqs.send_message(QueueUrl=url, MessageBody="y")
        _counts(sqs, url)
    elapsed = time.perf_counter() - started

    assert _counts(sqs, url) == (20_200, 0, 0)
    # moto's own model needs about a second per call at this depth.
    assert elapsed < 10


def test_queues_made_before_the_model_was_installed_keep_working(sqs: Any) -> None:
    uninstall_queue_model()
    try:
        url = _queue(sqs, "stock", VisibilityTimeout="1")
    finally:
        install_queue_model()
    sqs.send_message(QueueUrl=url, MessageBody="one")

    message = sqs.receive_message(QueueUrl=url)["Messages"][0]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    assert _counts(sqs, url) == (0, 0, 0)


def test_receipt_handles_never_read_as_command_line_options() -> None:
    handles = {new_receipt_handle() for _ in range(2000)}

    assert len(handles) == 2000
    assert all(handle[0].isalpha() for handle in handles)

"""SQS event source mappings in a running local cloud, through boto3 and the AWS CLI.

Each function reports every batch it gets to an observation queue (its
records' bodies and receive counts), so the tests see exactly what Lambda
delivered, how often, and in which batches.
"""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from collections.abc import Callable
from typing import Any

import pytest

from tests.fixtures.localcloud import RunningCloud

pytestmark = [pytest.mark.localcloud, pytest.mark.slow]

OBSERVER = """
import json, os
import boto3

sqs = boto3.client("sqs")


def handler(event, context):
    records = event["Records"]
    sqs.send_message(
        QueueUrl=os.environ["OBSERVATIONS"],
        MessageBody=json.dumps(
            [[r["body"], r["attributes"]["ApproximateReceiveCount"]] for r in records]
        ),
    )
    mode = os.environ.get("MODE", "ok")
    if mode == "raise-on-first-receive":
        if any(r["attributes"]["ApproximateReceiveCount"] == "1" for r in records):
            raise RuntimeError("first delivery fails")
    if mode == "report-poison":
        return {
            "batchItemFailures": [
                {"itemIdentifier": r["messageId"]}
                for r in records
                if r["body"].startswith("poison")
            ]
        }
    return None
"""


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("observer.py", source)
    return buffer.getvalue()


class Setup:
    """A queue (with a DLQ), an observation queue and an observing function."""

    def __init__(self, cloud: RunningCloud, mode: str, max_receive_count: int = 2):
        self.cloud = cloud
        self.sqs = cloud.client("sqs")
        self.lam = cloud.client("lambda")
        name = f"t{uuid.uuid4().hex[:10]}"
        self.name = name
        self.dlq_url, dlq_arn = self.queue(f"{name}-dlq")
        self.observations_url, _ = self.queue(f"{name}-seen")
        redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count}
        self.url, self.arn = self.queue(
            name, VisibilityTimeout="2", RedrivePolicy=json.dumps(redrive)
        )
        role = cloud.client("iam").create_role(
            RoleName=f"{name}-role", AssumeRolePolicyDocument="{}"
        )
        self.function = f"{name}-fn"
        self.lam.create_function(
            FunctionName=self.function,
            Runtime="python3.11",
            Role=role["Role"]["Arn"],
            Handler="observer.handler",
            Code={"ZipFile": _zip(OBSERVER)},
            Timeout=2,
            Environment={
                "Variables": {"OBSERVATIONS": self.observations_url, "MODE": mode}
            },
        )

    def queue(self, name: str, **attributes: str) -> tuple[str, str]:
        url: str = self.sqs.create_queue(QueueName=name, Attributes=attributes)[
            "QueueUrl"
        ]
        found = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return url, str(found["Attributes"]["QueueArn"])

    def map(self, **options: Any) -> str:
        mapping: str = self.lam.create_event_source_mapping(
            EventSourceArn=self.arn, FunctionName=self.function, **options
        )["UUID"]
        return mapping

    def send(self, *bodies: str) -> None:
        for start in range(0, len(bodies), 10):
            chunk = bodies[start : start + 10]
            self.sqs.send_message_batch(
                QueueUrl=self.url,
                Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(chunk)],
            )

    def counts(self, url: str | None = None) -> tuple[int, int]:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        found = self.sqs.get_queue_attributes(
            QueueUrl=url or self.url, AttributeNames=names
        )["Attributes"]
        return int(found[names[0]]), int(found[names[1]])

    def batches(self) -> list[list[tuple[str, int]]]:
        """Every batch the function saw, drained from the observation queue."""
        seen: list[list[tuple[str, int]]] = []
        while True:
            found = self.sqs.receive_message(
                QueueUrl=self.observations_url, MaxNumberOfMessages=10
            ).get("Messages", [])
            if not found:
                return seen
            for message in found:
                seen.append([(b, int(c)) for b, c in json.loads(message["Body"])])
                self.sqs.delete_message(
                    QueueUrl=self.observations_url,
                    ReceiptHandle=message["ReceiptHandle"],
                )


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition was not met in time")
        time.sleep(0.1)


def test_items_reported_failed_alone_are_retried_then_moved_to_the_dlq(
    local_cloud: RunningCloud,
) -> None:
    setup = Setup(local_cloud, "report-poison", max_receive_count=2)
    setup.send("good-1", "poison-1", "good-2")

    setup.map(BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"])
    wait_until(
        lambda: setup.counts(setup.dlq_url) == (1, 0) and setup.counts() == (0, 0)
    )
    seen = [record for batch in setup.batches() for record in batch]
    moved = setup.sqs.receive_message(QueueUrl=setup.dlq_url)["Messages"]

    assert sorted(seen) == [
        ("good-1", 1),
        ("good-2", 1),
        ("poison-1", 1),
        ("poison-1", 2),
    ]
    assert [message["Body"] for message in moved] == ["poison-1"]


def test_a_function_error_returns_the_whole_batch_for_another_try(
    local_cloud: RunningCloud,
) -> None:
    setup = Setup(local_cloud, "raise-on-first-receive", max_receive_count=5)
    setup.send("a", "b")

    mapping = setup.map(BatchSize=10, MaximumBatchingWindowInSeconds=1)
    wait_until(lambda: setup.counts() == (0, 0))
    seen = sorted(record for batch in setup.batches() for record in batch)
    described = setup.lam.get_event_source_mapping(UUID=mapping)

    counts: dict[str, list[int]] = {}
    for body, count in seen:
        counts.setdefault(body, []).append(count)
    # Failed at its first delivery, then delivered again as the same batch. On
    # an idle machine that is receive 2; on a loaded one the 2 s visibility
    # timeout can lapse during the first (cold) invocation, which spends a
    # receive, as SQS would.
    assert sorted(counts) == ["a", "b"]
    assert counts["a"] == counts["b"]
    assert counts["a"][0] == 1
    assert len(counts["a"]) == 2
    assert setup.counts(setup.dlq_url) == (0, 0)
    assert described["LastProcessingResult"] == "OK"


def test_batches_hold_at_most_batch_size_records(local_cloud: RunningCloud) -> None:
    setup = Setup(local_cloud, "ok")
    setup.send(*[f"m{i}" for i in range(25)])

    setup.map(BatchSize=10)
    wait_until(lambda: setup.counts() == (0, 0))
    batches = setup.batches()

    assert sorted(b for batch in batches for b, _ in batch) == sorted(
        f"m{i}" for i in range(25)
    )
    assert max(len(batch) for batch in batches) <= 10


def test_a_mapping_disabled_with_the_cli_delivers_nothing_until_enabled(
    local_cloud: RunningCloud,
) -> None:
    setup = Setup(local_cloud, "ok")
    created = local_cloud.aws(
        "lambda",
        "create-event-source-mapping",
        "--function-name",
        setup.function,
        "--event-source-arn",
        setup.arn,
        "--no-enabled",
    )
    mapping = json.loads(created.stdout)["UUID"]

    setup.send("while-disabled")
    time.sleep(2)
    state_disabled = json.loads(
        local_cloud.aws("lambda", "get-event-source-mapping", "--uuid", mapping).stdout
    )["State"]
    queued_while_disabled = setup.counts()
    local_cloud.aws(
        "lambda", "update-event-source-mapping", "--uuid", mapping, "--enabled"
    )
    wait_until(lambda: setup.counts() == (0, 0))
    described = json.loads(
        local_cloud.aws("lambda", "get-event-source-mapping", "--uuid", mapping).stdout
    )

    assert state_disabled == "Disabled"
    assert queued_while_disabled == (1, 0)
    assert [b for batch in setup.batches() for b, _ in batch] == ["while-disabled"]
    assert described["State"] == "Enabled"
    wait_until(
        lambda: (
            json.loads(
                local_cloud.aws(
                    "lambda", "get-event-source-mapping", "--uuid", mapping
                ).stdout
            ).get("LastProcessingResult")
            == "OK"
        )
    )


def test_a_deleted_mapping_stops_delivering(local_cloud: RunningCloud) -> None:
    setup = Setup(local_cloud, "ok")
    mapping = setup.map()
    setup.send("before")
    wait_until(lambda: setup.counts() == (0, 0))

    setup.lam.delete_event_source_mapping(UUID=mapping)
    time.sleep(1.5)
    setup.send("after")
    time.sleep(2)

    assert setup.counts() == (1, 0)
    assert [b for batch in setup.batches() for b, _ in batch] == ["before"]

"""The SQS event source poller against moto in-process, with a recording invoker.

The mappings, queues and functions are made through boto3 (moto in-process);
the invoker stands in for the Lambda service, so these tests pin down the
poller's own rules: batching, partial failures, retries, redrive, Enabled,
concurrency, and the event's exact shape.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.data_classes import SQSEvent
from aws_lambda_powertools.utilities.parser.models import SqsModel
from moto import mock_aws

from localcloud.invoker import InvocationResult
from localcloud.sqs import (
    EventSourceSettings,
    SqsEventSourceService,
    install_mapping_patches,
    install_queue_model,
)

pytestmark = pytest.mark.unit

REGION = "us-east-1"
Behaviour = Callable[[dict[str, Any]], InvocationResult]


def succeed(event: dict[str, Any]) -> InvocationResult:
    return InvocationResult(200, b"null")


@dataclass
class RecordingInvoker:
    """Records each event; answers with `behaviour` (success by default)."""

    behaviour: Behaviour = succeed
    delay: float = 0.0
    events: list[dict[str, Any]] = field(default_factory=list)
    concurrent: int = 0
    most_concurrent: int = 0
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
        event = json.loads(payload)
        with self._lock:
            self.events.append(event)
            self.concurrent += 1
            self.most_concurrent = max(self.most_concurrent, self.concurrent)
        try:
            time.sleep(self.delay)
            return self.behaviour(event)
        finally:
            with self._lock:
                self.concurrent -= 1

    def bodies(self) -> list[str]:
        with self._lock:
            return [r["body"] for e in self.events for r in e["Records"]]


@dataclass
class World:
    sqs: Any
    lam: Any
    invoker: RecordingInvoker
    service: SqsEventSourceService

    def queue(self, name: str, **attributes: str) -> tuple[str, str]:
        url: str = self.sqs.create_queue(QueueName=name, Attributes=attributes)[
            "QueueUrl"
        ]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return url, str(arn["Attributes"]["QueueArn"])

    def function(self, name: str, **extra: Any) -> str:
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr(
                "app.py", "def handler(event, context):\n    return None\n"
            )
        arn: str = self.lam.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role="arn:aws:iam::123456789012:role/lambda-role",
            Handler="app.handler",
            Code={"ZipFile": code.getvalue()},
            **extra,
        )["FunctionArn"]
        return arn

    def mapping(self, queue_arn: str, function: str, **options: Any) -> str:
        uuid: str = self.lam.create_event_source_mapping(
            EventSourceArn=queue_arn, FunctionName=function, **options
        )["UUID"]
        self.service.reconcile()
        return uuid

    def counts(self, url: str) -> tuple[int, int]:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        values = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)
        return (
            int(values["Attributes"][names[0]]),
            int(values["Attributes"][names[1]]),
        )

    def send(self, url: str, *bodies: str) -> None:
        for start in range(0, len(bodies), 10):
            entries = [
                {"Id": str(i), "MessageBody": body}
                for i, body in enumerate(bodies[start : start + 10])
            ]
            self.sqs.send_message_batch(QueueUrl=url, Entries=entries)


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


@pytest.fixture
def world() -> Iterator[World]:
    install_queue_model()
    install_mapping_patches()
    invoker = RecordingInvoker()
    with mock_aws():
        iam = boto3.client("iam", region_name=REGION)
        iam.create_role(
            RoleName="lambda-role",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17"}),
        )
        service = SqsEventSourceService(
            invoker, EventSourceSettings(max_concurrency=4, reconcile_interval=0.1)
        )
        service.start()
        try:
            yield World(
                boto3.client("sqs", region_name=REGION),
                boto3.client("lambda", region_name=REGION),
                invoker,
                service,
            )
        finally:
            service.stop()


def test_the_event_has_the_shape_lambda_gives_it(world: World) -> None:
    url, arn = world.queue("shape")
    world.function("shape-fn")
    world.sqs.send_message(
        QueueUrl=url,
        MessageBody='{"value": 1}',
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "reading"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x01\x02"},
        },
    )

    world.mapping(arn, "shape-fn")
    wait_until(lambda: len(world.invoker.events) == 1)
    event = world.invoker.events[0]
    record = event["Records"][0]

    SqsModel.model_validate(event)
    parsed = next(SQSEvent(event).records)
    assert parsed.json_body == {"value": 1}
    assert parsed.event_source_arn == arn
    assert parsed.attributes.approximate_receive_count == "1"
    assert parsed.message_attributes["kind"].string_value == "reading"  # type: ignore[union-attr]
    assert record["messageAttributes"]["blob"]["binaryValue"] == "AQI="
    assert (
        record["md5OfBody"]
        == hashlib.md5(b'{"value": 1}', usedforsecurity=False).hexdigest()
    )
    assert record["eventSource"] == "aws:sqs"
    assert record["awsRegion"] == REGION
    assert set(record["attributes"]) == {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    }


def test_a_successful_batch_is_deleted(world: World) -> None:
    url, arn = world.queue("success")
    world.function("success-fn")
    world.send(url, *[f"m{i}" for i in range(25)])

    world.mapping(arn, "success-fn", BatchSize=10)
    wait_until(
        lambda: world.counts(url) == (0, 0) and len(world.invoker.bodies()) == 25
    )

    assert sorted(world.invoker.bodies()) == sorted(f"m{i}" for i in range(25))
    assert all(len(event["Records"]) <= 10 for event in world.invoker.events)


def test_nothing_is_deleted_while_the_function_runs(world: World) -> None:
    url, arn = world.queue("in-flight")
    world.function("in-flight-fn")
    seen: list[tuple[int, int]] = []

    def look(event: dict[str, Any]) -> InvocationResult:
        seen.append(world.counts(url))
        return InvocationResult(200, b"{}")

    world.invoker.behaviour = look
    world.send(url, "a", "b", "c")
    world.mapping(arn, "in-flight-fn", BatchSize=10, MaximumBatchingWindowInSeconds=1)
    wait_until(lambda: world.counts(url) == (0, 0))

    assert seen == [(0, 3)]


def test_a_function_error_leaves_the_whole_batch_for_a_retry(world: World) -> None:
    url, arn = world.queue("errors", VisibilityTimeout="1")
    world.function("errors-fn")
    calls: list[int] = []

    def fail_once(event: dict[str, Any]) -> InvocationResult:
        calls.append(len(event["Records"]))
        if len(calls) == 1:
            return InvocationResult(200, b'{"errorMessage":"boom"}', "Unhandled")
        return InvocationResult(200, b"null")

    world.invoker.behaviour = fail_once
    world.send(url, "a", "b")
    uuid = world.mapping(arn, "errors-fn")
    wait_until(lambda: len(calls) == 1)
    result_after_failure = world.lam.get_event_source_mapping(UUID=uuid)
    wait_until(lambda: world.counts(url) == (0, 0))

    records = world.invoker.events[-1]["Records"]
    assert calls == [2, 2]
    assert {r["attributes"]["ApproximateReceiveCount"] for r in records} == {"2"}
    assert result_after_failure["LastProcessingResult"] == (
        "PROBLEM: Function call failed"
    )
    assert world.lam.get_event_source_mapping(UUID=uuid)["LastProcessingResult"] == "OK"


def test_reported_item_failures_alone_are_retried_then_moved_to_the_dlq(
    world: World,
) -> None:
    dlq_url, dlq_arn = world.queue("partial-dlq")
    policy = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}
    url, arn = world.queue(
        "partial", VisibilityTimeout="1", RedrivePolicy=json.dumps(policy)
    )
    world.function("partial-fn")

    def reject_poison(event: dict[str, Any]) -> InvocationResult:
        failures = [
            {"itemIdentifier": r["messageId"]}
            for r in event["Records"]
            if r["body"].startswith("poison")
        ]
        return InvocationResult(
            200, json.dumps({"batchItemFailures": failures}).encode()
        )

    world.invoker.behaviour = reject_poison
    world.send(url, "good-1", "poison-1", "good-2")
    world.mapping(arn, "partial-fn", FunctionResponseTypes=["ReportBatchItemFailures"])
    wait_until(lambda: world.counts(url) == (0, 0), timeout=15)
    moved = world.sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10)

    assert world.invoker.bodies().count("good-1") == 1
    assert world.invoker.bodies().count("good-2") == 1
    assert world.invoker.bodies().count("poison-1") == 2
    assert [m["Body"] for m in moved["Messages"]] == ["poison-1"]


@pytest.mark.parametrize(
    "answer",
    [
        b'{"batchItemFailures": [{"itemIdentifier": ""}]}',
        b'{"batchItemFailures": [{"itemIdentifier": null}]}',
        b'{"batchItemFailures": [{"itemIdentifier": "not-in-this-batch"}]}',
        b'{"batchItemFailures": [{"id": "wrong-key"}]}',
        b"not json",
    ],
)
def test_an_answer_lambda_cannot_trust_fails_the_whole_batch(
    world: World, answer: bytes
) -> None:
    url, arn = world.queue("untrusted", VisibilityTimeout="30")
    world.function("untrusted-fn")
    world.invoker.behaviour = lambda event: InvocationResult(200, answer)
    world.send(url, "a", "b")

    uuid = world.mapping(
        arn,
        "untrusted-fn",
        MaximumBatchingWindowInSeconds=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    wait_until(lambda: len(world.invoker.events) == 1)
    wait_until(
        lambda: (
            world.lam.get_event_source_mapping(UUID=uuid)
            .get("LastProcessingResult", "")
            .startswith("PROBLEM")
        )
    )

    assert world.counts(url) == (0, 2)


def test_an_empty_list_of_failures_is_a_full_success(world: World) -> None:
    url, arn = world.queue("no-failures")
    world.function("no-failures-fn")
    world.invoker.behaviour = lambda event: InvocationResult(
        200, b'{"batchItemFailures": []}'
    )
    world.send(url, "a", "b")

    world.mapping(
        arn, "no-failures-fn", FunctionResponseTypes=["ReportBatchItemFailures"]
    )

    wait_until(lambda: world.counts(url) == (0, 0))


def test_a_disabled_mapping_delivers_nothing_until_enabled(world: World) -> None:
    url, arn = world.queue("toggle")
    world.function("toggle-fn")
    uuid = world.mapping(arn, "toggle-fn", Enabled=False)
    world.send(url, "a")

    time.sleep(0.6)
    assert world.invoker.events == []
    assert world.lam.get_event_source_mapping(UUID=uuid)["State"] == "Disabled"
    world.lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    world.service.reconcile()
    wait_until(lambda: world.counts(url) == (0, 0))
    world.lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    world.service.reconcile()
    time.sleep(0.6)
    world.send(url, "b")
    time.sleep(0.6)

    assert world.invoker.bodies() == ["a"]
    assert world.counts(url) == (1, 0)


def test_a_deleted_mapping_stops_delivering(world: World) -> None:
    url, arn = world.queue("deleted")
    world.function("deleted-fn")
    uuid = world.mapping(arn, "deleted-fn")

    world.lam.delete_event_source_mapping(UUID=uuid)
    world.service.reconcile()
    time.sleep(0.6)
    world.send(url, "a")
    time.sleep(0.6)

    assert world.invoker.events == []


def test_the_batching_window_gathers_messages_into_one_batch(world: World) -> None:
    url, arn = world.queue("window")
    world.function("window-fn")
    world.mapping(arn, "window-fn", BatchSize=100, MaximumBatchingWindowInSeconds=2)

    for body in ("a", "b", "c"):
        world.send(url, body)
        time.sleep(0.2)
    wait_until(lambda: world.counts(url) == (0, 0))

    assert [len(e["Records"]) for e in world.invoker.events] == [3]


def test_a_deep_queue_gets_concurrent_batches_up_to_the_cap(world: World) -> None:
    url, arn = world.queue("deep")
    world.function("deep-fn")
    world.invoker.delay = 0.2
    world.send(url, *[str(i) for i in range(200)])

    world.mapping(arn, "deep-fn", BatchSize=10)
    wait_until(lambda: world.counts(url) == (0, 0), timeout=20)

    assert world.invoker.most_concurrent == 4
    assert len(world.invoker.bodies()) == 200


def test_maximum_concurrency_bounds_the_batches_in_flight(world: World) -> None:
    url, arn = world.queue("bounded")
    world.function("bounded-fn")
    world.invoker.delay = 0.2
    world.send(url, *[str(i) for i in range(60)])

    world.mapping(
        arn, "bounded-fn", BatchSize=10, ScalingConfig={"MaximumConcurrency": 2}
    )
    wait_until(lambda: world.counts(url) == (0, 0), timeout=20)

    assert world.invoker.most_concurrent == 2


def test_reserved_concurrency_bounds_the_batches_in_flight(world: World) -> None:
    url, arn = world.queue("reserved")
    world.function("reserved-fn")
    world.lam.put_function_concurrency(
        FunctionName="reserved-fn", ReservedConcurrentExecutions=1
    )
    world.invoker.delay = 0.1
    world.send(url, *[str(i) for i in range(40)])

    world.mapping(arn, "reserved-fn", BatchSize=10)
    wait_until(lambda: world.counts(url) == (0, 0), timeout=20)

    assert world.invoker.most_concurrent == 1


def test_a_mapping_from_a_cloudformation_template_with_parameters_delivers(
    world: World,
) -> None:
    world.function("stack-fn")
    template = {
        "Parameters": {
            "Batch": {"Type": "Number", "Default": "100"},
            "Window": {"Type": "Number", "Default": "1"},
            "Concurrency": {"Type": "Number", "Default": "2"},
            "On": {"Type": "String", "Default": "true"},
        },
        "Resources": {
            "Queue": {"Type": "AWS::SQS::Queue"},
            "Mapping": {
                "Type": "AWS::Lambda::EventSourceMapping",
                "Properties": {
                    "EventSourceArn": {"Fn::GetAtt": ["Queue", "Arn"]},
                    "FunctionName": "stack-fn",
                    "BatchSize": {"Ref": "Batch"},
                    "MaximumBatchingWindowInSeconds": {"Ref": "Window"},
                    "ScalingConfig": {"MaximumConcurrency": {"Ref": "Concurrency"}},
                    "Enabled": {"Ref": "On"},
                },
            },
        },
    }
    cloudformation = boto3.client("cloudformation", region_name=REGION)

    cloudformation.create_stack(StackName="mapped", TemplateBody=json.dumps(template))
    url = world.sqs.get_queue_url(
        QueueName=cloudformation.describe_stack_resource(
            StackName="mapped", LogicalResourceId="Queue"
        )["StackResourceDetail"]["PhysicalResourceId"].rsplit("/", 1)[-1]
    )["QueueUrl"]
    world.send(url, "from-a-stack")
    wait_until(lambda: world.counts(url) == (0, 0))
    mapping = world.lam.list_event_source_mappings(FunctionName="stack-fn")[
        "EventSourceMappings"
    ][0]

    assert world.invoker.bodies() == ["from-a-stack"]
    assert mapping["BatchSize"] == 100
    assert mapping["MaximumBatchingWindowInSeconds"] == 1
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 2}
    assert mapping["State"] == "Enabled"


def test_enabled_false_as_a_string_disables_a_mapping(world: World) -> None:
    url, arn = world.queue("string-flag")
    world.function("string-flag-fn")
    from moto.awslambda.models import lambda_backends

    uuid = world.mapping(arn, "string-flag-fn")
    lambda_backends["123456789012"][REGION]._event_source_mappings[
        uuid
    ].enabled = "false"
    world.service.reconcile()
    time.sleep(0.6)
    world.send(url, "a")
    time.sleep(0.6)

    assert world.invoker.events == []
    assert world.lam.get_event_source_mapping(UUID=uuid)["State"] == "Disabled"

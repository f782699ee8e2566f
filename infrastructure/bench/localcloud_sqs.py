"""Benchmark: the local cloud's SQS queue model and its Lambda event source poller.

1. Queue model, moto's stock `Queue` against the local cloud's `FastQueue`,
   in one process through boto3 (botocore and moto's SQS API in-process, no
   network): SendMessage calls per second, and messages per second received
   and deleted (ReceiveMessage of 10, then DeleteMessageBatch), with the
   queue already holding 0, 10,000 and 100,000 messages. Each cell runs for
   `--seconds` of CPU time (at least one call; moto's model may need seconds
   per call), and rates are per CPU second, so that other processes on a
   shared machine do not blur the comparison.

2. Delivery: an in-process local cloud with its real Lambda service, a no-op
   Python function and an SQS event source mapping (BatchSize `--batch-size`,
   batching window 1 s). The queue is filled while the mapping is disabled,
   then the mapping is enabled and the time to drain the queue is measured:
   messages per second delivered into the function and deleted.

Usage: python infrastructure/bench/localcloud_sqs.py [--messages 100000]
       [--depths 0,10000,100000] [--batch-size 100] [--skip-model]
Targets (issue 4): model cost independent of depth; at least 20,000
messages/s delivered in batches of 100 or more.
"""

from __future__ import annotations

import argparse
import io
import logging
import shutil
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "infrastructure" / "localcloud")]

ACCOUNT, REGION = "123456789012", "us-east-1"
BODY = '{"machine_id": "drill-001", "parameter": "Temperature", "value": 812.4}'
NO_OP = "def handler(event, context):\n    return None\n"


def _fill(queue_name: str, depth: int) -> None:
    """Puts `depth` messages in the queue without going through the API, so
    that filling moto's stock model does not take hours."""
    from moto.sqs.models import Message, sqs_backends

    from localcloud.sqs import FastQueue

    queue = sqs_backends[ACCOUNT][REGION].queues[queue_name]
    if isinstance(queue, FastQueue):
        backend = sqs_backends[ACCOUNT][REGION]
        for _ in range(depth):
            backend.send_message(queue_name, BODY)
        return
    for number in range(depth):
        message = Message(f"fill-{number}", BODY)
        message.mark_sent()
        queue._messages.append(message)


def _rate(operation: Callable[[], int], seconds: float) -> tuple[float, int]:
    """Runs `operation` (which returns how many items it handled) for about
    `seconds` of this process's CPU time, at least once; returns items per CPU
    second (other work on a shared machine does not count) and calls made."""
    done = calls = 0
    started = time.process_time()
    while True:
        done += operation()
        calls += 1
        elapsed = time.process_time() - started
        if elapsed >= seconds:
            return done / elapsed, calls


def measure_model(model: str, depth: int, seconds: float) -> tuple[float, float]:
    import boto3
    from moto import mock_aws

    from localcloud.sqs import install_queue_model, uninstall_queue_model

    if model == "fast":
        install_queue_model()
    else:
        uninstall_queue_model()
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        name = f"{model}-{depth}"
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        _fill(name, depth)

        def send() -> int:
            sqs.send_message(QueueUrl=url, MessageBody=BODY)
            return 1

        def receive_and_delete() -> int:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if messages:
                sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(messages)
                    ],
                )
            return len(messages)

        sends, _ = _rate(send, seconds)
        if depth == 0:
            _fill(name, 20_000 if model == "fast" else 2_000)  # something to receive
        received, _ = _rate(receive_and_delete, seconds)
    install_queue_model()
    return sends, received


def model_table(depths: list[int], seconds: float) -> None:
    print(
        "\n1. Queue model through boto3 in-process (moto's API, no network), "
        "per CPU second"
    )
    header = (
        f"{'depth':>8} | {'stock sends/s':>13} | {'fast sends/s':>12} | "
        f"{'stock recv+del msg/s':>20} | {'fast recv+del msg/s':>19}"
    )
    print(header)
    print("-" * len(header))
    for depth in depths:
        stock = measure_model("stock", depth, seconds)
        fast = measure_model("fast", depth, seconds)
        print(
            f"{depth:>8} | {stock[0]:>13.1f} | {fast[0]:>12.0f} | "
            f"{stock[1]:>20.1f} | {fast[1]:>19.0f}",
            flush=True,
        )


def _function_zip() -> bytes:
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", NO_OP)
    return code.getvalue()


def _depths(sqs: Any, url: str) -> tuple[int, int]:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)
    values = attributes["Attributes"]
    return int(values[names[0]]), int(values[names[1]])


def delivery(messages: int, batch_size: int, concurrency: int) -> None:
    import os

    from localcloud.config import CloudConfig

    os.environ["LOCALCLOUD_SQS_MAX_CONCURRENCY"] = str(concurrency)
    state = Path(tempfile.mkdtemp(prefix="bench-sqs-"))
    config = CloudConfig.from_env(
        port=0,
        state_dir=state,
        disabled_features="apigateway,s3website,cloudformation,iot,rds",
    )
    try:
        _drain(config, messages, batch_size, concurrency)
    finally:
        shutil.rmtree(state, ignore_errors=True)


def _drain(config: Any, messages: int, batch_size: int, concurrency: int) -> None:
    import boto3

    from localcloud.cloud import LocalCloud

    with LocalCloud(config) as cloud:
        client: Callable[[str], Any] = lambda service: boto3.client(  # noqa: E731
            service,
            endpoint_url=cloud.endpoint_url,
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",  # noqa: S106 - the local cloud's dummy
        )
        sqs, lam, iam = client("sqs"), client("lambda"), client("iam")
        role = iam.create_role(RoleName="bench", AssumeRolePolicyDocument="{}")
        lam.create_function(
            FunctionName="no-op",
            Runtime="python3.11",
            Role=role["Role"]["Arn"],
            Handler="app.handler",
            Code={"ZipFile": _function_zip()},
            Timeout=30,
        )
        lam.invoke(FunctionName="no-op", Payload=b"{}")  # warm one worker
        url = sqs.create_queue(
            QueueName="bench", Attributes={"VisibilityTimeout": "60"}
        )["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        uuid = lam.create_event_source_mapping(
            EventSourceArn=arn["Attributes"]["QueueArn"],
            FunctionName="no-op",
            BatchSize=batch_size,
            MaximumBatchingWindowInSeconds=1,
            Enabled=False,
        )["UUID"]
        filled = time.perf_counter()
        _fill("bench", messages)
        print(
            f"\n2. Delivery: {messages} messages queued in "
            f"{time.perf_counter() - filled:.1f} s; BatchSize {batch_size}, "
            f"up to {concurrency} batches in flight"
        )

        started = time.perf_counter()
        lam.update_event_source_mapping(UUID=uuid, Enabled=True)
        while _depths(sqs, url) != (0, 0):
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
        mapping = lam.get_event_source_mapping(UUID=uuid)
        print(
            f"   drained in {elapsed:.2f} s: {messages / elapsed:,.0f} messages/s "
            f"delivered and deleted (LastProcessingResult "
            f"{mapping.get('LastProcessingResult')})",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=5)
    parser.add_argument("--depths", default="0,10000,100000")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--skip-model", action="store_true")
    parser.add_argument("--skip-delivery", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if not args.skip_model:
        depths = [int(depth) for depth in args.depths.split(",") if depth]
        model_table(depths, args.seconds)
    if not args.skip_delivery:
        delivery(args.messages, args.batch_size, args.concurrency)
    return 0


if __name__ == "__main__":
    sys.exit(main())

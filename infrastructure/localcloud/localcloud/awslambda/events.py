"""Asynchronous invocations (`InvocationType=Event`), as AWS handles them.

An event is queued and run by one of a few dispatcher threads. When the
function fails (an error, a timeout, a crash) it is retried up to the
function's `MaximumRetryAttempts` (default 2); a throttled attempt waits and
does not count. After the last attempt, or when the event is older than
`MaximumEventAgeInSeconds`, it goes to the on-failure destination (SQS, SNS,
Lambda or EventBridge) of the function's event invoke config, else to its
`DeadLetterConfig` target (SQS or SNS); on success, to the on-success
destination. Destinations are called through the edge, like any AWS client.

Differs from AWS: the delays between attempts are `async_retry_delay` and twice
that (AWS: about 1 and 2 minutes); the queue lives in memory and is lost when
the local cloud stops.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from localcloud.awslambda.functions import FunctionLookupError, FunctionSpec

if TYPE_CHECKING:
    from localcloud.awslambda.service import LambdaService
    from localcloud.config import CloudConfig

logger = logging.getLogger(__name__)

DISPATCHERS = 4
THROTTLE_DELAY = 0.2


@dataclass
class AsyncEvent:
    function_arn: str
    version: str
    region: str
    payload: bytes
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    attempts: int = 0
    created: float = field(default_factory=time.time)


class EventQueue:
    def __init__(self, service: LambdaService, config: CloudConfig) -> None:
        self._service = service
        self._retry_delay = config.async_retry_delay
        self._ready: queue.Queue[AsyncEvent | None] = queue.Queue()
        self._delayed: list[tuple[float, int, AsyncEvent]] = []
        self._counter = itertools.count()
        self._lock = threading.Condition()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._clients: dict[tuple[str, str], Any] = {}
        self._clients_lock = threading.Lock()

    def submit(self, spec: FunctionSpec, payload: bytes) -> str:
        event = AsyncEvent(spec.arn, spec.version, spec.region, payload)
        self._ready.put(event)
        return event.request_id

    def start(self) -> None:
        self._stopping.clear()
        self._threads = [
            threading.Thread(
                target=self._dispatch, name=f"lambda-async-{n}", daemon=True
            )
            for n in range(DISPATCHERS)
        ]
        self._threads.append(
            threading.Thread(
                target=self._schedule, name="lambda-async-timer", daemon=True
            )
        )
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stopping.set()
        for _ in range(DISPATCHERS):
            self._ready.put(None)
        with self._lock:
            self._lock.notify_all()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []

    def clear(self) -> None:
        with self._lock:
            self._delayed.clear()
        while True:
            try:
                self._ready.get_nowait()
            except queue.Empty:
                return

    def _later(self, event: AsyncEvent, delay: float) -> None:
        with self._lock:
            heapq.heappush(
                self._delayed, (time.monotonic() + delay, next(self._counter), event)
            )
            self._lock.notify()

    def _schedule(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                now = time.monotonic()
                while self._delayed and self._delayed[0][0] <= now:
                    self._ready.put(heapq.heappop(self._delayed)[2])
                wait = self._delayed[0][0] - now if self._delayed else 1.0
                self._lock.wait(timeout=max(wait, 0.01))

    def _dispatch(self) -> None:
        while True:
            event = self._ready.get()
            if event is None or self._stopping.is_set():
                return
            try:
                self._attempt(event)
            except Exception:
                logger.exception("asynchronous invocation %s failed", event.request_id)

    def _attempt(self, event: AsyncEvent) -> None:
        from localcloud.awslambda.service import InvokeError

        try:
            spec = self._service.catalog.spec(
                event.function_arn, event.version, event.region
            )
        except FunctionLookupError:
            logger.warning(
                "dropping asynchronous event %s: %s:%s no longer exists",
                event.request_id,
                event.function_arn,
                event.version,
            )
            return
        if time.time() - event.created > spec.max_event_age:
            self._failed(spec, event, "EventAgeExceeded", None)
            return
        event.attempts += 1
        try:
            result = self._service.run(spec, event.payload)
        except InvokeError as error:
            if error.status == 429:
                event.attempts -= 1
                self._later(event, THROTTLE_DELAY)
                return
            logger.warning("asynchronous invocation of %s failed: %s", spec.name, error)
            response: dict[str, Any] = {"statusCode": error.status}
            payload = error.body
        else:
            if result.function_error is None:
                if spec.on_success:
                    record = self._record(spec, event, "Success", result.payload, None)
                    self._send(spec.on_success, record, event, "Success", spec)
                return
            response = {"statusCode": 200, "functionError": result.function_error}
            payload = result.payload
        if event.attempts <= spec.max_retry_attempts:
            delay = self._retry_delay * event.attempts
            logger.info(
                "asynchronous invocation %s of %s failed (attempt %d); "
                "retrying in %.1f s",
                event.request_id,
                spec.name,
                event.attempts,
                delay,
            )
            self._later(event, delay)
            return
        self._failed(spec, event, "RetriesExhausted", (response, payload))

    def _failed(
        self,
        spec: FunctionSpec,
        event: AsyncEvent,
        condition: str,
        failure: tuple[dict[str, Any], bytes] | None,
    ) -> None:
        response, payload = failure or ({"statusCode": 200}, b"")
        target = spec.on_failure or spec.dead_letter_target
        if target is None:
            logger.warning(
                "asynchronous invocation %s of %s failed (%s, %d attempts) and the "
                "function has no on-failure destination or dead-letter queue: "
                "the event is discarded",
                event.request_id,
                spec.name,
                condition,
                event.attempts,
            )
            return
        if spec.on_failure:
            record = self._record(spec, event, condition, payload, response)
            self._send(spec.on_failure, record, event, condition, spec)
        else:
            self._send_dead_letter(target, event, payload, spec)

    def _record(
        self,
        spec: FunctionSpec,
        event: AsyncEvent,
        condition: str,
        payload: bytes,
        response: dict[str, Any] | None,
    ) -> dict[str, Any]:
        context = {"statusCode": 200, "executedVersion": spec.version}
        context.update(response or {})
        return {
            "version": "1.0",
            "timestamp": datetime.now(UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "requestContext": {
                "requestId": event.request_id,
                "functionArn": spec.qualified_arn,
                "condition": condition,
                "approximateInvokeCount": event.attempts,
            },
            "requestPayload": _json_or_text(event.payload),
            "responseContext": context,
            "responsePayload": _json_or_text(payload),
        }

    def _send(
        self,
        target: str,
        record: dict[str, Any],
        event: AsyncEvent,
        condition: str,
        spec: FunctionSpec,
    ) -> None:
        body = json.dumps(record)
        service, region, account, resource = _parse_arn(target)
        try:
            if service == "sqs":
                sqs = self._client("sqs", region)
                url = sqs.get_queue_url(
                    QueueName=resource, QueueOwnerAWSAccountId=account
                )
                sqs.send_message(QueueUrl=url["QueueUrl"], MessageBody=body)
            elif service == "sns":
                self._client("sns", region).publish(TopicArn=target, Message=body)
            elif service == "lambda":
                self._client("lambda", region).invoke(
                    FunctionName=target, InvocationType="Event", Payload=body.encode()
                )
            elif service == "events":
                kind = "Success" if condition == "Success" else "Failure"
                self._client("events", region).put_events(
                    Entries=[
                        {
                            "Source": "lambda",
                            "DetailType": f"Lambda Function Invocation Result - {kind}",
                            "Detail": body,
                            "EventBusName": target,
                        }
                    ]
                )
            else:
                logger.warning(
                    "destination %s of %s is not supported", target, spec.name
                )
                return
        except Exception:
            logger.exception("could not send event %s to %s", event.request_id, target)
            return
        logger.info(
            "asynchronous invocation %s of %s (%s) sent to %s",
            event.request_id,
            spec.name,
            condition,
            target,
        )

    def _send_dead_letter(
        self, target: str, event: AsyncEvent, payload: bytes, spec: FunctionSpec
    ) -> None:
        service, region, account, resource = _parse_arn(target)
        message = _error_message(payload)
        attributes = {
            "RequestID": {"DataType": "String", "StringValue": event.request_id},
            "ErrorCode": {"DataType": "Number", "StringValue": "200"},
            "ErrorMessage": {"DataType": "String", "StringValue": message},
        }
        body = event.payload.decode("utf-8", "replace") or "{}"
        try:
            if service == "sqs":
                sqs = self._client("sqs", region)
                url = sqs.get_queue_url(
                    QueueName=resource, QueueOwnerAWSAccountId=account
                )
                sqs.send_message(
                    QueueUrl=url["QueueUrl"],
                    MessageBody=body,
                    MessageAttributes=attributes,
                )
            elif service == "sns":
                self._client("sns", region).publish(
                    TopicArn=target, Message=body, MessageAttributes=attributes
                )
            else:
                logger.warning(
                    "dead-letter target %s of %s is not supported", target, spec.name
                )
                return
        except Exception:
            logger.exception("could not send event %s to %s", event.request_id, target)
            return
        logger.info(
            "asynchronous invocation %s of %s failed %d times; sent to dead-letter %s",
            event.request_id,
            spec.name,
            event.attempts,
            target,
        )

    def _client(self, service: str, region: str) -> Any:
        import boto3

        with self._clients_lock:
            client = self._clients.get((service, region))
            if client is None:
                client = boto3.client(
                    service,
                    region_name=region,
                    endpoint_url=self._service.endpoint_url,
                    aws_access_key_id="test",
                    aws_secret_access_key="test",  # noqa: S106 - the local cloud's dummy
                )
                self._clients[(service, region)] = client
            return client


def _parse_arn(arn: str) -> tuple[str, str, str, str]:
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return "", "", "", ""
    return parts[2], parts[3], parts[4], parts[5]


def _json_or_text(payload: bytes) -> Any:
    if not payload:
        return None
    try:
        return json.loads(payload)
    except ValueError:
        return payload.decode("utf-8", "replace")


def _error_message(payload: bytes) -> str:
    document = _json_or_text(payload)
    if isinstance(document, dict):
        return str(document.get("errorMessage") or document.get("message") or document)
    return str(document)[:1000]

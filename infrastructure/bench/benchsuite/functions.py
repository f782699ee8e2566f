"""The functions through the local cloud: cold and warm invocations of the
ingest and API functions (boto3 Invoke, and HTTP through API Gateway for the
API), and what the SQS batch size does to ingestion throughput.

A cold start is forced the way AWS causes one: a configuration change
(UpdateFunctionConfiguration with one more environment variable) retires the
warm workers, so the next invocation starts a new one (process start, the
runtime client, the handler's imports and first database connection). Warm
invocations reuse that worker. The deployed configuration is restored after.
"""

from __future__ import annotations

import http.client
import json
import statistics
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchsuite.ingest import run_simulator, wait_stored
from benchsuite.stack import BenchError, Stack, telemetry_message


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def stats_ms(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {
        "n": len(ms),
        "p50": percentile(ms, 50),
        "p95": percentile(ms, 95),
        "p99": percentile(ms, 99),
        "mean": statistics.fmean(ms),
        "max": max(ms),
    }


@dataclass
class FunctionLatency:
    name: str  # e.g. "ingest (Invoke)"
    cold_ms: list[float] = field(default_factory=list)
    warm: dict[str, float] = field(default_factory=dict)


class HttpClient:
    """One keep-alive HTTP connection, as a dashboard or API client holds."""

    def __init__(self, base_url: str) -> None:
        parsed = urllib.parse.urlparse(base_url)
        self._host = parsed.hostname or "127.0.0.1"
        self._port = parsed.port or 80
        self._prefix = parsed.path.rstrip("/")
        self._conn = http.client.HTTPConnection(self._host, self._port, timeout=60)

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            self._conn.request("GET", self._prefix + path)
            response = self._conn.getresponse()
        except (OSError, http.client.HTTPException):
            self._conn.close()
            self._conn = http.client.HTTPConnection(self._host, self._port, timeout=60)
            self._conn.request("GET", self._prefix + path)
            response = self._conn.getresponse()
        return response.status, response.read()

    def timed_get(self, path: str) -> float:
        started = time.perf_counter()
        status, body = self.get(path)
        elapsed = time.perf_counter() - started
        if status != 200:
            raise BenchError(f"GET {path} answered {status}: {body[:300]!r}")
        return elapsed

    def close(self) -> None:
        self._conn.close()


def _sqs_event(sequence: int) -> dict[str, Any]:
    """What the mapping delivers: one record holding a telemetry message as the
    IoT rule forwards it (with received_at), stamped now so that it is stored."""
    body = {
        **telemetry_message("drill-998", sequence),
        "received_at": int(time.time() * 1000),
    }
    arn = "arn:aws:sqs:us-east-1:123456789012:bench"
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "bench",
                "body": json.dumps(body),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1577836800000",
                    "SenderId": "bench",
                    "ApproximateFirstReceiveTimestamp": "1577836800000",
                },
                "messageAttributes": {},
                "md5OfBody": "0" * 32,
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": "us-east-1",
            }
        ]
    }


def _proxy_event(path: str) -> dict[str, Any]:
    return {
        "resource": path,
        "path": path,
        "httpMethod": "GET",
        "headers": {"Accept": "application/json"},
        "multiValueHeaders": {"Accept": ["application/json"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": "GET",
            "path": f"/dev{path}",
            "stage": "dev",
            "apiId": "bench",
            "requestId": "bench",
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": None,
        "isBase64Encoded": False,
    }


def _force_cold(lam: Any, name: str, marker: str) -> dict[str, str]:
    """Add an environment variable: the next invocation starts a new worker.
    Returns the variables as they were."""
    config = lam.get_function_configuration(FunctionName=name)
    variables = dict(config.get("Environment", {}).get("Variables", {}))
    original = {k: v for k, v in variables.items() if k != "BENCH_COLD_START"}
    lam.update_function_configuration(
        FunctionName=name,
        Environment={"Variables": {**original, "BENCH_COLD_START": marker}},
    )
    return original


def _invoke_timer(
    lam: Any, name: str, event: Callable[[int], dict[str, Any]]
) -> Callable[[], float]:
    counter = iter(range(1, 10_000_000))

    def call() -> float:
        payload = json.dumps(event(next(counter))).encode()
        started = time.perf_counter()
        response = lam.invoke(FunctionName=name, Payload=payload)
        body = response["Payload"].read()
        elapsed = time.perf_counter() - started
        if response.get("FunctionError") or b'batchItemFailures": [{' in body:
            raise BenchError(f"{name} failed: {body[:500]!r}")
        return elapsed

    return call


def function_latencies(stack: Stack, colds: int, warms: int) -> list[FunctionLatency]:
    """Cold and warm latency: ingest and API through Invoke, API through HTTP."""
    lam = stack.client("lambda")
    ingest = stack.outputs["IngestFunctionName"]
    api = stack.outputs["ApiFunctionName"]
    http = HttpClient(stack.api_url)
    cases: list[tuple[FunctionLatency, str, Callable[[], float]]] = [
        (
            FunctionLatency("ingest: Invoke, SQS event of 1 record"),
            ingest,
            _invoke_timer(lam, ingest, _sqs_event),
        ),
        (
            FunctionLatency("API: Invoke, proxy event GET /health"),
            api,
            _invoke_timer(lam, api, lambda _: _proxy_event("/health")),
        ),
        (
            FunctionLatency("API: HTTP GET /health through API Gateway"),
            api,
            lambda: http.timed_get("/health"),
        ),
    ]
    originals: dict[str, dict[str, str]] = {}
    try:
        for result, name, call in cases:
            for attempt in range(colds):
                original = _force_cold(lam, name, f"{uuid.uuid4()}")
                originals.setdefault(name, original)
                result.cold_ms.append(call() * 1000)
                del attempt
            for _ in range(min(20, warms)):
                call()
            result.warm = stats_ms([call() for _ in range(warms)])
    finally:
        http.close()
        for name, variables in originals.items():
            lam.update_function_configuration(
                FunctionName=name, Environment={"Variables": variables}
            )
    return [case[0] for case in cases]


@dataclass
class BatchPoint:
    batch_size: int
    concurrency: int
    messages: int
    stored_per_second: float
    drain_seconds: float


def batch_size_sweep(
    stack: Stack,
    workdir: Path,
    sizes: list[int],
    concurrencies: list[int],
    messages: int,
    restore: tuple[int, int, int],
) -> list[BatchPoint]:
    """For each batch size: fill the queue with the mapping disabled (the
    simulator through the IoT rule, one reading per message), then enable it
    and time the drain into PostgreSQL (first to last commit)."""
    points = []
    try:
        for concurrency in concurrencies:
            for size in sizes:
                stack.wait_queue_empty()
                stack.truncate()
                stack.set_ingest_mapping(size, 1, concurrency, enabled=False)
                summary_path = workdir / f"sweep-{size}-{concurrency}.json"
                simulator = run_simulator(
                    stack,
                    summary_path,
                    batch=False,
                    machines=10,
                    duration=None,
                    count=messages,
                )
                if simulator.wait(timeout=600) != 0:
                    raise BenchError("the simulator failed during the batch sweep")
                _wait_depth(stack, messages)
                started = time.monotonic()
                stack.set_ingest_mapping(size, 1, concurrency, enabled=True)
                with stack.connect() as conn:
                    stored = wait_stored(conn, "readings", messages)
                    drain = time.monotonic() - started
                    row = conn.execute(
                        "SELECT extract(epoch FROM max(pg_xact_commit_timestamp(xmin))"
                        " - min(pg_xact_commit_timestamp(xmin))) FROM readings"
                    ).fetchone()
                span = float(row[0]) if row and row[0] else drain
                points.append(
                    BatchPoint(size, concurrency, stored, stored / span, drain)
                )
    finally:
        stack.set_ingest_mapping(*restore, enabled=True)
    return points


def _wait_depth(stack: Stack, messages: int, timeout: float = 300) -> None:
    sqs = stack.client("sqs")
    url = stack.outputs["TelemetryQueueUrl"]
    deadline = time.monotonic() + timeout
    while True:
        attributes = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        if int(attributes["ApproximateNumberOfMessages"]) >= messages:
            return
        if time.monotonic() > deadline:
            raise BenchError(
                f"the queue holds {attributes} of {messages} messages after "
                f"{timeout:.0f} s"
            )
        time.sleep(0.2)

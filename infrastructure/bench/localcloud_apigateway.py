"""Benchmark: an API Gateway request to a no-op Lambda function, end to end.

Starts a local cloud in its own process on a free port (`python -m localcloud
start --port 0`), deploys a REST API whose `/{proxy+}` resource has an
AWS_PROXY integration to a no-op function, then sends sequential GETs from
this process over one keep-alive HTTP connection and reports the latency
percentiles for:

- the execute-api host form `http://{api}.execute-api.localhost:{port}/{stage}/...`;
- the path form `/restapis/{api}/{stage}/_user_request_/...`;
- for scale, a warm boto3 `Invoke` of the same function (what the proxy adds
  on top of the Lambda round trip is the difference).

Run: `.venv/bin/python infrastructure/bench/localcloud_apigateway.py [--requests N]`.
Target (issue 3): p50 <= 4 ms through the execute-api URL.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[2]
NOOP = "def handler(event, context):\n    return {'statusCode': 200, 'body': 'ok'}\n"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def client(endpoint_url: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",  # noqa: S106 - the local cloud's dummy
        config=Config(retries={"max_attempts": 0}),
    )


def start_cloud(
    state_dir: Path, disable: str | None
) -> tuple[subprocess.Popen[bytes], str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "infrastructure" / "localcloud")
    command = [sys.executable, "-m", "localcloud", "start", "--port", "0"]
    command += ["--state-dir", str(state_dir)]
    if disable:
        command += ["--disable", disable]
    state_dir.mkdir(parents=True, exist_ok=True)
    log = (state_dir / "bench.log").open("ab")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    pid_file = state_dir / "localcloud.pid"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the local cloud exited; see {state_dir / 'bench.log'}")
        try:
            return process, json.loads(pid_file.read_text())["endpoint_url"]
        except (OSError, ValueError, KeyError):
            time.sleep(0.05)
    process.kill()
    raise SystemExit("the local cloud did not start within 60 s")


def deploy(endpoint_url: str) -> tuple[str, str]:
    """A no-op function behind `/{proxy+}` on stage `bench`: (api id, function)."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as package:
        package.writestr("app.py", NOOP)
    role = client(endpoint_url, "iam").create_role(
        RoleName=f"bench-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument=TRUST
    )
    function = client(endpoint_url, "lambda").create_function(
        FunctionName=f"bench-{uuid.uuid4().hex[:10]}",
        Runtime=f"python{sys.version_info.major}.{sys.version_info.minor}",
        Role=role["Role"]["Arn"],
        Handler="app.handler",
        Code={"ZipFile": archive.getvalue()},
    )
    apigateway = client(endpoint_url, "apigateway")
    api_id = apigateway.create_rest_api(name="bench")["id"]
    root = apigateway.get_resources(restApiId=api_id)["items"][0]["id"]
    proxy = apigateway.create_resource(
        restApiId=api_id, parentId=root, pathPart="{proxy+}"
    )["id"]
    apigateway.put_method(
        restApiId=api_id, resourceId=proxy, httpMethod="ANY", authorizationType="NONE"
    )
    apigateway.put_integration(
        restApiId=api_id,
        resourceId=proxy,
        httpMethod="ANY",
        type="AWS_PROXY",
        integrationHttpMethod="POST",
        uri="arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
        f"{function['FunctionArn']}/invocations",
    )
    apigateway.create_deployment(restApiId=api_id, stageName="bench")
    return api_id, function["FunctionName"]


def http_latencies(port: int, host: str, path: str, count: int) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Host": f"{host}:{port}", "User-Agent": "bench"}
    timings: list[float] = []
    try:
        for index in range(count + 50):  # the first 50 warm the worker up
            started = time.perf_counter()
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            body = response.read()
            elapsed = (time.perf_counter() - started) * 1000
            if response.status != 200 or body != b"ok":
                raise SystemExit(f"unexpected answer {response.status}: {body[:200]!r}")
            if index >= 50:
                timings.append(elapsed)
    finally:
        connection.close()
    return timings


def invoke_latencies(endpoint_url: str, function: str, count: int) -> list[float]:
    lambda_client = client(endpoint_url, "lambda")
    timings: list[float] = []
    for index in range(count + 50):
        started = time.perf_counter()
        lambda_client.invoke(FunctionName=function, Payload=b"{}")
        if index >= 50:
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests (2000)")
    parser.add_argument("--disable", help="features not to start, e.g. iot,rds")
    args = parser.parse_args()

    state_dir = Path(tempfile.mkdtemp(prefix="localcloud-bench-"))
    process, endpoint_url = start_cloud(state_dir, args.disable)
    port = int(endpoint_url.rsplit(":", 1)[1])
    try:
        api_id, function = deploy(endpoint_url)
        by_host = http_latencies(
            port, f"{api_id}.execute-api.localhost", "/bench/items/1", args.requests
        )
        by_path = http_latencies(
            port,
            "localhost",
            f"/restapis/{api_id}/bench/_user_request_/items/1",
            args.requests,
        )
        invoke = invoke_latencies(endpoint_url, function, args.requests)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(state_dir, ignore_errors=True)

    print(f"{'request':<36} {'p50':>8} {'p90':>8} {'p99':>8} {'req/s':>8}  target")
    for label, timings, target in (
        ("GET execute-api host form", by_host, "p50 <= 4 ms"),
        ("GET /restapis/.../_user_request_", by_path, ""),
        ("boto3 Invoke (for scale)", invoke, ""),
    ):
        p50, p90, p99 = (percentile(timings, f) for f in (0.5, 0.9, 0.99))
        rate = 1000 * len(timings) / sum(timings)
        verdict = ("yes" if p50 <= 4 else "NO") if target else ""
        print(
            f"{label:<36} {p50:>6.2f}ms {p90:>6.2f}ms {p99:>6.2f}ms {rate:>8.0f}"
            f"  {target} {verdict}"
        )
    print("(boto3's own cost, about 1 ms a call, is part of the Invoke row)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark of the local cloud's Lambda execution, measured with boto3.

Starts a local cloud in its own process on a free port (`python -m localcloud
start --port 0`), then measures from this process (and from caller processes):

- warm `Invoke` of a no-op function: p50 and p99 (targets 3 ms and 15 ms);
- cold start of a dependency-free function, first invoke after CreateFunction
  (target 300 ms);
- throughput of 8 concurrent callers (8 processes) against 1 (target 2x),
  alternating the two for a few rounds and comparing the medians.

It also splits the CPU time of one warm call between the caller (boto3), the
local cloud's process and the function's worker. With a no-op function a single
caller keeps about one core busy, so on N cores no number of callers can exceed
N x (single-caller wall time) / (CPU per call): the ceiling is printed beside
the 8-caller figure.

Run: `.venv/bin/python infrastructure/bench/localcloud_lambda.py [--invokes N]`.
Figures vary with the machine's load; run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

import boto3
import psutil
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[2]
NOOP = "def handler(event, context):\n    return None\n"
ROLE_POLICY = json.dumps(
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


def client(endpoint_url: str, service: str = "lambda") -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",  # noqa: S106 - the local cloud's dummy
        config=Config(retries={"max_attempts": 0}, max_pool_connections=20),
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
    log = (state_dir / "bench.log").open("ab")
    state_dir.mkdir(parents=True, exist_ok=True)
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


def zipped(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


def create_function(endpoint_url: str, role: str, source: str) -> str:
    name = f"bench-{uuid.uuid4().hex[:10]}"
    client(endpoint_url).create_function(
        FunctionName=name,
        Runtime=f"python{sys.version_info.major}.{sys.version_info.minor}",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": zipped(source)},
        Timeout=30,
    )
    return name


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * fraction), len(ordered) - 1)]


def warm_latencies(endpoint_url: str, name: str, count: int) -> list[float]:
    lam = client(endpoint_url)
    for _ in range(50):
        lam.invoke(FunctionName=name)["Payload"].read()
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        lam.invoke(FunctionName=name)["Payload"].read()
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def cpu_split(
    endpoint_url: str, name: str, cloud_pid: int, count: int = 1000
) -> dict[str, float]:
    """CPU milliseconds per warm call: caller, local cloud process, workers;
    and the wall milliseconds per call of this single caller."""

    def cpu(processes: list[psutil.Process]) -> float:
        return sum(sum(p.cpu_times()[:2]) for p in processes)

    lam = client(endpoint_url)
    for _ in range(50):
        lam.invoke(FunctionName=name)["Payload"].read()
    cloud = psutil.Process(cloud_pid)
    workers = cloud.children(recursive=True)
    before = (sum(os.times()[:2]), cpu([cloud]), cpu(workers), time.perf_counter())
    for _ in range(count):
        lam.invoke(FunctionName=name)["Payload"].read()
    after = (sum(os.times()[:2]), cpu([cloud]), cpu(workers), time.perf_counter())
    caller, server, worker, wall = (
        (b - a) * 1000 / count for a, b in zip(before, after, strict=True)
    )
    return {"caller": caller, "cloud": server, "worker": worker, "wall": wall}


def cold_starts(endpoint_url: str, role: str, count: int) -> list[float]:
    lam = client(endpoint_url)
    results = []
    for n in range(count):
        name = create_function(endpoint_url, role, NOOP + f"# variant {n}\n")
        started = time.perf_counter()
        response = lam.invoke(FunctionName=name)
        response["Payload"].read()
        results.append((time.perf_counter() - started) * 1000)
        assert "FunctionError" not in response
    return results


def _caller(endpoint_url: str, name: str, seconds: float, queue: Any) -> None:
    lam = client(endpoint_url)
    for _ in range(20):
        lam.invoke(FunctionName=name)["Payload"].read()
    queue.put("ready")
    start_at = queue_wait_start(queue)
    while time.time() < start_at:
        time.sleep(0.001)
    done = 0
    deadline = start_at + seconds
    while time.time() < deadline:
        lam.invoke(FunctionName=name)["Payload"].read()
        done += 1
    queue.put(done)


def queue_wait_start(queue: Any) -> float:
    return float(os.environ.get("_BENCH_START_AT", "0")) or time.time()


def throughput(endpoint_url: str, name: str, callers: int, seconds: float) -> float:
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    os.environ["_BENCH_START_AT"] = str(time.time() + 2.0 + 0.3 * callers)
    processes = [
        context.Process(target=_caller, args=(endpoint_url, name, seconds, queue))
        for _ in range(callers)
    ]
    for process in processes:
        process.start()
    results = [queue.get(timeout=120) for _ in range(2 * callers)]
    for process in processes:
        process.join()
    counts = [r for r in results if isinstance(r, int)]
    return sum(counts) / seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invokes", type=int, default=2000, help="warm invokes (2000)")
    parser.add_argument("--cold", type=int, default=5, help="cold starts measured (5)")
    parser.add_argument(
        "--seconds", type=float, default=3.0, help="throughput window (3 s)"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating 1/8-caller rounds (3)"
    )
    parser.add_argument("--disable", help="features not to start, e.g. iot,rds")
    args = parser.parse_args()

    state_dir = Path(tempfile.mkdtemp(prefix="localcloud-bench-"))
    process, endpoint_url = start_cloud(state_dir, args.disable)
    try:
        iam = client(endpoint_url, "iam")
        role = iam.create_role(RoleName="bench", AssumeRolePolicyDocument=ROLE_POLICY)
        role_arn = role["Role"]["Arn"]
        name = create_function(endpoint_url, role_arn, NOOP)

        warm = warm_latencies(endpoint_url, name, args.invokes)
        split = cpu_split(endpoint_url, name, process.pid)
        cold = cold_starts(endpoint_url, role_arn, args.cold)
        # Alternate the two so that a change in the machine's other load hits
        # both alike; the medians are compared.
        singles, eights = [], []
        for _ in range(args.rounds):
            singles.append(throughput(endpoint_url, name, 1, args.seconds))
            eights.append(throughput(endpoint_url, name, 8, args.seconds))
        single = statistics.median(singles)
        eight = statistics.median(eights)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(state_dir, ignore_errors=True)

    rows = [
        (
            "warm Invoke p50",
            f"{percentile(warm, 0.5):.2f} ms",
            "<= 3 ms",
            percentile(warm, 0.5) <= 3,
        ),
        (
            "warm Invoke p99",
            f"{percentile(warm, 0.99):.2f} ms",
            "<= 15 ms",
            percentile(warm, 0.99) <= 15,
        ),
        (
            "cold start (median)",
            f"{statistics.median(cold):.0f} ms",
            "<= 300 ms",
            statistics.median(cold) <= 300,
        ),
        ("cold start (max)", f"{max(cold):.0f} ms", "", True),
        ("1 caller", f"{single:.0f} invokes/s", "", True),
        ("8 callers", f"{eight:.0f} invokes/s", ">= 2x", eight >= 2 * single),
        (
            "8 callers / 1 caller",
            f"{eight / single:.2f}x",
            ">= 2x",
            eight >= 2 * single,
        ),
    ]
    print(f"{'measure':<22} {'value':>16}  {'target':<10} ok")
    for label, value, target, ok in rows:
        print(f"{label:<22} {value:>16}  {target:<10} {'yes' if ok else 'NO'}")
    per_call = split["caller"] + split["cloud"] + split["worker"]
    cores = os.cpu_count() or 1
    ceiling = cores * split["wall"] / per_call
    print(
        f"\nCPU per warm call: caller (boto3) {split['caller']:.2f} ms, local cloud "
        f"{split['cloud']:.2f} ms, worker {split['worker']:.2f} ms; total "
        f"{per_call:.2f} ms against {split['wall']:.2f} ms of wall time.\n"
        f"On {cores} cores, callers on this machine can reach at most "
        f"{ceiling:.2f}x one caller (cores x wall / CPU per call); measured "
        f"{eight / single:.2f}x."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

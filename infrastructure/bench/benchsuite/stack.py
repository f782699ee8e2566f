"""The real stack, deployed by `python -m deploy up` into a temporary state
folder on free ports, and what the benchmarks need from it.

Every figure of the suite is taken against this one deployment, the way a user
runs it (`make deploy-local`, backend only: DASHBOARD=0, unless the dashboard is
asked for: `dashboard=True`, or DASHBOARD=1 in `env` before a redeploy). The
benchmark owns the
stack's database: it truncates the telemetry tables between runs so that each
run's accounting sees exactly the readings it sent.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import psutil
import psycopg
from botocore.config import Config

logger = logging.getLogger(__name__)

REPO_DIR = Path(__file__).resolve().parents[3]
STACK_NAME = "orchestralink"
TELEMETRY_TABLES = "readings, rollups_minute, latest_readings, alerts, machines"


class BenchError(Exception):
    """The benchmark could not run a step; the message says which and why."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def telemetry_message(machine_id: str, sequence: int) -> dict[str, Any]:
    """One reading as the simulator publishes it, stamped now (ingestion
    refuses readings older than 30 days); the sequence keeps timestamps apart."""
    epoch_ms = int(time.time() * 1000) + sequence
    moment = time.gmtime(epoch_ms // 1000)
    return {
        "machine_id": machine_id,
        "machine_type": "Drilling",
        "parameter": "Temperature",
        "value": 500.0,
        "unit": "°C",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", moment)
        + f".{epoch_ms % 1000:03d}Z",
        "sequence": sequence,
    }


@dataclass
class Stack:
    """A deployed stack in `state_dir`; `close()` takes it down and deletes it."""

    state_dir: Path
    env: dict[str, str]
    outputs: dict[str, str] = field(default_factory=dict)
    endpoints: dict[str, str] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)
    db_secret: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def prepare(
        cls, parameters: str = "", machines: int = 3, dashboard: bool = False
    ) -> Stack:
        """Settings for a fresh state folder; nothing is started yet."""
        state_dir = Path(tempfile.mkdtemp(prefix="orchestralink-bench-"))
        env = dict(os.environ)
        env.update(
            ORCHESTRALINK_STATE=str(state_dir),
            EDGE_PORT=str(free_port()),
            MQTT_PORT=str(free_port()),
            MQTT_WS_PORT=str(free_port()),
            MACHINES=str(machines),
            DASHBOARD="1" if dashboard else "0",
            STACK_NAME=STACK_NAME,
            STACK_PARAMETERS=parameters,
        )
        return cls(state_dir=state_dir, env=env)

    # -- deploy commands -----------------------------------------------------

    def deploy(self, command: str = "up", timeout: float = 600) -> float:
        """Run `python -m deploy <command>`; returns its wall time in seconds."""
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "deploy", command],
            cwd=REPO_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        elapsed = time.perf_counter() - started
        if result.returncode != 0:
            raise BenchError(
                f"`python -m deploy {command}` failed ({result.returncode}):\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        if command == "up":
            self._load_outputs()
        return elapsed

    def simulator(
        self, machines: int, seed: int, *options: str, quiet: bool = False
    ) -> subprocess.Popen[bytes]:
        """The simulator as its own process (as `make deploy-local` starts it),
        publishing as the `simulator` user to this stack's broker."""
        command = [
            sys.executable, "-m", "simulator",
            "--host", "127.0.0.1", "--port", str(self.mqtt_port),
            "--username", "simulator",
            "--machines", str(machines), "--seed", str(seed),
            "--log-level", "WARNING",
            *options,
        ]  # fmt: skip
        env = dict(os.environ, MQTT_PASSWORD=self.passwords["simulator"])
        return subprocess.Popen(
            command,
            cwd=REPO_DIR,
            env=env,
            stdout=subprocess.DEVNULL if quiet else None,
        )

    def close(self) -> None:
        """Stop everything this stack started and delete its state folder."""
        pid_file = self.state_dir / "supervisord.pid"
        pid = int(pid_file.read_text()) if pid_file.exists() else None
        try:
            subprocess.run(
                [sys.executable, "-m", "deploy", "down"],
                cwd=REPO_DIR,
                env=self.env,
                capture_output=True,
                timeout=180,
                check=False,
            )
        except subprocess.TimeoutExpired:
            logger.warning("`deploy down` took over 180 s; stopping supervisord")
        if pid is not None and psutil.pid_exists(pid):
            # A stop that failed or timed out (a large database shuts down
            # slowly) must not leave the stack running without its folder.
            supervisord = psutil.Process(pid)
            supervisord.terminate()
            try:
                supervisord.wait(60)
            except psutil.TimeoutExpired:
                supervisord.kill()
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def _load_outputs(self) -> None:
        self.endpoints = json.loads((self.state_dir / "endpoints.json").read_text())
        self.passwords = json.loads((self.state_dir / "credentials.json").read_text())
        stacks = self.client("cloudformation").describe_stacks(StackName=STACK_NAME)
        self.outputs = {
            o["OutputKey"]: o["OutputValue"] for o in stacks["Stacks"][0]["Outputs"]
        }
        secret = self.client("secretsmanager").get_secret_value(
            SecretId=self.outputs["DatabaseSecretArn"]
        )
        self.db_secret = json.loads(secret["SecretString"])

    # -- access ----------------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        return self.endpoints["endpoint_url"]

    @property
    def api_url(self) -> str:
        """The API through API Gateway, on the edge's own address."""
        return self.endpoints["api_url_path_style"].rstrip("/")

    @property
    def mqtt_port(self) -> int:
        return int(self.env["MQTT_PORT"])

    def client(self, service: str, **config: Any) -> Any:
        return boto3.client(
            service,
            endpoint_url=f"http://127.0.0.1:{self.env['EDGE_PORT']}",
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",  # noqa: S106 (the local cloud's dummy)
            config=Config(
                retries={"max_attempts": 0},
                read_timeout=300,
                max_pool_connections=32,
                **config,
            ),
        )

    def conninfo(self) -> str:
        s = self.db_secret
        return psycopg.conninfo.make_conninfo(
            host=s["host"],
            port=s["port"],
            user=s["username"],
            password=s["password"],
            dbname=s["dbname"],
        )

    def connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.conninfo(), autocommit=True)

    def supervisorctl(self, *args: str) -> str:
        result = subprocess.run(
            [
                str(Path(sys.executable).parent / "supervisorctl"),
                "-c",
                str(self.state_dir / "supervisord.conf"),
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return result.stdout + result.stderr

    def service_pids(self) -> dict[str, int]:
        """supervisord's programs (mosquitto, localcloud) by name -> pid."""
        pids = {}
        for line in self.supervisorctl("status").splitlines():
            parts = line.split()
            if len(parts) >= 4 and parts[1] == "RUNNING" and parts[2] == "pid":
                pids[parts[0]] = int(parts[3].rstrip(","))
        return pids

    # -- preparing the database for measurement --------------------------------

    def quiesce(self) -> None:
        """Stop the stack's own simulator and wait until the queue is empty."""
        self.supervisorctl("stop", "simulator")
        self.wait_queue_empty()

    def wait_queue_empty(self, timeout: float = 600) -> None:
        sqs = self.client("sqs")
        url = self.outputs["TelemetryQueueUrl"]
        deadline = time.monotonic() + timeout
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        while True:
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)
            if all(attributes["Attributes"][n] == "0" for n in names):
                return
            if time.monotonic() > deadline:
                raise BenchError(f"the telemetry queue is not empty: {attributes}")
            time.sleep(0.2)

    def enable_commit_timestamps(self) -> None:
        """Turn on `track_commit_timestamp`, so every stored reading tells when
        its transaction committed, i.e. when it became queryable.

        It needs a server restart: done with RDS RebootDBInstance through the
        local cloud. Warm Lambda workers still hold connections to the old
        server; direct invocations make each of them notice and reconnect, so
        no SQS batch of the measured runs fails on a dead connection.
        """
        with self.connect() as conn:
            row = conn.execute("SHOW track_commit_timestamp").fetchone()
            if row and row[0] == "on":
                return
            conn.execute("ALTER SYSTEM SET track_commit_timestamp = on")
        rds = self.client("rds")
        identifier = self.db_secret.get("dbInstanceIdentifier") or ""
        rds.reboot_db_instance(DBInstanceIdentifier=identifier)
        deadline = time.monotonic() + 60
        while True:
            try:
                with self.connect() as conn:
                    row = conn.execute("SHOW track_commit_timestamp").fetchone()
                    if row and row[0] == "on":
                        break
            except psycopg.OperationalError:
                pass
            if time.monotonic() > deadline:
                raise BenchError("PostgreSQL did not come back with commit timestamps")
            time.sleep(0.2)
        self.refresh_ingest_connections()

    def refresh_ingest_connections(self, workers: int = 8) -> None:
        lam = self.client("lambda")
        name = self.outputs["IngestFunctionName"]
        sequence = iter(range(1, 10_000))

        def invoke(_: int) -> bool:
            event = json.dumps(telemetry_message("drill-999", next(sequence)))
            response = lam.invoke(FunctionName=name, Payload=event)
            response["Payload"].read()
            return "FunctionError" not in response

        with ThreadPoolExecutor(workers) as pool:
            for _round in range(5):
                if all(pool.map(invoke, range(workers))):
                    return
        raise BenchError("IngestFunction keeps failing after the database restart")

    def truncate(self) -> None:
        """Empty the telemetry tables (the queue must be empty)."""
        with self.connect() as conn:
            conn.execute(f"TRUNCATE {TELEMETRY_TABLES}")

    def set_ingest_mapping(
        self, batch_size: int, window: int, concurrency: int, enabled: bool = True
    ) -> None:
        """Tune the IngestFunction's SQS mapping in place (UpdateEventSourceMapping),
        as an operator would; the local cloud's poller follows within a second."""
        lam = self.client("lambda")
        name = self.outputs["IngestFunctionName"]
        mapping = lam.list_event_source_mappings(FunctionName=name)[
            "EventSourceMappings"
        ][0]
        lam.update_event_source_mapping(
            UUID=mapping["UUID"],
            BatchSize=batch_size,
            MaximumBatchingWindowInSeconds=window,
            ScalingConfig={"MaximumConcurrency": concurrency},
            Enabled=enabled,
        )
        time.sleep(1.5)

"""Benchmark: how fast a local RDS PostgreSQL instance becomes usable.

Runs an in-process local cloud (RDS feature only) on a free port and drives it
with boto3 over HTTP. Each figure is the time from the API call until
DescribeDBInstances reports `available` AND psycopg can log in at the
reported endpoint with the master password:

  create (new data)       CreateDBInstance on an identifier never seen (initdb)
  create (existing data)  the same identifier created again after the local
                          cloud restarted (moto forgot it; the data folder is
                          reused and the master password synchronised)
  reboot                  RebootDBInstance
  stop + start            StopDBInstance until `stopped`, then StartDBInstance

Usage: python infrastructure/bench/localcloud_rds.py [--runs 3]
Target (issue 4): available within 5 s of CreateDBInstance.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "infrastructure" / "localcloud")]

REGION = "us-east-1"
PASSWORD = "bench-password-1"  # noqa: S105 - a throwaway local database
FEATURES = "apigateway,s3website,cloudformation,iot,sqs"


def _client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "rds",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",  # noqa: S106 - the local cloud's dummy
    )


def _usable(rds: Any, identifier: str, status: str = "available") -> None:
    """Returns once the instance reports `status` (and, if available, accepts a
    login at its endpoint)."""
    import psycopg

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        instance = rds.describe_db_instances(DBInstanceIdentifier=identifier)[
            "DBInstances"
        ][0]
        if instance["DBInstanceStatus"] == "failed":
            raise SystemExit(f"{identifier} failed; see the state folder's rds log")
        if instance["DBInstanceStatus"] == status:
            if status != "available":
                return
            endpoint = instance["Endpoint"]
            try:
                with psycopg.connect(
                    host=endpoint["Address"],
                    port=endpoint["Port"],
                    user="master",
                    password=PASSWORD,
                    dbname="bench",
                    connect_timeout=2,
                ):
                    return
            except psycopg.OperationalError:
                pass
        time.sleep(0.02)
    raise SystemExit(f"{identifier} did not become {status} within 60 s")


def _timed(action: Any) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _cloud(state: Path) -> Any:
    from localcloud.cloud import LocalCloud
    from localcloud.config import CloudConfig

    config = CloudConfig.from_env(port=0, state_dir=state, disabled_features=FEATURES)
    return LocalCloud(config)


def run(runs: int) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {
        "create (new data)": [],
        "create (existing data)": [],
        "reboot": [],
        "stop + start": [],
    }
    state = Path(tempfile.mkdtemp(prefix="bench-rds-"))
    try:
        return _measure(state, runs, figures)
    finally:
        shutil.rmtree(state, ignore_errors=True)


def _measure(
    state: Path, runs: int, figures: dict[str, list[float]]
) -> dict[str, list[float]]:
    from moto.moto_api._internal.models import moto_api_backend

    identifiers = [f"bench-{number}" for number in range(runs)]

    def create(rds: Any, identifier: str) -> None:
        rds.create_db_instance(
            DBInstanceIdentifier=identifier,
            Engine="postgres",
            DBInstanceClass="db.t3.micro",
            AllocatedStorage=20,
            MasterUsername="master",
            MasterUserPassword=PASSWORD,
            DBName="bench",
        )
        _usable(rds, identifier)

    with _cloud(state) as cloud:
        rds = _client(cloud.endpoint_url)
        for identifier in identifiers:
            figures["create (new data)"].append(
                _timed(lambda i=identifier: create(rds, i))
            )

            def reboot(i: str = identifier) -> None:
                rds.reboot_db_instance(DBInstanceIdentifier=i)
                _usable(rds, i)

            figures["reboot"].append(_timed(reboot))

            def stop_start(i: str = identifier) -> None:
                rds.stop_db_instance(DBInstanceIdentifier=i)
                _usable(rds, i, "stopped")
                rds.start_db_instance(DBInstanceIdentifier=i)
                _usable(rds, i)

            figures["stop + start"].append(_timed(stop_start))
    moto_api_backend.reset()  # a restarted cloud remembers nothing

    with _cloud(state) as cloud:
        rds = _client(cloud.endpoint_url)
        for identifier in identifiers:
            figures["create (existing data)"].append(
                _timed(lambda i=identifier: create(rds, i))
            )
            rds.delete_db_instance(
                DBInstanceIdentifier=identifier, SkipFinalSnapshot=True
            )
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    figures = run(args.runs)
    print(f"\nRDS PostgreSQL, seconds until usable ({args.runs} runs)")
    header = f"{'operation':<24} | {'min':>6} | {'median':>6} | {'max':>6}"
    print(header)
    print("-" * len(header))
    for name, values in figures.items():
        print(
            f"{name:<24} | {min(values):>6.2f} | {statistics.median(values):>6.2f} | "
            f"{max(values):>6.2f}"
        )
    worst = max(figures["create (new data)"] + figures["create (existing data)"])
    verdict = "meets" if worst <= 5 else "MISSES"
    print(f"\nworst CreateDBInstance -> available: {worst:.2f} s ({verdict} 5 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

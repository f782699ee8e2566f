"""Helpers for local cloud tests: zipped handlers and functions created in it."""

from __future__ import annotations

import io
import json
import textwrap
import time
import uuid
import zipfile
from collections.abc import Callable
from typing import Any, Protocol

import pytest

from tests.fixtures.localcloud import RunningCloud

TRUST_POLICY = json.dumps(
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


def zip_source(files: dict[str, str]) -> bytes:
    """A zip of `{path: python source}`; sources are dedented."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, source in files.items():
            archive.writestr(path, textwrap.dedent(source))
    return buffer.getvalue()


def lambda_role(cloud: RunningCloud) -> str:
    iam = cloud.client("iam")
    name = "localcloud-test-lambda-role"
    try:
        return str(iam.get_role(RoleName=name)["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST_POLICY)
        return str(role["Role"]["Arn"])


class MakeFunction(Protocol):
    def __call__(
        self,
        source: str,
        *,
        cloud: RunningCloud | None = None,
        handler: str = "app.handler",
        runtime: str = "python3.11",
        **settings: Any,
    ) -> str: ...


@pytest.fixture
def make_function(local_cloud: RunningCloud) -> MakeFunction:
    """Creates a function from the source of `app.py`; returns its name."""

    def make(
        source: str,
        *,
        cloud: RunningCloud | None = None,
        handler: str = "app.handler",
        runtime: str = "python3.11",
        **settings: Any,
    ) -> str:
        target = cloud or local_cloud
        name = f"fn-{uuid.uuid4().hex[:12]}"
        target.client("lambda").create_function(
            FunctionName=name,
            Runtime=runtime,
            Role=lambda_role(target),
            Handler=handler,
            Code={"ZipFile": zip_source({"app.py": source})},
            **settings,
        )
        return name

    return make


def wait_for(
    check: Callable[[], Any], *, timeout: float = 20.0, interval: float = 0.1
) -> Any:
    """Polls `check` until it returns something truthy; fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout:.0f} s")
        time.sleep(interval)


def log_messages(cloud: RunningCloud, function_name: str) -> list[str]:
    logs = cloud.client("logs")
    try:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{function_name}")
    except logs.exceptions.ResourceNotFoundException:
        return []
    return [event["message"] for event in events["events"]]

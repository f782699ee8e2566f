"""Workers over time: timeouts, throttling, crashes, updates, idle reaping, logs."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.fixtures.localcloud import RunningCloud, StartLocalCloud
from tests.localcloud.conftest import MakeFunction, log_messages, wait_for, zip_source

pytestmark = pytest.mark.localcloud

SLEEPER = """
import pathlib
import time

def handler(event, context):
    if "started" in event:  # tells the test the invocation holds its slot
        pathlib.Path(event["started"]).touch()
    time.sleep(event.get("sleep", 0))
    return "slept"
"""


def start_busy(
    cloud: RunningCloud, name: str, marker: Path, seconds: float = 3.0
) -> threading.Thread:
    """Invoke a SLEEPER in the background; return once it is running."""
    event = {"sleep": seconds, "started": str(marker)}
    busy = threading.Thread(target=invoke, args=(cloud, name, event))
    busy.start()
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert time.monotonic() < deadline, "the busy invocation never started"
        time.sleep(0.02)
    return busy


def invoke(cloud: RunningCloud, name: str, event: object = None) -> dict[str, Any]:
    payload = json.dumps(event if event is not None else {}).encode()
    response: dict[str, Any] = cloud.client("lambda").invoke(
        FunctionName=name, Payload=payload
    )
    response["Body"] = response["Payload"].read()
    return response


def test_a_function_past_its_timeout_is_stopped_with_aws_timeout_error(
    local_cloud: RunningCloud, make_function: MakeFunction
) -> None:
    name = make_function(SLEEPER, Timeout=1)

    started = time.monotonic()
    response = invoke(local_cloud, name, {"sleep": 10})
    elapsed = time.monotonic() - started

    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Body"])
    assert error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in error["errorMessage"]
    assert elapsed < 5
    assert json.loads(invoke(local_cloud, name)["Body"]) == "slept"
    messages = log_messages(local_cloud, name)
    assert any("Task timed out after 1.00 seconds" in m for m in messages)
    assert any("Status: timeout" in m for m in messages if m.startswith("REPORT"))


def test_reserved_concurrency_throttles_with_too_many_requests(
    local_cloud: RunningCloud, make_function: MakeFunction, tmp_path: Path
) -> None:
    name = make_function(SLEEPER, Timeout=10)
    local_cloud.client("lambda").put_function_concurrency(
        FunctionName=name, ReservedConcurrentExecutions=1
    )
    busy = start_busy(local_cloud, name, tmp_path / "started")

    with pytest.raises(ClientError) as raised:
        invoke(local_cloud, name)
    busy.join()

    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert error["Error"]["Code"] == "TooManyRequestsException"
    assert error["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert json.loads(invoke(local_cloud, name)["Body"]) == "slept"


def test_reserved_concurrency_of_zero_throttles_every_invocation(
    local_cloud: RunningCloud, make_function: MakeFunction
) -> None:
    name = make_function(SLEEPER)
    local_cloud.client("lambda").put_function_concurrency(
        FunctionName=name, ReservedConcurrentExecutions=0
    )

    with pytest.raises(ClientError) as raised:
        invoke(local_cloud, name)

    assert raised.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert raised.value.response["Error"]["Message"] == "Rate Exceeded."


def test_the_overall_cap_throttles_across_functions(
    start_local_cloud: StartLocalCloud, make_function: MakeFunction, tmp_path: Path
) -> None:
    cloud = start_local_cloud(max_concurrency=1)
    first = make_function(SLEEPER, cloud=cloud, Timeout=10)
    second = make_function(SLEEPER, cloud=cloud)
    busy = start_busy(cloud, first, tmp_path / "started")

    with pytest.raises(ClientError) as raised:
        invoke(cloud, second)
    busy.join()

    assert raised.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert raised.value.response["Reason"] == "ConcurrentInvocationLimitExceeded"


def test_a_crashing_worker_is_reported_like_aws_and_replaced(
    local_cloud: RunningCloud, make_function: MakeFunction
) -> None:
    name = make_function(
        """
        import os

        def handler(event, context):
            if event.get("crash"):
                print("about to exit")
                os._exit(3)
            return os.getpid()
        """
    )
    first_pid = json.loads(invoke(local_cloud, name)["Body"])

    crashed = invoke(local_cloud, name, {"crash": True})
    second_pid = json.loads(invoke(local_cloud, name)["Body"])

    assert crashed["FunctionError"] == "Unhandled"
    error = json.loads(crashed["Body"])
    assert error["errorType"] == "Runtime.ExitError"
    assert "Runtime exited with error: exit status 3" in error["errorMessage"]
    assert second_pid != first_pid
    messages = log_messages(local_cloud, name)
    assert "about to exit" in messages
    assert any("Error Type: Runtime.ExitError" in m for m in messages)


def test_updating_code_while_invoking_fails_no_invocation(
    local_cloud: RunningCloud, make_function: MakeFunction
) -> None:
    version_one = (
        "import time\n\ndef handler(e, c):\n    time.sleep(0.05)\n    return 1\n"
    )
    version_two = "def handler(e, c):\n    return 2\n"
    name = make_function(version_one)
    results: list[dict[str, Any]] = []
    stop = threading.Event()

    def keep_invoking() -> None:
        while not stop.is_set():
            results.append(invoke(local_cloud, name))

    with ThreadPoolExecutor(4) as pool:
        for _ in range(4):
            pool.submit(keep_invoking)
        wait_for(lambda: len(results) > 20)
        local_cloud.client("lambda").update_function_code(
            FunctionName=name, ZipFile=zip_source({"app.py": version_two})
        )
        wait_for(lambda: any(json.loads(r["Body"]) == 2 for r in list(results)))
        count = len(results)
        wait_for(lambda: len(results) > count + 20)
        stop.set()

    assert all("FunctionError" not in r for r in results)
    answers = [json.loads(r["Body"]) for r in results]
    assert set(answers) == {1, 2}
    assert answers[-4:] == [2, 2, 2, 2]


def test_updating_configuration_reaches_new_invocations(
    local_cloud: RunningCloud, make_function: MakeFunction
) -> None:
    name = make_function(
        "import os\n\ndef handler(e, c):\n    return os.environ.get('MODE')\n",
        Environment={"Variables": {"MODE": "old"}},
    )
    assert json.loads(invoke(local_cloud, name)["Body"]) == "old"

    local_cloud.client("lambda").update_function_configuration(
        FunctionName=name, Environment={"Variables": {"MODE": "new"}}
    )

    assert json.loads(invoke(local_cloud, name)["Body"]) == "new"


def test_the_aws_cli_shows_the_invocations_logs(
    local_cloud: RunningCloud, make_function: MakeFunction
) -> None:
    name = make_function(
        "def handler(e, c):\n    print('telemetry ingested')\n    return 'ok'\n"
    )
    invoke(local_cloud, name)

    # AWS CLI v1 (the pinned awscli) has no `logs tail`; v2's reads the same API.
    result = local_cloud.aws(
        "logs", "filter-log-events", "--log-group-name", f"/aws/lambda/{name}"
    )

    messages = [event["message"] for event in json.loads(result.stdout)["events"]]
    assert "telemetry ingested" in messages
    assert any(m.startswith("START RequestId:") for m in messages)
    assert any(m.startswith("REPORT RequestId:") for m in messages)
    assert any("Init Duration:" in m for m in messages)
    streams = local_cloud.aws(
        "logs", "describe-log-streams", "--log-group-name", f"/aws/lambda/{name}"
    )
    assert "[$LATEST]" in json.loads(streams.stdout)["logStreams"][0]["logStreamName"]


def test_idle_workers_are_stopped_after_the_idle_timeout(
    start_local_cloud: StartLocalCloud, make_function: MakeFunction
) -> None:
    cloud = start_local_cloud(idle_worker_timeout=0.5)
    name = make_function(
        "import os\n\ndef handler(e, c):\n    return os.getpid()\n", cloud=cloud
    )
    first_pid = json.loads(invoke(cloud, name)["Body"])

    wait_for(lambda: "stopped 1 idle workers" in cloud.log_text(), timeout=10)

    assert json.loads(invoke(cloud, name)["Body"]) != first_pid


def test_a_runtime_that_is_installed_runs_on_its_own_python(
    local_cloud: RunningCloud, make_function: MakeFunction
) -> None:
    name = make_function(
        "import sys\n\ndef handler(e, c):\n    return list(sys.version_info[:2])\n",
        runtime="python3.12",
    )

    response = local_cloud.client("lambda").invoke(FunctionName=name)

    assert json.loads(response["Payload"].read()) == [3, 12]


def test_a_runtime_not_installed_falls_back_to_the_host_with_one_warning(
    local_cloud: RunningCloud, make_function: MakeFunction
) -> None:
    source = "import sys\n\ndef handler(e, c):\n    return list(sys.version_info[:2])\n"
    names = [make_function(source, runtime="python3.14") for _ in range(2)]

    answers = [json.loads(invoke(local_cloud, name)["Body"]) for name in names]

    assert answers == [[3, 11], [3, 11]]
    warnings = [
        line
        for line in local_cloud.log_text().splitlines()
        if "function runtime python3.14" in line and "WARNING" in line
    ]
    assert len(warnings) == 1
    assert "Python 3.14 is not installed" in warnings[0]


def test_a_published_version_keeps_its_code_and_its_warm_worker(
    local_cloud: RunningCloud, make_function: MakeFunction
) -> None:
    source = "import os\n\ndef handler(e, c):\n    return ['{tag}', os.getpid()]\n"
    name = make_function(source.replace("{tag}", "one"))
    lambda_client = local_cloud.client("lambda")
    version = lambda_client.publish_version(FunctionName=name)["Version"]
    lambda_client.update_function_code(
        FunctionName=name,
        ZipFile=zip_source({"app.py": source.replace("{tag}", "two")}),
    )

    def call(qualifier: str) -> tuple[str, list[Any]]:
        response = lambda_client.invoke(FunctionName=name, Qualifier=qualifier)
        return response["ExecutedVersion"], json.loads(response["Payload"].read())

    answers = [call(q) for q in (version, "$LATEST", version, "$LATEST")]

    assert [(v, tag) for v, (tag, _) in answers] == [
        (version, "one"),
        ("$LATEST", "two"),
        (version, "one"),
        ("$LATEST", "two"),
    ]
    assert answers[0][1][1] == answers[2][1][1]
    assert answers[1][1][1] == answers[3][1][1]


def test_log_streams_keep_their_newest_events_within_the_limit(
    start_local_cloud: StartLocalCloud, make_function: MakeFunction
) -> None:
    cloud = start_local_cloud(log_events_per_stream=10)
    name = make_function("def handler(e, c):\n    print('n', e)\n", cloud=cloud)

    for n in range(6):
        invoke(cloud, name, n)

    messages = log_messages(cloud, name)
    assert len(messages) == 10
    assert messages[-3:-1] == ["n 5", messages[-2]]
    assert messages[-2].startswith("END RequestId:")
    assert "n 0" not in messages
    assert "streams keep their newest 10 events" in cloud.log_text()

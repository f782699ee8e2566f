"""Invoking functions through boto3 and the AWS CLI: sync, async, dry run, tail."""

from __future__ import annotations

import base64
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.fixtures.localcloud import RunningCloud
from tests.localcloud.conftest import (
    MakeFunction,
    lambda_role,
    log_messages,
    wait_for,
    zip_source,
)

pytestmark = pytest.mark.localcloud

ECHO = """
import os

def handler(event, context):
    print("event", event)
    return {
        "event": event,
        "request_id": context.aws_request_id,
        "arn": context.invoked_function_arn,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "env": {k: v for k, v in os.environ.items()
                if k.startswith(("AWS_", "LAMBDA_", "_HANDLER", "GREETING"))},
    }
"""


def invoke(
    cloud: RunningCloud, name: str, event: object = None, **kwargs: object
) -> dict[str, Any]:
    payload = json.dumps(event if event is not None else {}).encode()
    response: dict[str, Any] = cloud.client("lambda").invoke(
        FunctionName=name, Payload=payload, **kwargs
    )
    response["Body"] = response["Payload"].read()
    return response


def test_a_sync_invoke_returns_the_handlers_result(
    local_cloud: RunningCloud, make_function: MakeFunction
) -> None:
    name = make_function(ECHO, Environment={"Variables": {"GREETING": "hi"}})

    response = invoke(local_cloud, name, {"a": 1})

    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert response["ExecutedVersion"] == "$LATEST"
    result = json.loads(response["Body"])
    assert result["event"] == {"a": 1}
    assert result["arn"].endswith(f":function:{name}")
    assert 0 < result["remaining_ms"] <= 3000


def test_the_worker_gets_the_environment_aws_gives(
    local_cloud: RunningCloud, make_function: MakeFunction
) -> None:
    name = make_function(
        ECHO, MemorySize=256, Environment={"Variables": {"GREETING": "hi"}}
    )

    env = json.loads(invoke(local_cloud, name)["Body"])["env"]

    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["_HANDLER"] == "app.handler"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{name}"
    assert "[$LATEST]" in env["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert Path(env["LAMBDA_TASK_ROOT"], "app.py").is_file()
    assert env["AWS_ENDPOINT_URL"] == local_cloud.endpoint_url
    assert env["AWS_ACCESS_KEY_ID"]
    assert env["AWS_SECRET_ACCESS_KEY"]
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"
    assert env["GREETING"] == "hi"


def test_a_function_reaches_the_local_cloud_with_boto3(
    local_cloud: RunningCloud, make_function: MakeFunction
) -> None:
    local_cloud.client("sqs").create_queue(QueueName="from-a-function")
    name = make_function(
        """
        import boto3

        def handler(event, context):
            return boto3.client("sqs").list_queues()["QueueUrls"]
        """
    )

    urls = json.loads(invoke(local_cloud, name)["Body"])

    assert any(url.endswith("/from-a-function") for url in urls)


def test_log_type_tail_returns_the_last_4_kb_of_the_log(
    local_cloud: RunningCloud, make_function: MakeFunction
) -> None:
    name = make_function(
        """
        def handler(event, context):
            for n in range(200):
                print(f"line {n:03d} " + "x" * 60)
            return "done"
        """
    )

    response = invoke(local_cloud, name, LogType="Tail")

    tail = base64.b64decode(response["LogResult"]).decode()
    assert len(tail.encode()) <= 4096
    assert "line 199" in tail
    assert "line 000" not in tail
    assert tail.rstrip().splitlines()[-1].startswith("REPORT RequestId: ")


def test_an_event_invoke_is_accepted_and_runs_later(
    local_cloud: RunningCloud, make_function: MakeFunction
) -> None:
    name = make_function(ECHO)

    response = invoke(local_cloud, name, {"async": True}, InvocationType="Event")

    assert response["StatusCode"] == 202
    assert response["Body"] == b""
    wait_for(lambda: any("'async': True" in m for m in log_messages(local_cloud, name)))


def test_a_dry_run_checks_the_function_and_runs_nothing(
    local_cloud: RunningCloud, make_function: MakeFunction
) -> None:
    name = make_function(ECHO)

    response = invoke(local_cloud, name, InvocationType="DryRun")

    assert response["StatusCode"] == 204
    assert log_messages(local_cloud, name) == []


def test_invoking_an_unknown_function_is_resource_not_found(
    local_cloud: RunningCloud,
) -> None:
    with pytest.raises(ClientError) as raised:
        invoke(local_cloud, "no-such-function")

    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert error["Error"]["Code"] == "ResourceNotFoundException"
    assert "no-such-function" in error["Error"]["Message"]


def test_a_payload_that_is_not_json_is_rejected(
    local_cloud: RunningCloud, make_function: MakeFunction
) -> None:
    name = make_function(ECHO)

    with pytest.raises(ClientError) as raised:
        local_cloud.client("lambda").invoke(FunctionName=name, Payload=b"{not json")

    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "InvalidRequestContentException"
    assert "Could not parse request body into json" in error["Error"]["Message"]


def test_a_handler_exception_is_reported_like_aws(
    local_cloud: RunningCloud, make_function: MakeFunction
) -> None:
    name = make_function(
        """
        def handler(event, context):
            raise ValueError("bad reading")
        """
    )

    response = invoke(local_cloud, name)

    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Body"])
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "bad reading"
    assert error["stackTrace"]


def test_a_handler_that_cannot_be_imported_is_an_import_module_error(
    local_cloud: RunningCloud, make_function: MakeFunction
) -> None:
    name = make_function("import no_such_module_here\n")

    response = invoke(local_cloud, name)

    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Body"])
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert "no_such_module_here" in error["errorMessage"]


def test_layers_are_importable_like_from_opt_python(
    local_cloud: RunningCloud, make_function: MakeFunction
) -> None:
    lambda_client = local_cloud.client("lambda")
    layer = lambda_client.publish_layer_version(
        LayerName="greetings",
        Content={"ZipFile": zip_source({"python/greetings.py": "WORD = 'layered'\n"})},
        CompatibleRuntimes=["python3.11"],
    )
    name = make_function(
        """
        import greetings

        def handler(event, context):
            return greetings.WORD
        """,
        Layers=[layer["LayerVersionArn"]],
    )

    assert json.loads(invoke(local_cloud, name)["Body"]) == "layered"


def test_the_aws_cli_invokes_with_a_log_tail(
    local_cloud: RunningCloud, make_function: MakeFunction, tmp_path: Path
) -> None:
    name = make_function(ECHO)
    out = tmp_path / "out.json"

    result = local_cloud.aws(
        "lambda",
        "invoke",
        "--function-name",
        name,
        "--payload",
        '{"from": "cli"}',
        "--log-type",
        "Tail",
        str(out),
    )

    answer = json.loads(result.stdout)
    assert answer["StatusCode"] == 200
    assert "{'from': 'cli'}" in base64.b64decode(answer["LogResult"]).decode()
    assert json.loads(out.read_text())["event"] == {"from": "cli"}


def test_the_aws_cli_invokes_asynchronously(
    local_cloud: RunningCloud, make_function: MakeFunction, tmp_path: Path
) -> None:
    name = make_function(ECHO)

    result = local_cloud.aws(
        "lambda",
        "invoke",
        "--function-name",
        name,
        "--invocation-type",
        "Event",
        "--payload",
        '{"cli": "event"}',
        str(tmp_path / "out.json"),
    )

    assert json.loads(result.stdout)["StatusCode"] == 202
    wait_for(
        lambda: any("'cli': 'event'" in m for m in log_messages(local_cloud, name))
    )


def test_a_long_invocation_does_not_block_other_requests(
    local_cloud: RunningCloud, make_function: MakeFunction
) -> None:
    name = make_function(
        "import time\n\ndef handler(event, context):\n    time.sleep(5)\n",
        Timeout=10,
    )
    slow = threading.Thread(target=invoke, args=(local_cloud, name))
    slow.start()
    time.sleep(0.3)

    started = time.monotonic()
    local_cloud.client("lambda").list_functions()
    elapsed = time.monotonic() - started
    slow.join()

    assert elapsed < 3  # not held up by the 5 s invocation


def test_the_aws_cli_creates_dry_runs_and_updates_a_function(
    local_cloud: RunningCloud, tmp_path: Path
) -> None:
    first = tmp_path / "first.zip"
    first.write_bytes(zip_source({"app.py": "def handler(e, c):\n    return 'v1'\n"}))
    second = tmp_path / "second.zip"
    second.write_bytes(zip_source({"app.py": "def handler(e, c):\n    return 'v2'\n"}))
    name = "cli-made-function"
    common = ["--function-name", name]

    local_cloud.aws(
        "lambda", "create-function", *common, "--runtime", "python3.11",
        "--handler", "app.handler", "--role", lambda_role(local_cloud),
        "--zip-file", f"fileb://{first}",
    )  # fmt: skip
    dry = local_cloud.aws(
        "lambda", "invoke", *common, "--invocation-type", "DryRun",
        str(tmp_path / "dry.json"),
    )  # fmt: skip
    local_cloud.aws(
        "lambda", "update-function-code", *common, "--zip-file", f"fileb://{second}"
    )
    local_cloud.aws("lambda", "invoke", *common, str(tmp_path / "out.json"))

    assert json.loads(dry.stdout)["StatusCode"] == 204
    assert json.loads((tmp_path / "out.json").read_text()) == "v2"

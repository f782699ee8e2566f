"""A SAM-transformed serverless IoT stack deployed into the local cloud with
`aws cloudformation deploy`: functions behind an API, an SQS-triggered worker, a
layer, a website bucket, a PostgreSQL instance with generated credentials in
Secrets Manager, an IoT topic rule; then updated and broken on purpose."""

from __future__ import annotations

import http.client
import json
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.fixtures.localcloud import RunningCloud
from tests.localcloud.conftest import zip_source

pytestmark = [pytest.mark.localcloud, pytest.mark.slow]

TEMPLATE = Path(__file__).parent / "templates" / "serverless_iot.yaml"

API_SOURCE = """
import json, os
import shared

VERSION = {version}

def handler(event, context):
    return {{
        "statusCode": 200,
        "headers": {{"Content-Type": "application/json"}},
        "body": json.dumps({{
            "version": VERSION,
            "greeting": os.environ["GREETING"],
            "secret": os.environ["DB_SECRET_ARN"],
            "layer": shared.LAYER_VALUE,
            "path": event["path"],
        }}),
    }}
"""


def aws(cloud: RunningCloud, *arguments: str, check: bool = True) -> Any:
    """Runs the AWS CLI against the cloud; the parsed JSON output, or the
    completed process when `check` is False."""
    result = subprocess.run(
        [".venv/bin/aws", *arguments], env=cloud.env, capture_output=True, text=True
    )
    if not check:
        return result
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else None


@dataclass
class Stack:
    cloud: RunningCloud
    name: str
    code_bucket: str

    def deploy(self, *overrides: str) -> subprocess.CompletedProcess[str]:
        result: subprocess.CompletedProcess[str] = aws(
            self.cloud,
            "cloudformation",
            "deploy",
            "--stack-name",
            self.name,
            "--template-file",
            str(TEMPLATE),
            "--capabilities",
            "CAPABILITY_IAM",
            "CAPABILITY_AUTO_EXPAND",
            "--no-fail-on-empty-changeset",
            "--parameter-overrides",
            f"CodeBucket={self.code_bucket}",
            "WorkerCodeKey=worker.zip",
            "LayerCodeKey=layer.zip",
            *overrides,
            check=False,
        )
        return result

    def description(self) -> dict[str, Any]:
        found: dict[str, Any] = aws(
            self.cloud, "cloudformation", "describe-stacks", "--stack-name", self.name
        )["Stacks"][0]
        return found

    def outputs(self) -> dict[str, str]:
        return {o["OutputKey"]: o["OutputValue"] for o in self.description()["Outputs"]}

    def upload(self, key: str, body: bytes) -> None:
        self.cloud.client("s3").put_object(Bucket=self.code_bucket, Key=key, Body=body)


def get(url: str, **headers: str) -> tuple[int, bytes]:
    """GET a URL the stack reported, resolving `*.localhost` to the loopback
    address as browsers do."""
    rest = url.split("://", 1)[1]
    host, _, path = rest.partition("/")
    port = int(host.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", "/" + path, headers={"Host": host, **headers})
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def stack(local_cloud: RunningCloud) -> Stack:
    suffix = uuid.uuid4().hex[:8]
    deployed = Stack(local_cloud, f"iot-{suffix}", f"code-{suffix}")
    local_cloud.client("s3").create_bucket(Bucket=deployed.code_bucket)
    deployed.upload("api-1.zip", zip_source({"api.py": API_SOURCE.format(version=1)}))
    deployed.upload(
        "worker.zip",
        zip_source({"worker.py": "def handler(event, context):\n    return {}\n"}),
    )
    deployed.upload("layer.zip", zip_source({"python/shared.py": "LAYER_VALUE = 7\n"}))

    result = deployed.deploy("ApiCodeKey=api-1.zip")

    assert result.returncode == 0, result.stderr + result.stdout
    return deployed


def test_the_stack_is_created_and_reports_urls_a_browser_opens_offline(
    stack: Stack,
) -> None:
    description = stack.description()
    outputs = stack.outputs()
    port = stack.cloud.port

    assert description["StackStatus"] == "CREATE_COMPLETE"
    assert outputs["ApiUrl"].startswith("http://")
    assert outputs["ApiUrl"].endswith(f".execute-api.localhost:{port}/test/")
    assert outputs["WebsiteUrl"] == (
        f"http://{outputs['WebsiteBucketName']}.s3-website.localhost:{port}"
    )


def test_the_api_url_reaches_the_function_with_its_layer_and_environment(
    stack: Stack,
) -> None:
    outputs = stack.outputs()
    parameters = {
        p["ParameterKey"]: p["ParameterValue"]
        for p in stack.description()["Parameters"]
    }

    status, body = get(outputs["ApiUrl"] + "machines/drill-001")

    assert status == 200
    answer = json.loads(body)
    assert answer["greeting"] == parameters["Greeting"]
    assert answer["secret"] == outputs["DatabaseSecretArn"]
    assert answer["layer"] == 7
    assert answer["path"] == "/machines/drill-001"


def test_the_api_answers_the_cors_preflight_sam_generated(stack: Stack) -> None:
    url = stack.outputs()["ApiUrl"]
    rest = url.split("://", 1)[1]
    host, _, path = rest.partition("/")
    connection = http.client.HTTPConnection("127.0.0.1", stack.cloud.port, timeout=30)
    try:
        connection.request(
            "OPTIONS", f"/{path}anything", headers={"Host": host, "Origin": "http://x"}
        )
        answer = connection.getresponse()
        answer.read()
    finally:
        connection.close()

    assert answer.status == 200
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert answer.headers["Access-Control-Allow-Methods"] == "GET,POST,OPTIONS"


def test_the_website_bucket_serves_what_is_uploaded_with_its_error_document(
    stack: Stack,
) -> None:
    outputs = stack.outputs()
    s3 = stack.cloud.client("s3")
    bucket = outputs["WebsiteBucketName"]
    s3.put_object(
        Bucket=bucket, Key="index.html", Body=b"<h1>fleet</h1>", ContentType="text/html"
    )
    s3.put_object(
        Bucket=bucket, Key="error.html", Body=b"<h1>lost</h1>", ContentType="text/html"
    )

    index = subprocess.run(
        ["curl", "-s", "--max-time", "20", outputs["WebsiteUrl"] + "/"],
        capture_output=True,
        check=True,
    ).stdout
    missing_status, missing_body = get(outputs["WebsiteUrl"] + "/no-such-page")

    assert index == b"<h1>fleet</h1>"
    assert missing_status == 403
    assert missing_body == b"<h1>lost</h1>"


def test_the_generated_secret_holds_the_database_connection_that_works(
    stack: Stack,
) -> None:
    outputs = stack.outputs()
    secret = json.loads(
        stack.cloud.client("secretsmanager").get_secret_value(
            SecretId=outputs["DatabaseSecretArn"]
        )["SecretString"]
    )
    instance = stack.cloud.client("rds").describe_db_instances()["DBInstances"]
    instance = next(
        i
        for i in instance
        if i["DBInstanceIdentifier"] == secret["dbInstanceIdentifier"]
    )

    assert set(secret) == {
        "username",
        "password",
        "dbname",
        "engine",
        "host",
        "port",
        "dbInstanceIdentifier",
    }
    assert secret["username"] == "telemetry"
    assert len(secret["password"]) == 24
    assert not set(secret["password"]) & set("\"@/\\'")
    assert secret["engine"] == "postgres"
    assert instance["MasterUsername"] == "telemetry"
    assert (secret["host"], secret["port"]) == (
        instance["Endpoint"]["Address"],
        instance["Endpoint"]["Port"],
    )
    assert (outputs["DatabaseAddress"], int(outputs["DatabasePort"])) == (
        secret["host"],
        secret["port"],
    )
    # The RDS data plane runs a real PostgreSQL with the resolved password.
    with psycopg.connect(
        host=secret["host"],
        port=secret["port"],
        user=secret["username"],
        password=secret["password"],
        dbname=secret["dbname"],
        connect_timeout=10,
    ) as connection:
        assert connection.execute("SELECT 1").fetchone() == (1,)


def test_the_topic_rule_is_stored_as_the_iot_api_would_store_it(stack: Stack) -> None:
    outputs = stack.outputs()

    rule = aws(
        stack.cloud, "iot", "get-topic-rule", "--rule-name", outputs["TopicRuleName"]
    )

    assert rule["ruleArn"] == outputs["TopicRuleArn"]
    assert rule["rule"]["sql"] == "SELECT *, topic(2) AS machine_id FROM 'machine/+/+'"
    assert rule["rule"]["ruleDisabled"] is False
    action = rule["rule"]["actions"][0]["sqs"]
    assert action["queueUrl"] == outputs["TelemetryQueueUrl"]
    assert action["useBase64"] is False
    assert "TelemetryDeadLetterQueue" in rule["rule"]["errorAction"]["sqs"]["queueUrl"]


def test_the_worker_is_triggered_by_its_queue_with_the_template_s_settings(
    stack: Stack,
) -> None:
    worker = stack.outputs()["WorkerFunctionName"]
    mappings = stack.cloud.client("lambda").list_event_source_mappings(
        FunctionName=worker
    )["EventSourceMappings"]
    configuration = stack.cloud.client("lambda").get_function_configuration(
        FunctionName=worker
    )
    concurrency = stack.cloud.client("lambda").get_function_concurrency(
        FunctionName=worker
    )

    assert len(mappings) == 1
    assert mappings[0]["BatchSize"] == 10
    assert mappings[0]["MaximumBatchingWindowInSeconds"] == 1
    assert mappings[0]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert configuration["Layers"][0]["Arn"].endswith(":1")
    assert concurrency["ReservedConcurrentExecutions"] == 2


def test_updating_the_stack_puts_the_new_code_and_settings_live(stack: Stack) -> None:
    stack.upload("api-2.zip", zip_source({"api.py": API_SOURCE.format(version=2)}))

    updated = stack.deploy("ApiCodeKey=api-2.zip", "Greeting=bonjour")
    unchanged = stack.deploy("ApiCodeKey=api-2.zip", "Greeting=bonjour")
    status, body = get(stack.outputs()["ApiUrl"] + "after-update")

    assert updated.returncode == 0, updated.stderr
    assert stack.description()["StackStatus"] == "UPDATE_COMPLETE"
    assert unchanged.returncode == 0
    assert "No changes to deploy" in unchanged.stdout + unchanged.stderr
    assert status == 200
    assert json.loads(body)["version"] == 2
    assert json.loads(body)["greeting"] == "bonjour"


def test_a_resource_that_fails_rolls_the_new_stack_back_with_the_reason(
    local_cloud: RunningCloud, tmp_path: Path
) -> None:
    name = f"broken-{uuid.uuid4().hex[:8]}"
    template = tmp_path / "broken.yaml"
    template.write_text(
        "Resources:\n"
        "  Queue:\n"
        "    Type: AWS::SQS::Queue\n"
        "  Rule:\n"
        "    Type: AWS::IoT::TopicRule\n"
        "    Properties:\n"
        "      TopicRulePayload:\n"
        '        Sql: "SELECT FROM WHERE"\n'
        "        Actions: []\n"
    )

    result = aws(
        local_cloud,
        "cloudformation",
        "deploy",
        "--stack-name",
        name,
        "--template-file",
        str(template),
        check=False,
    )
    events = aws(
        local_cloud, "cloudformation", "describe-stack-events", "--stack-name", name
    )
    statuses = [
        (e["LogicalResourceId"], e["ResourceStatus"]) for e in events["StackEvents"]
    ]
    failure = next(
        e
        for e in events["StackEvents"]
        if (e["LogicalResourceId"], e["ResourceStatus"]) == ("Rule", "CREATE_FAILED")
    )

    assert result.returncode != 0
    assert "Failed to create/update the stack" in result.stderr + result.stdout
    assert ("Queue", "CREATE_COMPLETE") in statuses
    assert (name, "ROLLBACK_COMPLETE") in statuses
    assert "Unsupported or invalid SQL" in failure["ResourceStatusReason"]
    assert (
        local_cloud.client("sqs")
        .list_queues(QueueNamePrefix=f"{name}-")
        .get("QueueUrls")
        is None
    )


def test_a_sam_template_with_a_local_code_path_is_refused_with_the_transform_error(
    local_cloud: RunningCloud, tmp_path: Path
) -> None:
    template = tmp_path / "local-path.yaml"
    template.write_text(
        "Transform: AWS::Serverless-2016-10-31\n"
        "Resources:\n"
        "  Fn:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties: {CodeUri: ./src, Handler: app.handler, Runtime: python3.11}\n"
    )

    result = aws(
        local_cloud,
        "cloudformation",
        "deploy",
        "--stack-name",
        f"sam-{uuid.uuid4().hex[:8]}",
        "--template-file",
        str(template),
        check=False,
    )

    assert result.returncode != 0
    assert "Transform AWS::Serverless-2016-10-31 failed with" in result.stderr
    assert "'CodeUri' is not a valid S3 Uri" in result.stderr


def test_deleting_a_stack_removes_its_functions_and_api(
    local_cloud: RunningCloud, tmp_path: Path
) -> None:
    name = f"short-{uuid.uuid4().hex[:8]}"
    template = tmp_path / "short.yaml"
    template.write_text(
        "Transform: AWS::Serverless-2016-10-31\n"
        "Resources:\n"
        "  Fn:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties:\n"
        "      Runtime: python3.11\n"
        "      Handler: index.handler\n"
        "      InlineCode: |\n"
        "        def handler(event, context):\n"
        "            return {'statusCode': 200, 'body': 'inline'}\n"
        "      Events:\n"
        "        Get: {Type: Api, Properties: {Path: /, Method: GET}}\n"
    )
    deployed = aws(
        local_cloud,
        "cloudformation",
        "deploy",
        "--stack-name",
        name,
        "--template-file",
        str(template),
        "--capabilities",
        "CAPABILITY_IAM",
        check=False,
    )
    resources = aws(
        local_cloud, "cloudformation", "describe-stack-resources", "--stack-name", name
    )["StackResources"]
    physical = {r["ResourceType"]: r["PhysicalResourceId"] for r in resources}
    status, body = get(
        f"http://{physical['AWS::ApiGateway::RestApi']}.execute-api.localhost:"
        f"{local_cloud.port}/Prod/"
    )

    aws(local_cloud, "cloudformation", "delete-stack", "--stack-name", name)
    functions = local_cloud.client("lambda").list_functions()["Functions"]
    apis = local_cloud.client("apigateway").get_rest_apis()["items"]

    assert deployed.returncode == 0, deployed.stderr
    assert (status, body) == (200, b"inline")
    assert physical["AWS::Lambda::Function"] not in {
        f["FunctionName"] for f in functions
    }
    assert physical["AWS::ApiGateway::RestApi"] not in {a["id"] for a in apis}

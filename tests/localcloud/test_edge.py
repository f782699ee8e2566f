"""The edge server: moto behind one port, LocalStack's endpoints, AWS-shaped errors."""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from localcloud.cloud import LocalCloud
from localcloud.config import CloudConfig
from localcloud.http import HttpRequest, HttpResponse
from tests.fixtures.localcloud import RunningCloud, StartLocalCloud

pytestmark = pytest.mark.localcloud


def test_health_answers_in_localstack_shape(local_cloud: RunningCloud) -> None:
    health = local_cloud.health()

    assert health["edition"] == "community"
    assert health["version"]
    assert health["services"]["lambda"] == "running"
    assert health["services"]["sqs"] in ("available", "running")


def test_boto3_calls_reach_moto_through_the_edge(local_cloud: RunningCloud) -> None:
    s3 = local_cloud.client("s3")
    s3.create_bucket(Bucket="edge-boto3")
    s3.put_object(
        Bucket="edge-boto3", Key="a.txt", Body=b"hello", Metadata={"my_key": "kept"}
    )

    head = s3.head_object(Bucket="edge-boto3", Key="a.txt")
    body = s3.get_object(Bucket="edge-boto3", Key="a.txt")["Body"].read()

    assert body == b"hello"
    assert head["Metadata"] == {"my_key": "kept"}


def test_the_aws_cli_reaches_moto_through_the_edge(local_cloud: RunningCloud) -> None:
    created = local_cloud.aws("sqs", "create-queue", "--queue-name", "edge-cli")

    listed = local_cloud.client("sqs").list_queues(QueueNamePrefix="edge-cli")

    assert json.loads(created.stdout)["QueueUrl"] in listed["QueueUrls"]


def test_moto_errors_keep_their_aws_code(local_cloud: RunningCloud) -> None:
    with pytest.raises(ClientError) as raised:
        local_cloud.client("s3").get_object(Bucket="no-such-bucket-x", Key="k")

    assert raised.value.response["Error"]["Code"] == "NoSuchBucket"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_a_service_moto_lacks_is_an_aws_shaped_not_implemented(
    local_cloud: RunningCloud,
) -> None:
    with pytest.raises(ClientError) as raised:
        local_cloud.client("codeartifact").list_domains()

    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert error["Error"]["Code"] == "NotImplemented"
    assert "does not implement the codeartifact service" in error["Error"]["Message"]


def test_an_operation_moto_lacks_is_an_aws_shaped_not_implemented(
    local_cloud: RunningCloud,
) -> None:
    with pytest.raises(ClientError) as raised:
        local_cloud.client("lambda").get_runtime_management_config(FunctionName="f")

    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert error["Error"]["Code"] == "NotImplemented"
    assert "runtime-management-config" in error["Error"]["Message"]


def test_a_malformed_http_request_gets_400_and_the_server_keeps_serving(
    local_cloud: RunningCloud,
) -> None:
    with socket.create_connection(("127.0.0.1", local_cloud.port), timeout=5) as sock:
        sock.sendall(b"NONSENSE\r\n\r\n")
        reply = sock.recv(4096)

    assert reply.startswith(b"HTTP/1.1 400 Bad Request")
    assert b"malformed request line" in reply
    assert local_cloud.health()["edition"] == "community"


def test_each_request_writes_one_access_log_line(local_cloud: RunningCloud) -> None:
    local_cloud.client("sqs").list_queues(QueueNamePrefix="access-log-probe")

    lines = [
        line
        for line in local_cloud.log_text().splitlines()
        if "localcloud.access" in line and "sqs.ListQueues 200" in line
    ]
    assert lines
    assert lines[-1].endswith("ms")


def test_reset_clears_moto_state(start_local_cloud: StartLocalCloud) -> None:
    cloud = start_local_cloud()
    sqs = cloud.client("sqs")
    sqs.create_queue(QueueName="forgotten")

    cloud.reset()

    assert sqs.list_queues().get("QueueUrls", []) == []


def test_reset_must_be_a_post(local_cloud: RunningCloud) -> None:
    request = urllib.request.Request(  # noqa: S310
        f"{local_cloud.endpoint_url}/_localstack/state/reset"
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=5)  # noqa: S310

    assert raised.value.code == 405
    assert "use POST" in raised.value.read().decode()


def test_large_uploads_with_expect_continue_round_trip(
    local_cloud: RunningCloud,
) -> None:
    s3 = local_cloud.client("s3")
    s3.create_bucket(Bucket="edge-large-upload")
    data = bytes(range(256)) * 8192  # 2 MiB: botocore sends Expect: 100-continue

    s3.put_object(Bucket="edge-large-upload", Key="blob", Body=data)
    stored = s3.get_object(Bucket="edge-large-upload", Key="blob")["Body"].read()

    assert stored == data


def test_a_chunked_request_body_is_read_whole(local_cloud: RunningCloud) -> None:
    body = b'{"Action": "none"}'
    request = (
        b"POST /_localstack/health HTTP/1.1\r\nHost: x\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        + f"{len(body):x}\r\n".encode()
        + body
        + b"\r\n0\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", local_cloud.port), timeout=5) as sock:
        sock.sendall(request)
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk

    assert reply.startswith(b"HTTP/1.1 200 OK")
    assert reply.endswith(b'{"status": "OK"}')


class ExplodingRoute:
    name = "exploding"

    def match(self, request: HttpRequest) -> bool:
        return request.path.startswith("/explode")

    def handle(self, request: HttpRequest) -> HttpResponse:
        raise RuntimeError("boom in the data plane")


def signed(path: str, service: str, **headers: str) -> HttpRequest:
    authorization = (
        f"AWS4-HMAC-SHA256 Credential=test/20261203/us-east-1/{service}/aws4_request, "
        "SignedHeaders=host, Signature=0"
    )
    return HttpRequest(
        "POST",
        path,
        path,
        "",
        [("Host", "127.0.0.1"), ("Authorization", authorization), *headers.items()],
        b"{}",
    )


def test_an_exception_in_a_route_becomes_an_aws_internal_failure(
    tmp_path: Path,
) -> None:
    cloud = LocalCloud(CloudConfig(port=0, state_dir=tmp_path), features=())
    cloud.add_route(ExplodingRoute())
    try:
        response = cloud.handle(
            signed("/explode", "sqs", **{"X-Amz-Target": "AmazonSQS.ListQueues"})
        )
    finally:
        cloud.stop()

    assert response.status == 500
    document = json.loads(response.body)
    assert document["__type"] == "InternalFailure"
    assert "boom in the data plane" in document["message"]


def test_a_failing_listener_turns_motos_answer_into_an_internal_failure(
    tmp_path: Path,
) -> None:
    cloud = LocalCloud(CloudConfig(port=0, state_dir=tmp_path), features=())

    def listener(request: HttpRequest, response: HttpResponse) -> None:
        raise RuntimeError("could not start the queue poller")

    cloud.add_aws_listener("sqs", listener)
    try:
        response = cloud.handle(
            signed("/", "sqs", **{"X-Amz-Target": "AmazonSQS.ListQueues"})
        )
    finally:
        cloud.stop()

    assert response.status == 500
    message = json.loads(response.body)["message"]
    assert "could not apply ListQueues to its data plane" in message
    assert "could not start the queue poller" in message

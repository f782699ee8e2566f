"""S3 static websites and anonymous object reads through the local cloud, with
buckets set up by boto3 and the AWS CLI and read over plain HTTP."""

from __future__ import annotations

import http.client
import json
import subprocess
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from botocore import UNSIGNED
from botocore.exceptions import ClientError

from tests.fixtures.localcloud import RunningCloud

pytestmark = pytest.mark.localcloud


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


def call(
    port: int,
    path: str,
    *,
    host: str = "localhost",
    method: str = "GET",
    headers: dict[str, str] | None = None,
) -> Reply:
    """An HTTP request to the edge with the given Host header (a browser resolves
    `*.localhost` to the loopback address by itself; Python's resolver may not)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(
            method, path, headers={"Host": f"{host}:{port}", **(headers or {})}
        )
        answer = connection.getresponse()
        return Reply(answer.status, answer.headers, answer.read())
    finally:
        connection.close()


def public_read(bucket: str, *actions: str) -> str:
    statements = [
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/*",
        }
    ]
    if "list" in actions:
        statements.append(
            {
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "s3:ListBucket",
                "Resource": f"arn:aws:s3:::{bucket}",
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


@dataclass
class Site:
    cloud: RunningCloud
    bucket: str

    @property
    def host(self) -> str:
        return f"{self.bucket}.s3-website.localhost"

    def get(self, path: str, **kwargs: Any) -> Reply:
        return call(self.cloud.port, path, host=self.host, **kwargs)


@pytest.fixture(scope="module")
def site(local_cloud: RunningCloud) -> Site:
    bucket = f"site-{uuid.uuid4().hex[:10]}"
    s3 = local_cloud.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_website(
        Bucket=bucket,
        WebsiteConfiguration={
            "IndexDocument": {"Suffix": "index.html"},
            "ErrorDocument": {"Key": "error.html"},
        },
    )
    files = {
        "index.html": (b"<h1>dashboard</h1>", "text/html"),
        "assets/app.js": (b"console.log(1)", "application/javascript"),
        "docs/index.html": (b"<h1>docs</h1>", "text/html"),
        "error.html": (b"<h1>not here</h1>", "text/html"),
    }
    for key, (body, content_type) in files.items():
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=body,
            ContentType=content_type,
            CacheControl="max-age=60",
            Metadata={"build": "42"},
        )
    s3.put_bucket_policy(Bucket=bucket, Policy=public_read(bucket))
    return Site(local_cloud, bucket)


def test_the_website_root_serves_the_index_document(site: Site) -> None:
    reply = site.get("/")

    assert reply.status == 200
    assert reply.body == b"<h1>dashboard</h1>"
    assert reply.headers["Content-Type"] == "text/html"


def test_an_object_is_served_with_its_stored_content_type_and_metadata(
    site: Site,
) -> None:
    reply = site.get("/assets/app.js")

    assert reply.status == 200
    assert reply.body == b"console.log(1)"
    assert reply.headers["Content-Type"] == "application/javascript"
    assert reply.headers["Cache-Control"] == "max-age=60"
    assert reply.headers["x-amz-meta-build"] == "42"
    assert reply.headers["ETag"].startswith('"')


def test_a_folder_gets_its_index_and_a_folder_without_slash_is_redirected(
    site: Site,
) -> None:
    folder = site.get("/docs/")
    without_slash = site.get("/docs")

    assert folder.status == 200
    assert folder.body == b"<h1>docs</h1>"
    assert without_slash.status == 302
    assert without_slash.headers["Location"] == "/docs/"


def test_a_missing_page_without_public_listing_is_403_with_the_error_document(
    site: Site,
) -> None:
    reply = site.get("/no/such/page")

    assert reply.status == 403
    assert reply.body == b"<h1>not here</h1>"


def test_a_missing_page_is_404_when_the_public_may_list_the_bucket(
    local_cloud: RunningCloud,
) -> None:
    bucket = f"listed-{uuid.uuid4().hex[:10]}"
    s3 = local_cloud.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_website(
        Bucket=bucket, WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}}
    )
    s3.put_bucket_policy(Bucket=bucket, Policy=public_read(bucket, "list"))

    reply = call(local_cloud.port, "/gone.html", host=f"{bucket}.s3-website.localhost")

    assert reply.status == 404
    assert reply.headers["Content-Type"] == "text/html; charset=utf-8"
    assert b"<li>Code: NoSuchKey</li>" in reply.body
    assert b"<li>Key: gone.html</li>" in reply.body


def test_a_bucket_without_a_website_configuration_is_s3_s_404_page(
    local_cloud: RunningCloud,
) -> None:
    bucket = f"plain-{uuid.uuid4().hex[:10]}"
    local_cloud.client("s3").create_bucket(Bucket=bucket)

    reply = call(local_cloud.port, "/", host=f"{bucket}.s3-website.localhost")
    missing = call(local_cloud.port, "/", host="no-such-bucket.s3-website.localhost")

    assert reply.status == 404
    assert b"<li>Code: NoSuchWebsiteConfiguration</li>" in reply.body
    assert missing.status == 404
    assert b"<li>Code: NoSuchBucket</li>" in missing.body


def test_a_website_bucket_without_a_public_policy_refuses_everyone(
    local_cloud: RunningCloud,
) -> None:
    bucket = f"closed-{uuid.uuid4().hex[:10]}"
    s3 = local_cloud.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_website(
        Bucket=bucket, WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}}
    )
    s3.put_object(
        Bucket=bucket, Key="index.html", Body=b"secret", ContentType="text/html"
    )

    reply = call(local_cloud.port, "/", host=f"{bucket}.s3-website.localhost")

    assert reply.status == 403
    assert b"<li>Code: AccessDenied</li>" in reply.body
    assert b"secret" not in reply.body


def test_the_localstack_host_name_and_head_requests_work_too(site: Site) -> None:
    reply = call(
        site.cloud.port,
        "/assets/app.js",
        host=f"{site.bucket}.s3-website.localhost.localstack.cloud",
        method="HEAD",
    )

    assert reply.status == 200
    assert reply.body == b""
    assert reply.headers["Content-Length"] == str(len(b"console.log(1)"))


def test_a_conditional_request_for_an_unchanged_object_is_304(site: Site) -> None:
    etag = site.get("/assets/app.js").headers["ETag"]

    reply = site.get("/assets/app.js", headers={"If-None-Match": etag})

    assert reply.status == 304
    assert reply.body == b""


def test_the_website_url_opens_with_curl_which_resolves_localhost_names_itself(
    site: Site,
) -> None:
    url = f"http://{site.host}:{site.cloud.port}/"

    result = subprocess.run(
        ["curl", "-s", "--max-time", "20", url], capture_output=True, check=True
    )

    assert result.stdout == b"<h1>dashboard</h1>"


def test_an_anonymous_path_style_get_is_served_when_the_policy_allows_it(
    site: Site,
) -> None:
    reply = call(site.cloud.port, f"/{site.bucket}/assets/app.js")

    assert reply.status == 200
    assert reply.body == b"console.log(1)"
    assert reply.headers["Content-Type"] == "application/javascript"


def test_an_anonymous_get_from_a_private_bucket_is_access_denied(
    local_cloud: RunningCloud,
) -> None:
    bucket = f"private-{uuid.uuid4().hex[:10]}"
    s3 = local_cloud.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="report.csv", Body=b"a,b\n")

    reply = call(local_cloud.port, f"/{bucket}/report.csv")

    assert reply.status == 403
    assert reply.headers["Content-Type"] == "application/xml"
    assert b"<Code>AccessDenied</Code><Message>Access Denied</Message>" in reply.body


def test_signed_requests_to_a_private_bucket_still_reach_s3(
    local_cloud: RunningCloud,
) -> None:
    bucket = f"private-{uuid.uuid4().hex[:10]}"
    s3 = local_cloud.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="report.csv", Body=b"a,b\n")

    through_boto3 = s3.get_object(Bucket=bucket, Key="report.csv")["Body"].read()
    through_cli = subprocess.run(
        [".venv/bin/aws", "s3", "cp", f"s3://{bucket}/report.csv", "-"],
        env=local_cloud.env,
        capture_output=True,
        check=True,
    ).stdout

    assert through_boto3 == b"a,b\n"
    assert through_cli == b"a,b\n"


def test_unsigned_sdk_reads_follow_the_bucket_policy(
    local_cloud: RunningCloud, site: Site
) -> None:
    private = f"private-{uuid.uuid4().hex[:10]}"
    local_cloud.client("s3").create_bucket(Bucket=private)
    local_cloud.client("s3").put_object(Bucket=private, Key="k", Body=b"x")
    anonymous = local_cloud.client("s3", signature_version=UNSIGNED)

    public = anonymous.get_object(Bucket=site.bucket, Key="index.html")["Body"].read()
    with pytest.raises(ClientError) as refused:
        anonymous.get_object(Bucket=private, Key="k")

    assert public == b"<h1>dashboard</h1>"
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_an_explicit_deny_beats_the_public_grant(local_cloud: RunningCloud) -> None:
    bucket = f"denied-{uuid.uuid4().hex[:10]}"
    s3 = local_cloud.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="public/a.txt", Body=b"a")
    s3.put_object(Bucket=bucket, Key="private/b.txt", Body=b"b")
    policy = json.loads(public_read(bucket))
    policy["Statement"].append(
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/private/*",
        }
    )
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))

    allowed = call(local_cloud.port, f"/{bucket}/public/a.txt")
    denied = call(local_cloud.port, f"/{bucket}/private/b.txt")

    assert allowed.status == 200
    assert denied.status == 403

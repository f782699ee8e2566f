"""S3 website rules without a network: bucket policies, website configurations,
routing rules and error pages, on buckets in moto's backend under `mock_aws`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.s3.models import s3_backends

from localcloud.http import HttpRequest
from localcloud.s3website import (
    AnonymousObjectRoute,
    S3WebsiteRoute,
    WebsiteConfiguration,
    parse_website_configuration,
)
from localcloud.s3website.config import Redirect, RoutingRule
from localcloud.s3website.policy import (
    AnonymousRequest,
    anonymous_get_allowed,
    anonymous_list_allowed,
)
from localcloud.s3website.website import localize_website_url, website_bucket

pytestmark = pytest.mark.unit


def get(
    host: str, path: str, headers: list[tuple[str, str]] | None = None
) -> HttpRequest:
    raw, _, query = path.partition("?")
    return HttpRequest("GET", raw, raw, query, [("Host", host), *(headers or [])], b"")


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="web")
        client.put_object(Bucket="web", Key="docs/a.txt", Body=b"a")
        yield client


def bucket_and_key(key: str = "docs/a.txt") -> tuple[Any, Any]:
    bucket = s3_backends["123456789012"]["aws"].buckets["web"]
    return bucket, bucket.keys[key]


def allow(statement: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@pytest.mark.parametrize(
    ("statement", "allowed"),
    [
        (
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::web/*",
            },
            True,
        ),
        (
            {
                "Effect": "Allow",
                "Principal": {"AWS": ["*"]},
                "Action": "s3:Get*",
                "Resource": "arn:aws:s3:::web/docs/*",
            },
            True,
        ),
        (
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": "arn:aws:s3:::web/other/*",
            },
            False,
        ),
        (
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::1:root"},
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::web/*",
            },
            False,
        ),
        (
            {
                "Effect": "Allow",
                "Principal": "*",
                "NotAction": "s3:PutObject",
                "Resource": "arn:aws:s3:::web/*",
            },
            True,
        ),
        (
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::web/*",
                "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
            },
            False,
        ),
        (
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::web/*",
                "Condition": {"IpAddress": {"aws:SourceIp": ["127.0.0.0/8"]}},
            },
            True,
        ),
        (
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::web/*",
                "Condition": {"StringLike": {"aws:Referer": "http://*.localhost/*"}},
            },
            True,
        ),
        (
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::web/*",
                "Condition": {"Bool": {"aws:SecureTransport": "true"}},
            },
            False,
        ),
    ],
)
def test_a_bucket_policy_grants_anonymous_reads_only_when_it_names_them(
    s3: Any, statement: dict[str, Any], allowed: bool
) -> None:
    s3.put_bucket_policy(Bucket="web", Policy=allow(statement))
    bucket, key = bucket_and_key()
    caller = AnonymousRequest(source_ip="127.0.0.1", referer="http://app.localhost/x")

    assert anonymous_get_allowed(bucket, key, caller) is allowed


def test_a_condition_the_local_cloud_cannot_evaluate_grants_nothing_and_warns(
    s3: Any, caplog: pytest.LogCaptureFixture
) -> None:
    s3.put_bucket_policy(
        Bucket="web",
        Policy=allow(
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::web/*",
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-1"}},
            }
        ),
    )
    bucket, key = bucket_and_key()

    assert anonymous_get_allowed(bucket, key, AnonymousRequest()) is False
    assert "aws:PrincipalOrgID is not evaluated" in caplog.text


def test_a_public_read_acl_grants_reads_unless_public_acls_are_ignored(s3: Any) -> None:
    s3.put_object(Bucket="web", Key="acl.txt", Body=b"x", ACL="public-read")
    bucket, key = bucket_and_key("acl.txt")
    readable = anonymous_get_allowed(bucket, key, AnonymousRequest())

    s3.put_public_access_block(
        Bucket="web",
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": False,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": False,
        },
    )

    assert readable is True
    assert anonymous_get_allowed(bucket, key, AnonymousRequest()) is False


def test_restrict_public_buckets_voids_a_public_policy(s3: Any) -> None:
    s3.put_bucket_policy(
        Bucket="web",
        Policy=allow(
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": ["arn:aws:s3:::web", "arn:aws:s3:::web/*"],
            }
        ),
    )
    bucket, key = bucket_and_key()
    before = (
        anonymous_get_allowed(bucket, key, AnonymousRequest()),
        anonymous_list_allowed(bucket, AnonymousRequest()),
    )

    s3.put_public_access_block(
        Bucket="web",
        PublicAccessBlockConfiguration={"RestrictPublicBuckets": True},
    )

    assert before == (True, True)
    assert anonymous_get_allowed(bucket, key, AnonymousRequest()) is False


def test_a_website_configuration_survives_a_round_trip_through_xml() -> None:
    configuration = WebsiteConfiguration(
        index_suffix="index.html",
        error_key="404 & more.html",
        routing_rules=(
            RoutingRule(
                redirect=Redirect(
                    replace_key_prefix_with="new/", http_redirect_code="302"
                ),
                key_prefix_equals="old/",
            ),
        ),
    )

    assert parse_website_configuration(configuration.to_xml()) == configuration


def test_routing_rules_redirect_by_prefix_and_after_an_error(s3: Any) -> None:
    s3.put_bucket_website(
        Bucket="web",
        WebsiteConfiguration={
            "IndexDocument": {"Suffix": "index.html"},
            "RoutingRules": [
                {
                    "Condition": {"KeyPrefixEquals": "old/"},
                    "Redirect": {
                        "ReplaceKeyPrefixWith": "new/",
                        "HttpRedirectCode": "302",
                    },
                },
                {
                    "Condition": {"HttpErrorCodeReturnedEquals": "403"},
                    "Redirect": {
                        "HostName": "fallback.localhost",
                        "ReplaceKeyWith": "oops",
                    },
                },
            ],
        },
    )
    route = S3WebsiteRoute()

    moved = route.handle(get("web.s3-website.localhost:4566", "/old/page.html"))
    failed = route.handle(get("web.s3-website.localhost:4566", "/docs/a.txt"))

    assert moved.status == 302
    assert (
        "Location",
        "http://web.s3-website.localhost:4566/new/page.html",
    ) in moved.headers
    assert failed.status == 301
    assert ("Location", "http://fallback.localhost/oops") in failed.headers


def test_redirect_all_requests_sends_every_path_to_the_other_host(s3: Any) -> None:
    s3.put_bucket_website(
        Bucket="web",
        WebsiteConfiguration={
            "RedirectAllRequestsTo": {
                "HostName": "www.example.com",
                "Protocol": "https",
            }
        },
    )

    reply = S3WebsiteRoute().handle(get("web.s3-website.localhost", "/x/y?z=1"))

    assert reply.status == 301
    assert ("Location", "https://www.example.com/x/y") in reply.headers


def test_a_missing_error_document_is_reported_in_the_error_page(s3: Any) -> None:
    s3.put_bucket_website(
        Bucket="web",
        WebsiteConfiguration={
            "IndexDocument": {"Suffix": "index.html"},
            "ErrorDocument": {"Key": "missing-error.html"},
        },
    )

    reply = S3WebsiteRoute().handle(get("web.s3-website.localhost", "/nope"))

    assert reply.status == 403
    assert (
        b"An Error Occurred While Attempting to Retrieve a Custom Error" in reply.body
    )
    assert b"<li>Key: missing-error.html</li>" in reply.body


def test_a_write_to_the_website_endpoint_is_405(s3: Any) -> None:
    request = HttpRequest(
        "PUT", "/x", "/x", "", [("Host", "web.s3-website.localhost")], b""
    )

    reply = S3WebsiteRoute().handle(request)

    assert reply.status == 405
    assert b"MethodNotAllowed" in reply.body


def test_the_anonymous_route_leaves_signed_listing_and_subresource_requests_to_s3(
    s3: Any,
) -> None:
    route = AnonymousObjectRoute()
    signed = get(
        "localhost:4566", "/web/docs/a.txt", [("Authorization", "AWS4-HMAC-SHA256 x")]
    )
    presigned = get(
        "localhost:4566", "/web/docs/a.txt?X-Amz-Signature=abc&X-Amz-Credential=x"
    )

    assert route.match(get("localhost:4566", "/web/docs/a.txt"))
    assert route.match(get("web.s3.localhost.localstack.cloud:4566", "/docs/a.txt"))
    assert not route.match(signed)
    assert not route.match(presigned)
    assert not route.match(get("localhost:4566", "/web"))
    assert not route.match(get("localhost:4566", "/web/docs/a.txt?acl"))
    assert not route.match(get("localhost:4566", "/no-such-bucket/key"))


def test_website_host_names_and_aws_website_urls_are_recognised() -> None:
    assert website_bucket("my.site.s3-website.localhost:4566") == "my.site"
    assert website_bucket("b.s3-website-us-east-1.localhost.localstack.cloud") == "b"
    assert website_bucket("b.s3.localhost:4566") is None
    assert (
        localize_website_url("http://b.s3-website-eu-west-1.amazonaws.com/x", 4566)
        == "http://b.s3-website.localhost:4566/x"
    )
    assert localize_website_url("http://example.com", 4566) is None

"""`AWS::S3::Bucket` (beyond moto's encryption and tags) and `AWS::S3::BucketPolicy`.

Bucket: moto creates the bucket (name, encryption, tags); then the properties
a website bucket needs are applied through moto's S3 backend, as the S3 API
would: WebsiteConfiguration (index/error documents, RedirectAllRequestsTo,
RoutingRules), PublicAccessBlockConfiguration, VersioningConfiguration,
CorsConfiguration, AccessControl (canned ACL). Fn::GetAtt WebsiteURL is the
local website endpoint `http://{bucket}.s3-website.localhost:{port}`, which a
browser opens offline. LifecycleConfiguration, NotificationConfiguration and
the like are accepted and not applied, with a warning.

BucketPolicy: PutBucketPolicy with the template's document; deleting the
resource deletes the policy.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from moto.s3.models import FakeBucket, get_canned_acl, s3_backends

from localcloud.s3website import WebsiteConfiguration, website_url
from localcloud.s3website.config import Redirect, RoutingRule

from .base import LocalResource, as_bool
from .context import endpoints
from .exceptions import TemplateError

logger = logging.getLogger(__name__)

_APPLIED = frozenset(
    {
        "BucketName",
        "BucketEncryption",
        "Tags",
        "WebsiteConfiguration",
        "PublicAccessBlockConfiguration",
        "VersioningConfiguration",
        "CorsConfiguration",
        "AccessControl",
        "OwnershipControls",
    }
)
_CANNED_ACLS = {
    "Private": "private",
    "PublicRead": "public-read",
    "PublicReadWrite": "public-read-write",
    "AuthenticatedRead": "authenticated-read",
    "BucketOwnerRead": "bucket-owner-read",
    "BucketOwnerFullControl": "bucket-owner-full-control",
    "LogDeliveryWrite": "log-delivery-write",
    "AwsExecRead": "aws-exec-read",
}


class Bucket(LocalResource):
    TYPE = "AWS::S3::Bucket"
    NAME_PROPERTY = "BucketName"
    ATTRIBUTES = frozenset(
        {"Arn", "DomainName", "DualStackDomainName", "RegionalDomainName", "WebsiteURL"}
    )

    @classmethod
    def create(
        cls,
        name: str,
        logical_id: str,
        properties: dict[str, Any],
        account_id: str,
        region: str,
    ) -> Bucket:
        bucket = FakeBucket.create_from_cloudformation_json(
            name, {"Properties": properties}, account_id, region
        )
        resource = cls(bucket.name, properties, account_id, region)
        resource.apply(properties, {})
        return resource

    @classmethod
    def update(
        cls,
        original: Any,
        name: str,
        logical_id: str,
        properties: dict[str, Any],
        account_id: str,
        region: str,
    ) -> Any:
        wanted = properties.get("BucketName")
        if wanted and wanted != original.physical_resource_id:
            return super().update(
                original, name, logical_id, properties, account_id, region
            )
        original.apply(properties, original.properties)
        original.properties = properties
        return original

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name == "WebsiteURL":
            return website_url(self.physical_resource_id, endpoints().port)
        return (
            self._backend()
            .get_bucket(self.physical_resource_id)
            .get_cfn_attribute(attribute_name)
        )

    def remove(self) -> None:
        self._backend().delete_bucket(self.physical_resource_id)

    def _backend(self) -> Any:
        return s3_backends[self.account_id]["aws"]

    def apply(self, properties: dict[str, Any], before: dict[str, Any]) -> None:
        backend = self._backend()
        name = self.physical_resource_id
        for key in sorted(set(properties) - _APPLIED):
            logger.warning(
                "bucket %s: property %s is not applied by the local cloud", name, key
            )

        website = properties.get("WebsiteConfiguration")
        if website:
            backend.put_bucket_website(name, _website(website).to_xml())
        elif before.get("WebsiteConfiguration"):
            backend.delete_bucket_website(name)

        block = properties.get("PublicAccessBlockConfiguration")
        if block:
            backend.put_public_access_block(
                name, {key: as_bool(value) for key, value in block.items()}
            )
        elif before.get("PublicAccessBlockConfiguration"):
            backend.delete_public_access_block(name)

        versioning = properties.get("VersioningConfiguration")
        if versioning:
            backend.put_bucket_versioning(name, versioning.get("Status", "Suspended"))

        cors = properties.get("CorsConfiguration")
        if cors:
            backend.put_bucket_cors(name, _cors_rules(cors))
        elif before.get("CorsConfiguration"):
            backend.delete_bucket_cors(name)

        acl = properties.get("AccessControl")
        if acl:
            if acl not in _CANNED_ACLS:
                raise TemplateError(
                    f"bucket {name}: AccessControl {acl!r} is not a canned ACL; "
                    f"use one of {', '.join(_CANNED_ACLS)}"
                )
            backend.put_bucket_acl(name, get_canned_acl(_CANNED_ACLS[acl]))


def _website(properties: dict[str, Any]) -> WebsiteConfiguration:
    redirect_all = properties.get("RedirectAllRequestsTo")
    return WebsiteConfiguration(
        index_suffix=properties.get("IndexDocument"),
        error_key=properties.get("ErrorDocument"),
        redirect_all_to=Redirect(
            host_name=redirect_all.get("HostName"),
            protocol=redirect_all.get("Protocol"),
        )
        if redirect_all
        else None,
        routing_rules=tuple(
            _rule(rule) for rule in properties.get("RoutingRules") or []
        ),
    )


def _rule(rule: dict[str, Any]) -> RoutingRule:
    condition = rule.get("RoutingRuleCondition") or {}
    redirect = rule.get("RedirectRule") or {}
    code = condition.get("HttpErrorCodeReturnedEquals")
    return RoutingRule(
        redirect=Redirect(
            host_name=redirect.get("HostName"),
            protocol=redirect.get("Protocol"),
            http_redirect_code=str(redirect["HttpRedirectCode"])
            if "HttpRedirectCode" in redirect
            else None,
            replace_key_prefix_with=redirect.get("ReplaceKeyPrefixWith"),
            replace_key_with=redirect.get("ReplaceKeyWith"),
        ),
        key_prefix_equals=condition.get("KeyPrefixEquals"),
        http_error_code_returned_equals=str(code) if code is not None else None,
    )


def _cors_rules(cors: dict[str, Any]) -> list[dict[str, Any]]:
    rules = []
    for rule in cors.get("CorsRules") or []:
        converted: dict[str, Any] = {
            "AllowedMethod": list(rule.get("AllowedMethods") or []),
            "AllowedOrigin": list(rule.get("AllowedOrigins") or []),
            "AllowedHeader": list(rule.get("AllowedHeaders") or []),
            "ExposeHeader": list(rule.get("ExposedHeaders") or []),
        }
        if "MaxAge" in rule:
            converted["MaxAgeSeconds"] = str(rule["MaxAge"])
        if "Id" in rule:
            converted["ID"] = str(rule["Id"])
        rules.append(converted)
    return rules


class BucketPolicy(LocalResource):
    TYPE = "AWS::S3::BucketPolicy"

    @classmethod
    def create(
        cls,
        name: str,
        logical_id: str,
        properties: dict[str, Any],
        account_id: str,
        region: str,
    ) -> BucketPolicy:
        bucket = str(properties.get("Bucket", ""))
        document = properties.get("PolicyDocument")
        if not bucket or document is None:
            raise TemplateError(
                f"{logical_id}: AWS::S3::BucketPolicy needs Bucket and PolicyDocument"
            )
        text = document if isinstance(document, str) else json.dumps(document)
        s3_backends[account_id]["aws"].put_bucket_policy(bucket, text.encode())
        return cls(bucket, properties, account_id, region)

    @classmethod
    def update(
        cls,
        original: Any,
        name: str,
        logical_id: str,
        properties: dict[str, Any],
        account_id: str,
        region: str,
    ) -> Any:
        if str(properties.get("Bucket", "")) != original.physical_resource_id:
            return super().update(
                original, name, logical_id, properties, account_id, region
            )
        return cls.create(name, logical_id, properties, account_id, region)

    def remove(self) -> None:
        backend = s3_backends[self.account_id]["aws"]
        if self.physical_resource_id in backend.buckets:
            backend.delete_bucket_policy(self.physical_resource_id)

"""The S3 website endpoint: `http://{bucket}.s3-website.localhost:{port}/`.

Also answers `{bucket}.s3-website.localhost.localstack.cloud` (LocalStack's
name, which needs public DNS) and both with a region label
(`{bucket}.s3-website.{region}.localhost...` or `s3-website-{region}`).

Like S3's website endpoint: GET and HEAD only; `/` and keys ending in `/` get
the index document; a key without the slash whose `key/index` exists is
redirected there (302); objects must be publicly readable (bucket policy or
ACL), and a missing key is 404 only when the public may list the bucket, 403
otherwise; 4xx errors serve the custom error document with the error's status;
RedirectAllRequestsTo, routing rules and per-object redirect locations
(`x-amz-website-redirect-location`) redirect. Errors are S3's HTML pages.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import unquote

from localcloud.http import HttpRequest, HttpResponse

from .config import (
    Redirect,
    RoutingRule,
    WebsiteConfiguration,
    parse_website_configuration,
)
from .exceptions import S3WebsiteError
from .objects import find_bucket, find_key, object_response
from .pages import (
    ACCESS_DENIED,
    METHOD_NOT_ALLOWED,
    NO_SUCH_BUCKET,
    NO_SUCH_KEY,
    NO_SUCH_WEBSITE,
    S3Error,
    website_error_page,
)
from .policy import AnonymousRequest, anonymous_get_allowed, anonymous_list_allowed

logger = logging.getLogger(__name__)

_HOST = re.compile(
    r"^(?P<bucket>[a-z0-9][a-z0-9.-]*)\.s3-website(?:[.-][a-z0-9-]+)?"
    r"\.localhost(?:\.localstack\.cloud)?\.?(?::\d+)?$",
    re.IGNORECASE,
)


def website_bucket(host: str) -> str | None:
    """The bucket a website host name addresses, or None."""
    if ".s3-website" not in host:
        return None
    found = _HOST.match(host)
    return found.group("bucket").lower() if found else None


def website_url(bucket: str, port: int) -> str:
    """The website URL of a bucket that a browser opens without network access."""
    return f"http://{bucket}.s3-website.localhost:{port}"


_AWS_WEBSITE_URL = re.compile(
    r"^https?://(?P<bucket>[a-z0-9][a-z0-9.-]*)\.s3-website[.-][a-z0-9-]+"
    r"\.amazonaws\.com(?P<rest>/.*)?$"
)


def localize_website_url(url: str, port: int) -> str | None:
    """The local form of an AWS website endpoint URL (`http://{bucket}.s3-website-
    {region}.amazonaws.com` or `.s3-website.{region}.`), or None if not one."""
    found = _AWS_WEBSITE_URL.match(url)
    if found is None:
        return None
    return website_url(found.group("bucket"), port) + (found.group("rest") or "")


class S3WebsiteRoute:
    """The `DataPlaneRoute` of S3 website endpoints."""

    name = "s3website"

    def match(self, request: HttpRequest) -> bool:
        return website_bucket(request.host) is not None

    def handle(self, request: HttpRequest) -> HttpResponse:
        bucket_name = website_bucket(request.host) or ""
        if request.method not in ("GET", "HEAD"):
            return website_error_page(METHOD_NOT_ALLOWED)
        bucket = find_bucket(bucket_name)
        if bucket is None:
            return website_error_page(NO_SUCH_BUCKET, bucket=bucket_name)
        if not bucket.website_configuration:
            return website_error_page(NO_SUCH_WEBSITE, bucket=bucket_name)
        try:
            config = parse_website_configuration(bucket.website_configuration)
        except S3WebsiteError as error:
            logger.warning("bucket %s: %s", bucket_name, error)
            return website_error_page(NO_SUCH_WEBSITE, bucket=bucket_name)
        return _Visit(request, bucket, config).respond()


class _Visit:
    """One website request: the lookup, the redirects and the errors."""

    def __init__(self, request: HttpRequest, bucket: Any, config: WebsiteConfiguration):
        self.request = request
        self.bucket = bucket
        self.config = config
        self.caller = AnonymousRequest(
            source_ip=request.client_ip,
            referer=request.header("referer"),
            user_agent=request.header("user-agent"),
        )
        self.path_key = unquote(request.path.lstrip("/"))

    def respond(self) -> HttpResponse:
        if self.config.redirect_all_to is not None:
            target = self.config.redirect_all_to
            protocol = target.protocol or "http"
            location = f"{protocol}://{target.host_name}{self.request.raw_path}"
            return _redirect(301, location)
        for rule in self.config.routing_rules:
            if rule.http_error_code_returned_equals is None and _prefix_matches(
                rule, self.path_key
            ):
                return self._follow(rule)

        key_name = self.path_key
        if (not key_name or key_name.endswith("/")) and self.config.index_suffix:
            key_name += self.config.index_suffix
        key = find_key(self.bucket, key_name)
        if key is None and key_name and self.config.index_suffix:
            folder_index = find_key(
                self.bucket, f"{key_name}/{self.config.index_suffix}"
            )
            if folder_index is not None and self._readable(folder_index):
                return _redirect(302, f"/{key_name}/")

        if key is not None and self._readable(key):
            if key.website_redirect_location:
                return _redirect(301, key.website_redirect_location)
            return object_response(self.request, key)
        if key is not None or not anonymous_list_allowed(self.bucket, self.caller):
            return self._error(ACCESS_DENIED, key_name)
        return self._error(NO_SUCH_KEY, key_name)

    def _readable(self, key: Any) -> bool:
        return anonymous_get_allowed(self.bucket, key, self.caller)

    def _error(self, error: S3Error, key_name: str) -> HttpResponse:
        for rule in self.config.routing_rules:
            if rule.http_error_code_returned_equals == str(error.status) and (
                _prefix_matches(rule, self.path_key)
            ):
                return self._follow(rule)
        document_key = self.config.error_key
        if not document_key:
            return website_error_page(error, bucket=self.bucket.name, key=key_name)
        document = find_key(self.bucket, document_key)
        if document is None:
            return website_error_page(
                error, key=key_name, error_document=(NO_SUCH_KEY, document_key)
            )
        if not self._readable(document):
            return website_error_page(
                error, key=key_name, error_document=(ACCESS_DENIED, document_key)
            )
        return object_response(self.request, document, status=error.status)

    def _follow(self, rule: RoutingRule) -> HttpResponse:
        redirect: Redirect = rule.redirect
        key = self.path_key
        if redirect.replace_key_with is not None:
            key = redirect.replace_key_with
        elif redirect.replace_key_prefix_with is not None:
            prefix = rule.key_prefix_equals or ""
            key = redirect.replace_key_prefix_with + key[len(prefix) :]
        protocol = redirect.protocol or "http"
        host = redirect.host_name or self.request.host
        return _redirect(
            int(redirect.http_redirect_code or 301), f"{protocol}://{host}/{key}"
        )


def _prefix_matches(rule: RoutingRule, key: str) -> bool:
    return rule.key_prefix_equals is None or key.startswith(rule.key_prefix_equals)


def _redirect(status: int, location: str) -> HttpResponse:
    return HttpResponse(status, b"", [("Location", location)])

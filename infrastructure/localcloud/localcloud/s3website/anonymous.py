"""Anonymous object reads on S3's REST endpoint, with S3's access checks.

`GET http://localhost:{port}/{bucket}/{key}` without credentials (a browser, curl,
`<img src>`) succeeds on AWS only when the bucket policy or the object ACL lets
everyone read; otherwise S3 answers 403 AccessDenied. moto does not check, so
this route takes those requests: unsigned GET or HEAD of an object, path-style
or virtual-hosted (`{bucket}.s3.localhost[.localstack.cloud]`), in an existing
bucket. Signed and presigned requests, listings and sub-resource requests
(`?acl`, `?tagging`, ...) stay with moto.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from localcloud.http import HttpRequest, HttpResponse

from .objects import find_bucket, find_key, object_response
from .pages import ACCESS_DENIED, NO_SUCH_KEY, S3Error, rest_error
from .policy import AnonymousRequest, anonymous_get_allowed, anonymous_list_allowed

_SIGNATURE_PARAMS = frozenset(
    {"x-amz-signature", "x-amz-credential", "signature", "awsaccesskeyid"}
)
# Paths the edge serves itself or that other planes own; never bucket names
# (bucket names cannot start with "_").
_RESERVED_PREFIXES = ("/_localstack", "/_aws")
_VIRTUAL_HOST = re.compile(
    r"^(?P<bucket>[a-z0-9][a-z0-9.-]*)\.s3(?:[.-][a-z0-9-]+)?"
    r"\.localhost(?:\.localstack\.cloud)?\.?(?::\d+)?$",
    re.IGNORECASE,
)
ANONYMOUS_OVERRIDES = S3Error(
    400,
    "InvalidRequest",
    "Request specific response headers cannot be used for anonymous GET requests.",
)


def anonymous_object(request: HttpRequest) -> tuple[str, str] | None:
    """(bucket, key) of an unsigned object GET or HEAD, else None."""
    if request.method not in ("GET", "HEAD"):
        return None
    if request.header("authorization") is not None:
        return None
    names = {name.lower() for name, _ in request.query_params}
    if names & _SIGNATURE_PARAMS:
        return None
    if any(not name.startswith("response-") for name in names):
        return None
    if request.path.startswith(_RESERVED_PREFIXES):
        return None

    virtual = _VIRTUAL_HOST.match(request.host) if ".s3" in request.host else None
    if virtual is not None:
        bucket, key = virtual.group("bucket").lower(), request.raw_path.lstrip("/")
    else:
        bucket, _, key = request.raw_path.lstrip("/").partition("/")
    if not bucket or not key:
        return None
    return unquote(bucket), unquote(key)


class AnonymousObjectRoute:
    """The `DataPlaneRoute` of unsigned object reads."""

    name = "s3-anonymous"

    def match(self, request: HttpRequest) -> bool:
        target = anonymous_object(request)
        return target is not None and find_bucket(target[0]) is not None

    def handle(self, request: HttpRequest) -> HttpResponse:
        bucket_name, key_name = anonymous_object(request) or ("", "")
        bucket = find_bucket(bucket_name)
        caller = AnonymousRequest(
            source_ip=request.client_ip,
            referer=request.header("referer"),
            user_agent=request.header("user-agent"),
        )
        key = find_key(bucket, key_name) if bucket is not None else None
        if key is None:
            if bucket is not None and anonymous_list_allowed(bucket, caller):
                return rest_error(NO_SUCH_KEY, key=key_name)
            return rest_error(ACCESS_DENIED)
        if not anonymous_get_allowed(bucket, key, caller):
            return rest_error(ACCESS_DENIED)
        if request.query_string:
            return rest_error(ANONYMOUS_OVERRIDES)
        return object_response(request, key)

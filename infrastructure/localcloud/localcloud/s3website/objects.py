"""Reading buckets and objects from moto, and answering a GET or HEAD for one.

The headers are the ones S3 sends for GetObject: the stored Content-Type and
other system metadata (Cache-Control, Content-Encoding, ...), `x-amz-meta-*`
user metadata, ETag, Last-Modified. Conditional requests (If-None-Match,
If-Modified-Since) get 304 and a single byte range gets 206, as browsers
expect; multi-range requests get the whole object.
"""

from __future__ import annotations

import email.utils
import re
from typing import Any

from moto.s3.models import FakeKey, s3_backends

from localcloud.http import HttpRequest, HttpResponse

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
# What S3 stores from a PutObject and returns on GetObject; moto's metadata
# also holds request headers such as x-amz-content-sha256, which S3 drops.
_SYSTEM_METADATA = {
    name.lower(): name
    for name in (
        "Content-Type",
        "Content-Encoding",
        "Content-Disposition",
        "Content-Language",
        "Cache-Control",
        "Expires",
        "x-amz-website-redirect-location",
    )
}


def find_bucket(name: str) -> Any:
    """moto's bucket of that name in any account, or None."""
    for partitions in list(dict.values(s3_backends)):
        for backend in list(dict.values(partitions)):
            bucket = backend.buckets.get(name)
            if bucket is not None:
                return bucket
    return None


def find_key(bucket: Any, name: str) -> Any:
    """The current version of an object, or None (also for a delete marker)."""
    if not name:
        return None
    key = bucket.keys.get(name)
    return key if isinstance(key, FakeKey) else None


def object_response(
    request: HttpRequest, key: Any, *, status: int = 200, conditional: bool = True
) -> HttpResponse:
    """The response to a GET or HEAD of `key`. `status` is 404 when the object
    is a website's error document, which S3 sends without range handling."""
    headers = [
        (_SYSTEM_METADATA.get(name.lower(), name), str(value))
        for name, value in key.metadata.items()
        if name.lower() in _SYSTEM_METADATA or name.lower().startswith("x-amz-meta-")
    ]
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "binary/octet-stream"))
    headers += [
        ("ETag", key.etag),
        ("Last-Modified", key.last_modified_RFC1123),
        ("Accept-Ranges", "bytes"),
    ]
    if conditional and status == 200 and _not_modified(request, key):
        return HttpResponse(304, b"", headers)

    size = key.size
    if request.method == "HEAD":
        return HttpResponse(status, b"", [*headers, ("Content-Length", str(size))])
    body: bytes = key.value
    if status == 200:
        span = _byte_range(request.header("range"), size)
        if span is not None:
            first, last = span
            headers.append(("Content-Range", f"bytes {first}-{last}/{size}"))
            return HttpResponse(206, body[first : last + 1], headers)
    return HttpResponse(status, body, headers)


def _not_modified(request: HttpRequest, key: Any) -> bool:
    if_none_match = request.header("if-none-match")
    if if_none_match is not None:
        tags = {tag.strip() for tag in if_none_match.split(",")}
        return "*" in tags or key.etag in tags or key.etag.strip('"') in tags
    since = request.header("if-modified-since")
    if since:
        try:
            limit = email.utils.parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
        modified = key.last_modified.replace(microsecond=0)
        if modified.tzinfo is None and limit.tzinfo is not None:
            limit = limit.replace(tzinfo=None)
        return bool(modified <= limit)
    return False


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    found = _RANGE.match(header.strip()) if header else None
    if found is None or size == 0:
        return None
    start, end = found.groups()
    if start:
        first = int(start)
        last = min(int(end), size - 1) if end else size - 1
    elif end:
        first, last = max(size - int(end), 0), size - 1
    else:
        return None
    return (first, last) if first <= last else None

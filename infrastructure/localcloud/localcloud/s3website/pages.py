"""S3's error responses: HTML pages on website endpoints, XML on the REST API.

The texts and layout are S3's, so a browser or a script sees what it would see
against AWS. RequestId and HostId are random, as they are opaque on AWS.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from html import escape
from xml.sax.saxutils import escape as xml_escape

from localcloud.http import HttpResponse


@dataclass(frozen=True, slots=True)
class S3Error:
    status: int
    code: str
    message: str


NO_SUCH_BUCKET = S3Error(404, "NoSuchBucket", "The specified bucket does not exist")
NO_SUCH_KEY = S3Error(404, "NoSuchKey", "The specified key does not exist.")
NO_SUCH_WEBSITE = S3Error(
    404,
    "NoSuchWebsiteConfiguration",
    "The specified bucket does not have a website configuration",
)
ACCESS_DENIED = S3Error(403, "AccessDenied", "Access Denied")
METHOD_NOT_ALLOWED = S3Error(
    405,
    "MethodNotAllowed",
    "The specified method is not allowed against this resource.",
)

_REASONS = {403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed"}


def _ids() -> tuple[str, str]:
    return secrets.token_hex(8).upper(), secrets.token_urlsafe(48)


def website_error_page(
    error: S3Error,
    *,
    bucket: str | None = None,
    key: str | None = None,
    error_document: tuple[S3Error, str] | None = None,
) -> HttpResponse:
    """The HTML page a website endpoint answers with. `error_document` is the
    failure met while fetching the bucket's custom error document, if any."""
    request_id, host_id = _ids()
    title = f"{error.status} {_REASONS.get(error.status, 'Error')}"
    items = [
        f"<li>Code: {error.code}</li>",
        f"<li>Message: {escape(error.message)}</li>",
    ]
    if bucket is not None and error is NO_SUCH_BUCKET:
        items.append(f"<li>BucketName: {escape(bucket)}</li>")
    if key is not None and error is NO_SUCH_KEY:
        items.append(f"<li>Key: {escape(key)}</li>")
    items += [f"<li>RequestId: {request_id}</li>", f"<li>HostId: {host_id}</li>"]
    lines = [
        "<html>",
        f"<head><title>{title}</title></head>",
        "<body>",
        f"<h1>{title}</h1>",
        "<ul>",
        *items,
        "</ul>",
    ]
    if error_document is not None:
        nested, document_key = error_document
        lines += [
            "<h3>An Error Occurred While Attempting to Retrieve a Custom Error "
            "Document</h3>",
            "<ul>",
            f"<li>Code: {nested.code}</li>",
            f"<li>Message: {escape(nested.message)}</li>",
            *(
                [f"<li>Key: {escape(document_key)}</li>"]
                if nested is NO_SUCH_KEY
                else []
            ),
            "</ul>",
        ]
    lines += ["<hr/>", "</body>", "</html>", ""]
    return HttpResponse(
        error.status,
        "\n".join(lines).encode(),
        [
            ("Content-Type", "text/html; charset=utf-8"),
            ("x-amz-request-id", request_id),
            ("x-amz-id-2", host_id),
        ],
    )


def rest_error(
    error: S3Error, *, key: str | None = None, bucket: str | None = None
) -> HttpResponse:
    """The XML error document of S3's REST API."""
    request_id, host_id = _ids()
    extra = ""
    if key is not None and error is NO_SUCH_KEY:
        extra = f"<Key>{xml_escape(key)}</Key>"
    if bucket is not None and error is NO_SUCH_BUCKET:
        extra = f"<BucketName>{xml_escape(bucket)}</BucketName>"
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{error.code}</Code><Message>{xml_escape(error.message)}</Message>"
        f"{extra}<RequestId>{request_id}</RequestId><HostId>{host_id}</HostId></Error>"
    )
    return HttpResponse(
        error.status,
        body.encode(),
        [
            ("Content-Type", "application/xml"),
            ("x-amz-request-id", request_id),
            ("x-amz-id-2", host_id),
        ],
    )

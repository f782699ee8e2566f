"""Binary media types: when API Gateway base64-encodes or decodes a body.

An API's `binaryMediaTypes` lists types such as `image/png`, `image/*` or
`*/*`. Values set through PATCH operations arrive with `/` escaped as `~1`
(the JSON-pointer escape), which AWS stores decoded; both are accepted here.
"""

from __future__ import annotations


def _normalize(media_type: str) -> str:
    return media_type.split(";", 1)[0].strip().lower().replace("~1", "/")


def matches_media_type(content_type: str, binary_media_types: list[str]) -> bool:
    """Whether `content_type` (a header value, parameters allowed) is binary."""
    wanted = _normalize(content_type)
    if not wanted:
        return False
    kind = wanted.split("/", 1)[0]
    for listed in binary_media_types:
        candidate = _normalize(listed)
        if candidate in (wanted, "*/*") or candidate == f"{kind}/*":
            return True
    return False


def first_accepted(accept: str | None) -> str:
    """The first media type of an Accept header: the only one API Gateway
    consults when it decides whether to decode a base64 response body."""
    if not accept:
        return ""
    return accept.split(",", 1)[0]

"""S3 static websites and anonymous object reads.

moto stores buckets, objects, policies and website configurations; this package
serves them the way S3 serves the public: website endpoints with index and
error documents, and unsigned object GETs checked against the bucket policy and
ACLs. See docs/s3website.md for the routes and the differences from AWS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .anonymous import AnonymousObjectRoute
from .config import WebsiteConfiguration, parse_website_configuration
from .website import S3WebsiteRoute, website_bucket, website_url

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

__all__ = [
    "AnonymousObjectRoute",
    "S3WebsiteRoute",
    "WebsiteConfiguration",
    "install",
    "parse_website_configuration",
    "website_bucket",
    "website_url",
]


def install(cloud: LocalCloud) -> None:
    """Mounts the website endpoint, then the anonymous object reads (whose
    match is the broader of the two)."""
    cloud.add_route(S3WebsiteRoute())
    cloud.add_route(AnonymousObjectRoute())

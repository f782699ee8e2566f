"""Errors of the S3 website data plane.

    S3WebsiteError   a bucket's stored configuration the plane cannot use

Requests never see these exceptions: the routes answer with S3's own error
pages (website endpoint) or error documents (REST endpoint).
"""

from __future__ import annotations

from localcloud.errors import LocalCloudError


class S3WebsiteError(LocalCloudError):
    """Base of the errors raised by localcloud.s3website."""

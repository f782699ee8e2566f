"""What the CloudFormation extensions need to know of the running local cloud.

moto calls resource models as class methods, with no way to pass the cloud
along, so `install` records the edge's port here once. URLs the stacks report
(bucket WebsiteURL, API stage URLs in outputs) are built from it in forms a
browser opens offline: `http://{bucket}.s3-website.localhost:{port}` and
`http://{api}.execute-api.localhost:{port}/{stage}/`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LocalEndpoints:
    port: int = 4566

    def website_url(self, bucket: str) -> str:
        return f"http://{bucket}.s3-website.localhost:{self.port}"


_current = LocalEndpoints()


def configure(port: int) -> None:
    global _current
    _current = LocalEndpoints(port=port)


def endpoints() -> LocalEndpoints:
    return _current

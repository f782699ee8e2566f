"""LocalStack's own endpoints, so tools written for LocalStack work unchanged.

- `GET|HEAD /_localstack/health`: `{"services": {name: state}, "edition", "version"}`.
  States use LocalStack's words: "running" for services with a live data plane
  (Lambda, and every mounted route or background service), "available" for
  services moto answers, "error" when a background service reports it.
- `GET /_localstack/info`: version, edition, uptime, session id.
- `POST /_localstack/state/reset` and `POST /moto-api/reset`: clear moto's
  backends and every data plane's state (LocalStack's reset endpoint is a Pro
  feature; moto's own reset would leave the data planes out of step).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING

from localcloud import __version__
from localcloud.http import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

PREFIXES = ("/_localstack/", "/moto-api/reset")
SESSION_ID = str(uuid.uuid4())

# The community services LocalStack lists, answered here by moto.
MOTO_SERVICES = (
    "acm",
    "apigateway",
    "cloudformation",
    "cloudwatch",
    "config",
    "dynamodb",
    "dynamodbstreams",
    "ec2",
    "es",
    "events",
    "firehose",
    "iam",
    "iot",
    "kinesis",
    "kms",
    "lambda",
    "logs",
    "opensearch",
    "rds",
    "redshift",
    "resource-groups",
    "resourcegroupstaggingapi",
    "route53",
    "route53resolver",
    "s3",
    "s3control",
    "scheduler",
    "secretsmanager",
    "ses",
    "sns",
    "sqs",
    "ssm",
    "stepfunctions",
    "sts",
    "support",
    "swf",
    "transcribe",
)


def health(cloud: LocalCloud) -> dict[str, object]:
    services: dict[str, str] = dict.fromkeys(MOTO_SERVICES, "available")
    for route in cloud.routes:
        services[route.name] = "running"
    for service in cloud.services:
        try:
            services[service.name] = service.health()
        except Exception:
            services[service.name] = "error"
    return {"services": services, "edition": "community", "version": __version__}


def handle(cloud: LocalCloud, request: HttpRequest) -> HttpResponse:
    path = request.path.rstrip("/")
    if path == "/_localstack/health":
        if request.method == "POST":  # LocalStack accepts {"action": "restart"}, ...
            return _json(200, {"status": "OK"})
        return _json(200, health(cloud))
    if path == "/_localstack/info":
        return _json(
            200,
            {
                "version": __version__,
                "edition": "community",
                "is_license_activated": False,
                "session_id": SESSION_ID,
                "system": "localcloud",
                "uptime": int(time.time() - cloud.started_at),
            },
        )
    if path in ("/_localstack/state/reset", "/moto-api/reset"):
        if request.method != "POST":
            return _json(405, {"error": f"use POST {path} to reset the state"})
        cloud.reset()
        return _json(200, {"status": "OK"})
    return _json(
        404,
        {
            "error": f"no such endpoint {request.method} {request.path}; supported: "
            "/_localstack/health, /_localstack/info, POST /_localstack/state/reset"
        },
    )


def _json(status: int, document: object) -> HttpResponse:
    return HttpResponse.json(status, json.dumps(document))

"""The migration function: brings the database schema up to date.

Invoked directly (the deploy tooling calls it after each deploy) it applies the
pending migrations and returns `{"applied": [versions], "version": N}`; applying
is idempotent, so every deploy may call it.

It also answers as a CloudFormation custom resource handler, for stacks that
prefer `Custom::DatabaseMigration`: an event with `RequestType` gets its result
PUT to the pre-signed `ResponseURL` (SUCCESS with the version in `Data`, or
FAILED with the reason), with urllib so the function needs no `cfnresponse`.
Delete does nothing: dropping the schema with the stack would destroy data.
"""

from __future__ import annotations

import json
import os
import urllib.parse
import urllib.request
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from orchestralink import db
from orchestralink.migrations import apply_migrations, current_version

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "migrate")
PHYSICAL_RESOURCE_ID = "orchestralink-database-schema"
_RESPONSE_TIMEOUT_SECONDS = 30
_MAX_REASON = 1000  # CloudFormation caps the whole response at 4 KB

logger = Logger(service=SERVICE)


class MigrateError(Exception):
    """The custom resource response could not be delivered."""


def migrate() -> dict[str, Any]:
    """Apply pending migrations; the connection is dropped if anything fails."""
    conn = db.get_connection()
    try:
        applied = apply_migrations(conn)
        version = current_version(conn)
        conn.commit()
    except Exception:
        db.reset_connection()
        raise
    logger.info("database migrated", extra={"applied": applied, "version": version})
    return {"applied": applied, "version": version}


def _respond(event: dict[str, Any], body: dict[str, Any]) -> None:
    url = str(event["ResponseURL"])
    if urllib.parse.urlsplit(url).scheme not in ("https", "http"):
        raise MigrateError(f"ResponseURL {url!r} is not an http(s) URL")
    data = json.dumps(body).encode()
    # The pre-signed S3 URL is signed without a content type: send an empty one.
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url,
        data=data,
        method="PUT",
        headers={"Content-Type": "", "Content-Length": str(len(data))},
    )
    try:
        with urllib.request.urlopen(  # noqa: S310 - scheme checked above
            request, timeout=_RESPONSE_TIMEOUT_SECONDS
        ) as response:
            status = response.status
    except OSError as error:
        raise MigrateError(
            f"cannot send the custom resource response to CloudFormation: {error}"
        ) from error
    logger.info("custom resource response sent", extra={"http_status": status})


def _custom_resource(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request_type = event["RequestType"]
    status, reason, data = "SUCCESS", "", {}
    if request_type in ("Create", "Update"):
        try:
            result = migrate()
        except Exception as error:
            logger.exception("migration failed")
            status, reason = "FAILED", f"{type(error).__name__}: {error}"
        else:
            data = {
                "Version": str(result["version"]),
                "Applied": ",".join(str(v) for v in result["applied"]),
            }
    else:
        logger.info("nothing to do", extra={"request_type": request_type})

    log_stream = getattr(context, "log_stream_name", "")
    body = {
        "Status": status,
        "Reason": reason[:_MAX_REASON] or f"See CloudWatch log stream {log_stream}",
        "PhysicalResourceId": event.get("PhysicalResourceId") or PHYSICAL_RESOURCE_ID,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "NoEcho": False,
        "Data": data,
    }
    _respond(event, body)
    return body


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if isinstance(event, dict) and "RequestType" in event:
        return _custom_resource(event, context)
    return migrate()

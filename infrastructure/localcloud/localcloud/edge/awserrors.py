"""AWS-shaped error responses, in the wire format of the caller's protocol.

SDKs parse errors by protocol: JSON protocols read `__type` and `message`,
REST-JSON services read the `x-amzn-ErrorType` header, query and REST-XML
protocols read an XML document. An error the local cloud produces itself (an
operation moto lacks, a data plane that failed) is written the way the calling
SDK expects, so `botocore.exceptions.ClientError` carries the code and message.
"""

from __future__ import annotations

import json
import uuid
from xml.sax.saxutils import escape

from localcloud.edge.operations import AwsCall
from localcloud.http import HttpResponse


def aws_error(
    call: AwsCall, status: int, code: str, message: str, *, sender_fault: bool = False
) -> HttpResponse:
    """An error response for `call` that botocore parses into `code` and `message`."""
    request_id = str(uuid.uuid4())
    common = [("x-amzn-RequestId", request_id), ("x-amzn-ErrorType", code)]
    if call.protocol in ("json", "rest-json"):
        document = {"__type": code, "message": message}
        if call.protocol == "rest-json":
            document = {
                "Type": "User" if sender_fault else "Service",
                "message": message,
            }
        content_type = (
            "application/x-amz-json-1.1"
            if call.protocol == "json"
            else "application/json"
        )
        return HttpResponse(
            status,
            json.dumps(document).encode(),
            [("Content-Type", content_type), *common],
        )
    if call.service == "s3":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        )
    else:
        fault = "Sender" if sender_fault else "Receiver"
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<ErrorResponse><Error><Type>{fault}</Type><Code>{escape(code)}</Code>"
            f"<Message>{escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
    return HttpResponse(status, body.encode(), [("Content-Type", "text/xml"), *common])


def internal_failure(call: AwsCall, message: str) -> HttpResponse:
    return aws_error(call, 500, "InternalFailure", message)


def not_implemented(call: AwsCall, message: str) -> HttpResponse:
    return aws_error(call, 501, "NotImplemented", message)

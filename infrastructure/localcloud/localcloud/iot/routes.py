"""IoT requests the edge serves before (or instead of) moto.

* `CreateTopicRule` / `ReplaceTopicRule` (`POST`/`PATCH /rules/{name}`): the
  rule's SQL and substitution templates are compiled first; SQL the engine
  cannot run is refused like AWS refuses invalid SQL, `SqlParseException`
  (HTTP 400) with a message quoting the part, and moto never stores the rule.
  Valid rules go on to moto, whose listener makes the engine subscribe.
* `iot-data` `Publish` (`POST /topics/{topic}`, signing name `iotdata`): the
  message is published to Mosquitto through the engine's connection.
* `DescribeEndpoint` (`GET /endpoint`) for the data endpoint types: the
  broker's `host:port`, as LocalStack reports its own broker.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from localcloud.edge.awserrors import aws_error
from localcloud.edge.operations import AwsCall, identify
from localcloud.http import HttpRequest, HttpResponse
from localcloud.iot.engine import RulesEngine
from localcloud.iot.errors import IotError, SqlParseError
from localcloud.iot.rules import StoredRule

_SIGNING_SERVICE = re.compile(r"Credential=[^/]*/\d{8}/[^/]*/([^/]*)/aws4_request")
_RULE_PATH = re.compile(r"^/rules/([^/]+)$")
DATA_ENDPOINT_TYPES = ("iot:Data", "iot:Data-ATS")
PUBLISH_TIMEOUT = 5.0  # seconds to wait for the broker's PUBACK at QoS 1


def _signed_for(request: HttpRequest) -> str | None:
    found = _SIGNING_SERVICE.search(request.header("authorization", "") or "")
    return found.group(1) if found else None


class TopicRuleRoute:
    """Validates a topic rule's SQL before moto stores it."""

    name = "iot-rules"

    def __init__(self, engine: RulesEngine, moto: Any, account_id: str) -> None:
        self._engine = engine
        self._moto = moto  # LocalCloud.moto: forwards and runs the listeners
        self._account_id = account_id

    def match(self, request: HttpRequest) -> bool:
        return (
            request.method in ("POST", "PATCH")
            and request.path.startswith("/rules/")
            and _RULE_PATH.match(request.path) is not None
            and _signed_for(request) == "iot"
        )

    def handle(self, request: HttpRequest) -> HttpResponse:
        call = identify(request)
        problem = self._problem(request, call)
        if problem is not None:
            return aws_error(call, 400, "SqlParseException", problem, sender_fault=True)
        response: HttpResponse = self._moto(request)
        return response

    def _problem(self, request: HttpRequest, call: AwsCall) -> str | None:
        found = _RULE_PATH.match(request.path)
        assert found is not None
        try:
            payload = json.loads(request.body or b"{}")
        except ValueError:
            return None  # moto answers malformed bodies with its own error
        if not isinstance(payload, dict) or not isinstance(payload.get("sql"), str):
            return None
        stored = StoredRule(
            name=found.group(1),
            arn="",
            account_id=self._account_id,
            region=call.region or "us-east-1",
            sql=payload["sql"],
            sql_version=payload.get("awsIotSqlVersion"),
            actions=list(payload.get("actions") or []),
            error_action=dict(payload.get("errorAction") or {}),
            disabled=bool(payload.get("ruleDisabled", False)),
        )
        try:
            self._engine.validate(stored)
        except SqlParseError as error:
            return str(error)
        return None


class IotDataPublishRoute:
    """`iot-data publish`: the HTTP way to put a message on the broker."""

    name = "iot-data"

    def __init__(self, engine: RulesEngine) -> None:
        self._engine = engine

    def match(self, request: HttpRequest) -> bool:
        return (
            request.method == "POST"
            and request.path.startswith("/topics/")
            and _signed_for(request) == "iotdata"
        )

    def handle(self, request: HttpRequest) -> HttpResponse:
        call = identify(request)
        topic = request.path[len("/topics/") :]
        query = dict(request.query_params)
        try:
            qos = int(query.get("qos", "0") or 0)
        except ValueError:
            qos = -1
        if qos not in (0, 1):
            return _invalid(call, f"qos must be 0 or 1, got {query.get('qos')!r}")
        if not topic or "+" in topic or "#" in topic:
            return _invalid(
                call, f"Publish needs a topic name without wildcards, got {topic!r}"
            )
        try:
            user_properties = _user_properties(request)
            correlation = request.header("x-amz-mqtt5-correlation-data")
            expiry = query.get("messageExpiry")
            self._engine.publish(
                topic,
                request.body,
                qos=qos,
                retain=query.get("retain", "false").lower() == "true",
                # AWS's clientid() is "n/a" for messages that did not come over MQTT.
                user_properties=[*user_properties, ("clientid", "n/a")],
                content_type=query.get("contentType"),
                response_topic=query.get("responseTopic"),
                message_expiry=int(expiry) if expiry else None,
                correlation_data=base64.b64decode(correlation) if correlation else None,
                wait=PUBLISH_TIMEOUT,
            )
        except (ValueError, binascii.Error) as error:
            return _invalid(call, f"Invalid Publish request: {error}")
        except IotError as error:
            return aws_error(call, 500, "InternalFailureException", str(error))
        return HttpResponse(200, b"", [("Content-Type", "application/json")])


def _user_properties(request: HttpRequest) -> list[tuple[str, str]]:
    """The `x-amz-mqtt5-user-properties` header: base64 of a JSON array of objects."""
    header = request.header("x-amz-mqtt5-user-properties")
    if not header:
        return []
    try:
        decoded = json.loads(base64.b64decode(header))
    except (ValueError, binascii.Error):
        decoded = json.loads(header)  # raises ValueError: answered as 400
    if not isinstance(decoded, list):
        raise ValueError("userProperties must be a JSON array of objects")
    return [
        (str(key), str(value))
        for item in decoded
        if isinstance(item, dict)
        for key, value in item.items()
    ]


def _invalid(call: AwsCall, message: str) -> HttpResponse:
    return aws_error(call, 400, "InvalidRequestException", message, sender_fault=True)


class DescribeEndpointRoute:
    """The data endpoint is the MQTT broker the engine uses (`host:port`)."""

    name = "iot-endpoint"

    def __init__(self, broker_address: str) -> None:
        self._address = broker_address

    def match(self, request: HttpRequest) -> bool:
        if request.method != "GET" or request.path != "/endpoint":
            return False
        if _signed_for(request) != "iot":
            return False
        endpoint_type = dict(request.query_params).get("endpointType", "iot:Data")
        return endpoint_type in DATA_ENDPOINT_TYPES

    def handle(self, request: HttpRequest) -> HttpResponse:
        body = json.dumps({"endpointAddress": self._address})
        return HttpResponse.json(200, body)

"""Rule actions: what happens to a message a rule selected.

Implemented like AWS: `lambda` (asynchronous invoke), `sqs` (SendMessage,
batched internally, see `sqs_action.py`), `republish` (back to the broker,
topic with substitution templates), and `errorAction`, which receives AWS's
error document when any action of the rule failed for a message. Other action
types are skipped with one warning per rule and type.

An action never raises into the engine: each failure is recorded on the
`ActionRun` of its (rule, message) pair, and the engine runs the rule's error
action once per pair after the batch, as AWS sends one error message per rule
and message.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from localcloud.invoker import LambdaInvoker
from localcloud.iot.errors import IotError, SqlParseError
from localcloud.iot.message import Message
from localcloud.iot.templates import Template, compile_template

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Failure:
    failed_action: str  # AWS's names: "SqsAction", "LambdaAction", ...
    failed_resource: str
    error_message: str


@dataclass(slots=True)
class ActionRun:
    """One rule applied to one message: collects the failures of its actions."""

    rule_name: str
    message: Message
    error_action: Action | None
    failures: list[Failure] = field(default_factory=list)

    def fail(self, action: Action, error_message: str) -> None:
        self.failures.append(
            Failure(action.failed_action, action.resource, error_message)
        )

    def error_document(self) -> bytes:
        """AWS's error action payload (see "Error action message format")."""
        message = self.message
        if message.trace_id is None:
            message.trace_id = str(uuid.uuid4())
        document = {
            "ruleName": self.rule_name,
            "topic": message.topic,
            "cloudwatchTraceId": message.trace_id,
            "clientId": message.client_id,
            "base64OriginalPayload": base64.b64encode(message.payload).decode(),
            "failures": [
                {
                    "failedAction": failure.failed_action,
                    "failedResource": failure.failed_resource,
                    "errorMessage": failure.error_message,
                }
                for failure in self.failures
            ],
        }
        return json.dumps(document, separators=(",", ":")).encode()


class Action(Protocol):
    kind: str  # the key in the rule's action list: "sqs", "lambda", ...
    failed_action: str
    resource: str

    def submit(self, message: Message, payload: bytes, run: ActionRun) -> None:
        """Run, or queue, the action; failures go to `run.fail`."""
        ...


class MqttPublisher(Protocol):
    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 0,
        retain: bool = False,
        user_properties: list[tuple[str, str]] | None = None,
        content_type: str | None = None,
        response_topic: str | None = None,
        message_expiry: int | None = None,
    ) -> None:
        """Publish to the broker; raises `IotError` when it cannot."""
        ...


class SqsSink(Protocol):
    def build(self, spec: dict[str, Any], rule_name: str, region: str) -> Action: ...


class LambdaAction:
    kind = "lambda"
    failed_action = "LambdaAction"

    def __init__(self, function_arn: str, invoker: LambdaInvoker) -> None:
        self.resource = function_arn
        self._invoker = invoker

    def submit(self, message: Message, payload: bytes, run: ActionRun) -> None:
        try:
            result = self._invoker.invoke(
                self.resource, payload, invocation_type="Event"
            )
        except Exception as error:  # the invoker is another service's code
            run.fail(self, f"Failed to invoke Lambda function {self.resource}: {error}")
            return
        if result.status_code >= 300:
            detail = result.payload.decode(errors="replace")
            run.fail(
                self,
                f"Failed to invoke Lambda function {self.resource}. "
                f"Received status code {result.status_code}: {detail}",
            )


class RepublishAction:
    kind = "republish"
    failed_action = "RepublishAction"

    def __init__(
        self, spec: dict[str, Any], publisher: MqttPublisher, rule_name: str
    ) -> None:
        topic = str(spec.get("topic", ""))
        # AWS: a topic starting with "$$" publishes to the reserved "$..." topic.
        if topic.startswith("$$"):
            topic = topic[1:]
        self.resource = topic
        self._topic = compile_template(topic)
        self._qos = int(spec.get("qos", 0) or 0)
        self._publisher = publisher
        headers = spec.get("headers") or {}
        self._user_properties: list[tuple[Template, Template]] = [
            (compile_template(str(item["key"])), compile_template(str(item["value"])))
            for item in headers.get("userProperties", [])
        ]
        self._content_type = _optional_template(headers.get("contentType"))
        self._response_topic = _optional_template(headers.get("responseTopic"))
        self._message_expiry = _optional_template(headers.get("messageExpiry"))
        ignored = set(headers) - {
            "userProperties",
            "contentType",
            "responseTopic",
            "messageExpiry",
        }
        if ignored:
            logger.warning(
                "IoT rule %s: republish headers %s are not sent by the local cloud",
                rule_name,
                ", ".join(sorted(ignored)),
            )

    def submit(self, message: Message, payload: bytes, run: ActionRun) -> None:
        topic = self._topic.render(message)
        try:
            expiry = (
                None
                if self._message_expiry is None
                else int(self._message_expiry.render(message))
            )
            self._publisher.publish(
                topic,
                payload,
                qos=self._qos,
                user_properties=[
                    (key.render(message), value.render(message))
                    for key, value in self._user_properties
                ]
                or None,
                content_type=_render(self._content_type, message),
                response_topic=_render(self._response_topic, message),
                message_expiry=expiry,
            )
        except (IotError, ValueError) as error:
            run.fail(self, f"Failed to republish to topic {topic}: {error}")


def _optional_template(text: Any) -> Template | None:
    return None if text is None else compile_template(str(text))


def _render(template: Template | None, message: Message) -> str | None:
    return None if template is None else template.render(message)


class ActionFactory:
    """Builds rule actions bound to the engine's broker, Lambda and SQS."""

    def __init__(
        self,
        *,
        sqs: SqsSink,
        publisher: MqttPublisher,
        invoker: LambdaInvoker | None,
    ) -> None:
        self._sqs = sqs
        self._publisher = publisher
        self._invoker = invoker
        self._warned: set[tuple[str, str]] = set()

    def build(self, spec: dict[str, Any], rule_name: str, region: str) -> Action | None:
        """One action from its API form, e.g. `{"sqs": {"queueUrl": ...}}`."""
        if len(spec) != 1:
            raise SqlParseError(
                f"IoT rule {rule_name}: an action must have exactly one type, "
                f"got {sorted(spec)}"
            )
        ((kind, settings),) = spec.items()
        settings = settings or {}
        if kind == "sqs":
            return self._sqs.build(settings, rule_name, region)
        if kind == "republish":
            return RepublishAction(settings, self._publisher, rule_name)
        if kind == "lambda" and self._invoker is not None:
            return LambdaAction(str(settings.get("functionArn", "")), self._invoker)
        self._warn_once(rule_name, kind)
        return None

    def _warn_once(self, rule_name: str, kind: str) -> None:
        if (rule_name, kind) in self._warned:
            return
        self._warned.add((rule_name, kind))
        reason = (
            "no Lambda service is running"
            if kind == "lambda"
            else "the local cloud runs only the lambda, sqs and republish actions"
        )
        logger.warning(
            "IoT rule %s: its %r action is skipped: %s (see docs/iot.md)",
            rule_name,
            kind,
            reason,
        )

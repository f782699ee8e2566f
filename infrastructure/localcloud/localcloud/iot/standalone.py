"""The rules engine on its own, against a real AWS API endpoint (LocalStack).

    python -m localcloud.iot.standalone --template template.yaml \\
        --stack-name orchestralink --endpoint-url http://localstack:4566 \\
        --mqtt-host mosquitto --mqtt-username rules-engine

LocalStack's IoT Core is a paid feature, so its target deploys the stack with
`CreateIotRule=false` and runs this in a container beside Mosquitto. It is the
local cloud's own `RulesEngine` (rule SQL compiler, actions, error actions,
persistent MQTT session, batched acknowledgements) with two adapters in place
of moto:

* rules come from the template's `AWS::IoT::TopicRule` resources, resolved
  against the deployed stack (`template_rules.TemplateRules`);
* the `sqs` action sends through boto3 (`SendMessageBatch`, ten messages a call)
  to the endpoint given, instead of into moto's backend in-process.

`lambda` actions are skipped with a warning (there is no invoker here; use an
SQS action, as the template does), and rule roles are not assumed. The MQTT
password comes from `LOCALCLOUD_MQTT_PASSWORD`, never the command line.
With `--heartbeat-file`, the file is touched every second while the engine is
connected and runs at least one rule: the container's health check reads it.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from localcloud.iot.engine import RulesEngine
from localcloud.iot.errors import IotError
from localcloud.iot.settings import DEFAULT_SESSION_EXPIRY, IotSettings
from localcloud.iot.template_rules import TemplateRuleError, TemplateRules

logger = logging.getLogger(__name__)

_CLIENT_CONFIG = Config(
    connect_timeout=5, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"}
)


class SqsSendError(IotError):
    """SendMessageBatch failed as a whole; `code` is AWS's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Boto3SqsBackend:
    """`send_message_batch` as the engine's `SqsSender` calls it, over boto3.

    Queue URLs are looked up by name once (GetQueueUrl) and kept; a queue that
    disappears (stack deleted) is looked up again on the next send.
    """

    def __init__(self, client: Any, account_id: str) -> None:
        self._client = client
        self._account_id = account_id
        self._urls: dict[str, str] = {}

    def send_message_batch(
        self, queue_name: str, entries: dict[str, dict[str, Any]]
    ) -> tuple[list[Any], list[dict[str, Any]]]:
        url = self._url(queue_name)
        try:
            response = self._client.send_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": entry["Id"], "MessageBody": entry["MessageBody"]}
                    for entry in entries.values()
                ],
            )
        except ClientError as error:
            self._urls.pop(queue_name, None)
            raise _send_error(error) from error
        except BotoCoreError as error:
            raise SqsSendError("ServiceUnavailable", str(error)) from error
        return list(response.get("Successful", [])), list(response.get("Failed", []))

    def _url(self, queue_name: str) -> str:
        url = self._urls.get(queue_name)
        if url is not None:
            return url
        try:
            found = self._client.get_queue_url(
                QueueName=queue_name, QueueOwnerAWSAccountId=self._account_id
            )
        except ClientError as error:
            raise _send_error(error) from error
        except BotoCoreError as error:
            raise SqsSendError("ServiceUnavailable", str(error)) from error
        url = self._urls[queue_name] = str(found["QueueUrl"])
        return url


def _send_error(error: ClientError) -> SqsSendError:
    details = error.response.get("Error", {})
    return SqsSendError(
        str(details.get("Code", "ClientError")), str(details.get("Message", error))
    )


class Boto3SqsBackends:
    """`sqs_backend_for(account_id, region)` of the engine: one client a region."""

    def __init__(self, endpoint_url: str | None) -> None:
        self._endpoint_url = endpoint_url
        self._backends: dict[tuple[str, str], Boto3SqsBackend] = {}
        self._lock = threading.Lock()

    def __call__(self, account_id: str, region: str) -> Boto3SqsBackend:
        with self._lock:
            backend = self._backends.get((account_id, region))
            if backend is None:
                client = aws_client("sqs", self._endpoint_url, region)
                backend = Boto3SqsBackend(client, account_id)
                self._backends[(account_id, region)] = backend
            return backend


def aws_client(service: str, endpoint_url: str | None, region: str) -> Any:
    """A boto3 client; credentials from the environment (LocalStack takes any)."""
    return boto3.client(
        service, endpoint_url=endpoint_url, region_name=region, config=_CLIENT_CONFIG
    )


def build_parser() -> argparse.ArgumentParser:

    def env(name: str, default: str = "") -> str:
        return os.environ.get(name) or default  # set but empty counts as unset

    parser = argparse.ArgumentParser(
        prog="python -m localcloud.iot.standalone",
        description="Run the topic rules of a CloudFormation template against an "
        "MQTT broker, sending to SQS through an AWS endpoint (LocalStack).",
    )
    parser.add_argument("--template", type=Path, required=True, help="template.yaml")
    parser.add_argument(
        "--stack-name",
        default=env("ORCHESTRALINK_STACK_NAME") or None,
        help="resolve references from this deployed stack (recommended)",
    )
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a template parameter value when no stack is given (repeatable)",
    )
    parser.add_argument("--endpoint-url", default=env("AWS_ENDPOINT_URL") or None)
    parser.add_argument("--region", default=env("AWS_DEFAULT_REGION", "us-east-1"))
    parser.add_argument("--mqtt-host", default=env("MQTT_HOST", "127.0.0.1"))
    parser.add_argument("--mqtt-port", type=int, default=int(env("MQTT_PORT", "1883")))
    parser.add_argument(
        "--mqtt-username", default=env("LOCALCLOUD_MQTT_USERNAME") or None
    )
    parser.add_argument(
        "--client-id",
        default=env("LOCALCLOUD_IOT_CLIENT_ID", "orchestralink-rules-engine"),
        help="MQTT client id of the engine's persistent session",
    )
    parser.add_argument(
        "--shared-group", default=env("LOCALCLOUD_IOT_SHARED_GROUP") or None
    )
    parser.add_argument(
        "--heartbeat-file",
        type=Path,
        default=env("LOCALCLOUD_IOT_HEARTBEAT_FILE") or None,
        help="touched every second while connected and running rules",
    )
    parser.add_argument("--log-level", default=env("LOG_LEVEL", "INFO"))
    return parser


def _overrides(pairs: Sequence[str]) -> dict[str, str]:
    overrides = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise TemplateRuleError(f"--parameter {pair!r} is not KEY=VALUE")
        overrides[key] = value
    return overrides


def _account_id(endpoint_url: str | None, region: str) -> str:
    try:
        identity = aws_client("sts", endpoint_url, region).get_caller_identity()
    except (BotoCoreError, ClientError) as error:
        logger.warning(
            "cannot ask STS for the account id (%s); using 000000000000", error
        )
        return "000000000000"
    return str(identity["Account"])


def create_engine(args: argparse.Namespace) -> tuple[RulesEngine, TemplateRules]:
    """The engine and its rule source, from parsed command-line arguments."""
    rules = TemplateRules(
        args.template,
        cloudformation=aws_client("cloudformation", args.endpoint_url, args.region),
        sqs=aws_client("sqs", args.endpoint_url, args.region),
        region=args.region,
        account_id=_account_id(args.endpoint_url, args.region),
        stack_name=args.stack_name,
        overrides=_overrides(args.parameter),
    )
    settings = IotSettings(
        client_id=args.client_id,
        mqtt_host=args.mqtt_host,
        mqtt_port=args.mqtt_port,
        mqtt_username=args.mqtt_username or None,
        mqtt_password=os.environ.get("LOCALCLOUD_MQTT_PASSWORD") or None,
        shared_group=args.shared_group or None,
        session_expiry=DEFAULT_SESSION_EXPIRY,
        region=args.region,
    )
    engine = RulesEngine(
        settings,
        rule_source=rules,
        sqs_backend_for=Boto3SqsBackends(args.endpoint_url),
    )
    return engine, rules


def healthy(engine: RulesEngine, rules: TemplateRules) -> bool:
    return engine.health() == "running" and bool(rules.rules)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=str(args.log_level).upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stdout,
    )
    for noisy in ("botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        args.template.resolve(strict=True)
        engine, rules = create_engine(args)
    except (OSError, IotError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    engine.start()
    logger.info(
        "standalone rules engine: template %s, stack %s, SQS at %s",
        args.template,
        args.stack_name or "(none: template defaults)",
        args.endpoint_url or "AWS",
    )
    try:
        while not stopping.wait(1.0):
            if args.heartbeat_file is not None and healthy(engine, rules):
                args.heartbeat_file.touch()
    finally:
        engine.stop()
        logger.info(
            "standalone rules engine stopped: %d messages, %d action failures",
            engine.processed,
            engine.failures,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

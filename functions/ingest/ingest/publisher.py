"""Publishes alert events on MQTT through the AWS IoT data plane (`iot-data`).

Publishing happens after the readings are committed, so a failure here must not
fail the batch: retrying it would store nothing new and open no alert again, so
the event would be lost anyway. Failures are returned for the handler to log and
count instead.

The endpoint comes from `IOT_DATA_ENDPOINT` when set (on AWS the account's
`...-ats.iot.<region>.amazonaws.com`, in the local cloud its edge port);
otherwise boto3's own resolution applies (`AWS_ENDPOINT_URL*`, then the
regional default).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from orchestralink.alerts import AlertEvent

ENDPOINT_ENV = "IOT_DATA_ENDPOINT"
# A slow broker must not hold the batch (and the function's timeout) hostage.
_CLIENT_CONFIG = Config(
    connect_timeout=2, read_timeout=5, retries={"max_attempts": 2, "mode": "standard"}
)


@dataclass
class PublishResult:
    published: int = 0
    failures: list[tuple[AlertEvent, str]] = field(default_factory=list)


def _endpoint_url() -> str | None:
    endpoint = os.environ.get(ENDPOINT_ENV, "").strip()
    if not endpoint:
        return None
    if "://" not in endpoint:
        endpoint = f"https://{endpoint}"
    return endpoint


class AlertPublisher:
    """Sends each event to `alerts/{machine_id}` with QoS 1.

    The boto3 client is created on first use and kept, so warm invocations
    reuse its connection pool; tests may pass their own client.
    """

    def __init__(self, client: Any = None) -> None:
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client(
                "iot-data", endpoint_url=_endpoint_url(), config=_CLIENT_CONFIG
            )
        return self._client

    def publish(self, events: Iterable[AlertEvent]) -> PublishResult:
        result = PublishResult()
        for event in events:
            payload = json.dumps(event.to_json_dict(), ensure_ascii=False)
            try:
                self.client.publish(topic=event.topic, qos=1, payload=payload.encode())
            except (BotoCoreError, ClientError) as error:
                result.failures.append((event, str(error)))
            else:
                result.published += 1
        return result

"""`AWS::SQS::QueuePolicy`, which moto's CloudFormation lacks.

The policy document becomes the `Policy` attribute of each queue in `Queues`
(queue URLs), as SetQueueAttributes would set it; deleting the resource
removes it. The local cloud does not enforce queue policies.
"""

from __future__ import annotations

import json
from typing import Any

from moto.sqs.models import sqs_backends

from .base import LocalResource


class QueuePolicy(LocalResource):
    TYPE = "AWS::SQS::QueuePolicy"

    @classmethod
    def create(
        cls,
        name: str,
        logical_id: str,
        properties: dict[str, Any],
        account_id: str,
        region: str,
    ) -> QueuePolicy:
        document = properties.get("PolicyDocument") or {}
        text = document if isinstance(document, str) else json.dumps(document)
        _set_policy(properties, account_id, region, text)
        return cls(f"{logical_id}-{name}", properties, account_id, region)

    @classmethod
    def update(
        cls,
        original: Any,
        name: str,
        logical_id: str,
        properties: dict[str, Any],
        account_id: str,
        region: str,
    ) -> Any:
        original.remove()
        return cls.create(name, logical_id, properties, account_id, region)

    def remove(self) -> None:
        _set_policy(self.properties, self.account_id, self.region, "")


def _set_policy(
    properties: dict[str, Any], account_id: str, region: str, text: str
) -> None:
    backend = sqs_backends[account_id][region]
    for url in properties.get("Queues") or []:
        queue_name = str(url).rstrip("/").rsplit("/", 1)[-1]
        if queue_name in backend.queues:
            backend.set_queue_attributes(queue_name, {"Policy": text})

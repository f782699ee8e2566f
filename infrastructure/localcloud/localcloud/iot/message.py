"""One MQTT message as the rules engine sees it.

The SQL of every rule that matches a message reads the same `Message`: the
payload is parsed as JSON at most once, on first use, and a rule whose SQL
never looks inside the payload (`SELECT * FROM ...`) does not parse it at all.
"""

from __future__ import annotations

import json
import time
from typing import Any, Final

from localcloud.iot.values import UNDEFINED

DEFAULT_ACCOUNT_ID: Final = "123456789012"


class _Binary:
    """Marks a payload that is not JSON: AWS treats it as raw bytes."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<binary payload>"


BINARY: Final = _Binary()


class Message:
    __slots__ = (
        "_document",
        "_levels",
        "account_id",
        "client_id",
        "payload",
        "qos",
        "timestamp_ms",
        "topic",
        "trace_id",
    )

    def __init__(
        self,
        topic: str,
        payload: bytes,
        *,
        client_id: str = "",
        timestamp_ms: int | None = None,
        account_id: str = DEFAULT_ACCOUNT_ID,
        qos: int = 0,
    ) -> None:
        self.topic = topic
        self.payload = payload
        self.client_id = client_id
        self.timestamp_ms = (
            time.time_ns() // 1_000_000 if timestamp_ms is None else timestamp_ms
        )
        self.account_id = account_id
        self.qos = qos
        self.trace_id: str | None = None
        self._document: Any = UNDEFINED
        self._levels: list[str] | None = None

    @property
    def document(self) -> Any:
        """The payload parsed as JSON, or `BINARY` when it is not JSON."""
        document = self._document
        if document is UNDEFINED:
            try:
                document = json.loads(self.payload)
            except (ValueError, UnicodeDecodeError):
                document = BINARY
            self._document = document
        return document

    @property
    def levels(self) -> list[str]:
        levels = self._levels
        if levels is None:
            levels = self._levels = self.topic.split("/")
        return levels

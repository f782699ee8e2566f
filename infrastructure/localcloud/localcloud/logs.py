"""Writes log events into moto's CloudWatch Logs, in-process.

Data planes log what AWS would log (a function's output, its START / END /
REPORT lines) where AWS keeps it, so `aws logs tail` and `filter_log_events`
against the edge show it. Writing goes straight to moto's backend: an HTTP
round trip per invocation would cost more than the invocation itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

logger = logging.getLogger(__name__)


class CloudWatchLogs:
    """Creates groups and streams on demand and appends events in order."""

    def __init__(self, account_id: str) -> None:
        self._account_id = account_id
        self._lock = threading.Lock()
        self._known: set[tuple[str, str, str]] = set()

    def put(
        self,
        region: str,
        group: str,
        stream: str,
        events: Sequence[tuple[int, str]],
    ) -> None:
        """Appends `(timestamp_ms, message)` events (in chronological order)."""
        if not events:
            return
        from moto.logs.models import logs_backends

        backend: Any = logs_backends[self._account_id][region]
        records = [{"timestamp": ts, "message": message} for ts, message in events]
        with self._lock:
            try:
                key = (region, group, stream)
                if key not in self._known or group not in backend.groups:
                    backend.ensure_log_group(group)
                    if stream not in backend.groups[group].streams:
                        backend.create_log_stream(group, stream)
                    self._known.add(key)
                elif stream not in backend.groups[group].streams:
                    backend.create_log_stream(group, stream)
                backend.put_log_events(group, stream, records)
            except Exception:
                # Logs are a side channel: losing them must not fail the caller.
                logger.exception("could not write %d events to %s", len(records), group)

    def forget(self) -> None:
        """Drops the cache of known streams (after a reset of moto)."""
        with self._lock:
            self._known.clear()

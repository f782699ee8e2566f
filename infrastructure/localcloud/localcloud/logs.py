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
    """Creates groups and streams on demand and appends events in order.

    moto keeps every event in memory; a warm function invoked for hours would
    exhaust it. Each stream keeps its newest `max_events_per_stream` events
    (0: all), and the first trimming of a group is logged as a warning.
    """

    def __init__(self, account_id: str, max_events_per_stream: int = 50_000) -> None:
        self._account_id = account_id
        self._max_events = max_events_per_stream
        self._lock = threading.Lock()
        self._known: set[tuple[str, str, str]] = set()
        self._trimmed: set[str] = set()

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
                if self._max_events:
                    self._trim(group, backend.groups[group].streams[stream].events)
            except Exception:
                # Logs are a side channel: losing them must not fail the caller.
                logger.exception("could not write %d events to %s", len(records), group)

    def _trim(self, group: str, events: list[Any]) -> None:
        excess = len(events) - self._max_events
        if excess <= 0:
            return
        del events[:excess]
        if group not in self._trimmed:
            self._trimmed.add(group)
            logger.warning(
                "log group %s: streams keep their newest %d events in memory; older "
                "ones are dropped (CloudWatch keeps them; set "
                "LOCALCLOUD_LOG_EVENTS_PER_STREAM, 0 keeps all)",
                group,
                self._max_events,
            )

    def forget(self) -> None:
        """Drops the cache of known streams (after a reset of moto)."""
        with self._lock:
            self._known.clear()

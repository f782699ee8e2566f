"""The MQTT message contract: topics, JSON bodies, timestamps, sequence numbers.

Per reading, on `machine/{machine_id}/{parameter}`::

    {"machine_id": "drill-001", "machine_type": "Drilling", "parameter": "Temperature",
     "value": 812.4, "unit": "°C", "timestamp": "2026-12-03T19:58:01.123Z",
     "sequence": 42}

Batch, on `machine/{machine_id}/telemetry`: the same without parameter, value and
unit, plus `"readings": [{"parameter", "value", "unit"}, ...]`.

`sequence` counts the messages each machine has published, from 1, so a gap means
a lost message. Timestamps are the wall clock in milliseconds, but never repeat or go
back for one machine: a reading's key downstream is (machine, parameter, timestamp),
so two ticks in the same millisecond would otherwise collapse into one row. In load
mode that can put a fast machine's timestamps a little ahead of the wall clock.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from orchestralink.catalog import Status
from simulator.machines import Sample

TOPIC_PREFIX = "machine"
BATCH_TOPIC_LEVEL = "telemetry"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Message:
    """One MQTT publish, with what the run's accounting needs to know about it."""

    topic: str
    payload: bytes
    machine_id: str
    machine_type: str
    sequence: int
    timestamp: str
    statuses: tuple[Status, ...]

    @property
    def readings(self) -> int:
        return len(self.statuses)


def format_timestamp(epoch_ms: int) -> str:
    """ISO 8601, UTC, milliseconds, `Z`: 2026-12-03T19:58:01.123Z."""
    moment = _EPOCH + timedelta(milliseconds=epoch_ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def reading_topic(machine_id: str, parameter: str) -> str:
    return f"{TOPIC_PREFIX}/{machine_id}/{parameter}"


def batch_topic(machine_id: str) -> str:
    return f"{TOPIC_PREFIX}/{machine_id}/{BATCH_TOPIC_LEVEL}"


@dataclass
class _MachineCounters:
    sequence: int = 0
    last_ms: int = -1


@dataclass
class MessageEncoder:
    """Turns samples into messages, numbering and timestamping per machine.

    `clock` returns epoch seconds (time.time by default); tests pass their own.
    """

    batch: bool = False
    clock: Callable[[], float] = time.time
    _counters: dict[str, _MachineCounters] = field(default_factory=dict)

    def encode(self, sample: Sample) -> list[Message]:
        counters = self._counters.setdefault(sample.machine_id, _MachineCounters())
        epoch_ms = max(int(self.clock() * 1000), counters.last_ms + 1)
        counters.last_ms = epoch_ms
        timestamp = format_timestamp(epoch_ms)
        if self.batch:
            return [self._batch(sample, timestamp, counters)]
        return [
            self._single(sample, i, timestamp, counters)
            for i in range(len(sample.readings))
        ]

    def _single(
        self, sample: Sample, index: int, timestamp: str, counters: _MachineCounters
    ) -> Message:
        reading = sample.readings[index]
        counters.sequence += 1
        body = {
            "machine_id": sample.machine_id,
            "machine_type": sample.machine_type,
            "parameter": reading.parameter,
            "value": reading.value,
            "unit": reading.unit,
            "timestamp": timestamp,
            "sequence": counters.sequence,
        }
        return Message(
            topic=reading_topic(sample.machine_id, reading.parameter),
            payload=_dump(body),
            machine_id=sample.machine_id,
            machine_type=sample.machine_type,
            sequence=counters.sequence,
            timestamp=timestamp,
            statuses=(reading.status,),
        )

    def _batch(
        self, sample: Sample, timestamp: str, counters: _MachineCounters
    ) -> Message:
        counters.sequence += 1
        body = {
            "machine_id": sample.machine_id,
            "machine_type": sample.machine_type,
            "timestamp": timestamp,
            "sequence": counters.sequence,
            "readings": [
                {"parameter": r.parameter, "value": r.value, "unit": r.unit}
                for r in sample.readings
            ],
        }
        return Message(
            topic=batch_topic(sample.machine_id),
            payload=_dump(body),
            machine_id=sample.machine_id,
            machine_type=sample.machine_type,
            sequence=counters.sequence,
            timestamp=timestamp,
            statuses=tuple(r.status for r in sample.readings),
        )


def _dump(body: dict[str, Any]) -> bytes:
    return json.dumps(
        body, ensure_ascii=False, allow_nan=False, separators=(",", ":")
    ).encode("utf-8")

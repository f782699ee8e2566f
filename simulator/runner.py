"""Pacing the fleet: real time (stream mode) or as fast as possible (load mode).

The runner asks every machine for a sample each tick, encodes it, hands the messages
to a sink (the MQTT publisher, or a list in tests) and keeps exact accounts of what
was handed over, per machine, so a benchmark can check that everything sent arrived.

Simulated time advances by 1/rate per tick in both modes; the load mode just does not
wait between ticks. So a seed gives the same values whatever the mode or the speed
of the broker.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from simulator.machines import Machine, Sample
from simulator.messages import Message, MessageEncoder

logger = logging.getLogger(__name__)

StopReason = Literal["count", "duration", "signal"]


class Sink(Protocol):
    """Where messages go: MqttPublisher, or a recording sink in tests."""

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        block: bool = False,
        stop: threading.Event | None = None,
    ) -> bool: ...


@dataclass
class MachineTally:
    """The messages one machine handed to the sink."""

    machine_type: str
    messages: int = 0
    readings: int = 0
    first_sequence: int | None = None
    last_sequence: int | None = None
    first_timestamp: str | None = None
    last_timestamp: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "machine_type": self.machine_type,
            "messages": self.messages,
            "readings": self.readings,
            "first_sequence": self.first_sequence,
            "last_sequence": self.last_sequence,
            "first_timestamp": self.first_timestamp,
            "last_timestamp": self.last_timestamp,
        }


@dataclass
class Tally:
    """Exact accounts of a run: counts, sequence ranges, timestamps, statuses."""

    messages: int = 0
    readings: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    machines: dict[str, MachineTally] = field(default_factory=dict)
    first_timestamp: str | None = None
    last_timestamp: str | None = None

    def record(self, message: Message) -> None:
        self.messages += 1
        self.readings += message.readings
        self.statuses.update(message.statuses)
        machine = self.machines.get(message.machine_id)
        if machine is None:
            machine = self.machines[message.machine_id] = MachineTally(
                message.machine_type
            )
        machine.messages += 1
        machine.readings += message.readings
        if machine.first_sequence is None:
            machine.first_sequence = message.sequence
            machine.first_timestamp = message.timestamp
        machine.last_sequence = message.sequence
        machine.last_timestamp = message.timestamp
        # ISO 8601 UTC strings of one format sort like the instants they name.
        if self.first_timestamp is None or message.timestamp < self.first_timestamp:
            self.first_timestamp = message.timestamp
        if self.last_timestamp is None or message.timestamp > self.last_timestamp:
            self.last_timestamp = message.timestamp

    def as_dict(self) -> dict[str, Any]:
        return {
            "messages_sent": self.messages,
            "readings_sent": self.readings,
            "first_timestamp": self.first_timestamp,
            "last_timestamp": self.last_timestamp,
            "statuses": {
                s: self.statuses.get(s, 0) for s in ("NORMAL", "WARNING", "CRITICAL")
            },
            "machines": {k: v.as_dict() for k, v in sorted(self.machines.items())},
        }


@dataclass(frozen=True)
class RunOutcome:
    stopped_by: StopReason
    ticks: int
    seconds: float


class FleetRunner:
    """Drives a fleet into a sink, in real time or as fast as the sink allows."""

    def __init__(
        self,
        fleet: Sequence[Machine],
        encoder: MessageEncoder,
        sink: Sink,
        *,
        rate: float,
        stop: threading.Event | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        progress_interval: float = 10.0,
        heartbeat: Callable[[], None] | None = None,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.fleet = list(fleet)
        self.encoder = encoder
        self.sink = sink
        self.tally = Tally()
        self.interval = 1.0 / rate
        self.stop = stop or threading.Event()
        self._monotonic = monotonic
        self._progress_interval = progress_interval
        self._heartbeat = heartbeat or (lambda: None)
        self._statuses: dict[tuple[str, str], str] = {}
        self._ticks = 0

    def run_stream(self, duration: float | None = None) -> RunOutcome:
        """Tick every 1/rate seconds until `duration` of simulated time or a stop."""
        start = self._monotonic()
        next_tick = start
        progress = _Progress(self, start, self._progress_interval)
        lagging = False
        while True:
            if self.stop.is_set():
                return self._outcome("signal", start)
            if duration is not None and self._ticks * self.interval >= duration - 1e-9:
                return self._outcome("duration", start)

            now = self._monotonic()
            if now < next_tick:
                self.stop.wait(next_tick - now)
                continue

            for machine in self.fleet:
                self._send(machine.step(self.interval), block=False, verbose=True)
            self._ticks += 1
            next_tick += self.interval

            behind = self._monotonic() - next_tick
            if behind > self.interval and not lagging:
                lagging = True
                logger.warning(
                    "cannot keep up with %.3g ticks per second for %d machines "
                    "(%.2f s behind); lower --rate or --machines, or use --batch",
                    1 / self.interval,
                    len(self.fleet),
                    behind,
                )
                next_tick = self._monotonic()
            progress.maybe_log()
            self._heartbeat()

    def run_load(self, count: int, duration: float | None = None) -> RunOutcome:
        """Send exactly `count` messages back to back (fewer only if stopped)."""
        start = self._monotonic()
        progress = _Progress(self, start, self._progress_interval)
        while self.tally.messages < count:
            if self.stop.is_set():
                return self._outcome("signal", start)
            if duration is not None and self._monotonic() - start >= duration:
                return self._outcome("duration", start)
            for machine in self.fleet:
                remaining = count - self.tally.messages
                if remaining <= 0 or self.stop.is_set():
                    break
                self._send(
                    machine.step(self.interval),
                    block=True,
                    verbose=False,
                    limit=remaining,
                )
            self._ticks += 1
            progress.maybe_log()
            self._heartbeat()
        return self._outcome("count", start)

    def _send(
        self, sample: Sample, *, block: bool, verbose: bool, limit: int | None = None
    ) -> None:
        self._log_events(sample, verbose)
        messages = self.encoder.encode(sample)
        if limit is not None:
            messages = messages[:limit]
        for message in messages:
            if self.sink.publish(
                message.topic, message.payload, block=block, stop=self.stop
            ):
                self.tally.record(message)
            elif block:
                return

    def _log_events(self, sample: Sample, verbose: bool) -> None:
        level = logging.INFO if verbose else logging.DEBUG
        for incident in sample.incidents_started:
            logger.log(level, "incident starts: %s", incident.describe())
        for incident in sample.incidents_ended:
            logger.log(level, "incident ends: %s", incident.describe())
        for reading in sample.readings:
            key = (sample.machine_id, reading.parameter)
            previous = self._statuses.get(key, "NORMAL")
            if reading.status != previous:
                logger.log(
                    level,
                    "%s %s %s -> %s at %s %s",
                    sample.machine_id,
                    reading.parameter,
                    previous,
                    reading.status,
                    reading.value,
                    reading.unit,
                )
            self._statuses[key] = reading.status

    def _outcome(self, reason: StopReason, start: float) -> RunOutcome:
        return RunOutcome(reason, self._ticks, self._monotonic() - start)


class _Progress:
    """One INFO line every few seconds, so a long run shows it is alive."""

    def __init__(self, runner: FleetRunner, start: float, interval: float) -> None:
        self._runner = runner
        self._start = start
        self._interval = interval
        self._next = start + interval

    def maybe_log(self) -> None:
        if self._interval <= 0:
            return
        now = self._runner._monotonic()
        if now < self._next:
            return
        self._next = now + self._interval
        sent = self._runner.tally.messages
        logger.info(
            "sent %d messages in %.0f s (%.0f/s) from %d machines",
            sent,
            now - self._start,
            sent / max(now - self._start, 1e-9),
            len(self._runner.fleet),
        )

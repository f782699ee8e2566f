"""`orchestralink-simulator` / `python -m simulator`: the command line.

Wires settings, catalog, fleet, publisher and runner together; owns the process-wide
concerns a library must not touch: logging setup, signal handlers, the exit status,
and printing the JSON summary.
"""

from __future__ import annotations

import json
import logging
import random
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from orchestralink.catalog import CatalogError, load_catalog
from simulator.config import Settings, parse_settings
from simulator.errors import ConfigurationError, SimulatorError
from simulator.incidents import parse_schedule
from simulator.machines import Machine, build_fleet
from simulator.messages import MessageEncoder
from simulator.publisher import DeliveryStats, MqttPublisher
from simulator.runner import FleetRunner, RunOutcome

logger = logging.getLogger("simulator")

EXIT_OK = 0
EXIT_UNDELIVERED = 1
EXIT_USAGE = 2


def main(argv: list[str] | None = None) -> int:
    try:
        settings = parse_settings(argv)
    except ConfigurationError as error:
        print(f"orchestralink-simulator: error: {error}", file=sys.stderr)
        return EXIT_USAGE

    _configure_logging(settings.log_level)
    try:
        return run(settings)
    except (ConfigurationError, CatalogError) as error:
        logger.error("%s", error)
        return EXIT_USAGE
    except SimulatorError as error:
        logger.error("%s", error)
        return EXIT_UNDELIVERED


class _Signals:
    """First SIGINT/SIGTERM: stop publishing and drain. Second: stop waiting."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.force = threading.Event()
        self.received: str | None = None

    def handle(self, signum: int, frame: FrameType | None) -> None:
        # Only set flags here: logging from a signal handler can deadlock.
        if self.stop.is_set():
            self.force.set()
        self.received = signal.Signals(signum).name
        self.stop.set()

    @contextmanager
    def installed(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {
            s: signal.signal(s, self.handle) for s in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


class _Heartbeat:
    """Touches a file while the run is alive and connected, for health checks."""

    def __init__(self, path: Path | None, publisher: MqttPublisher) -> None:
        self._path = path
        self._publisher = publisher
        self._last = float("-inf")
        self._failed = False

    def __call__(self) -> None:
        now = time.monotonic()
        if self._path is None or now - self._last < 1.0:
            return
        if not self._publisher.connected:
            return
        self._last = now
        try:
            self._path.touch()
        except OSError as error:
            if not self._failed:
                self._failed = True
                logger.warning(
                    "cannot touch the heartbeat file %s: %s; fix --heartbeat-file "
                    "(SIM_HEARTBEAT_FILE)",
                    self._path,
                    error.strerror,
                )


def run(settings: Settings, signals: _Signals | None = None) -> int:
    """One simulator run from checked settings; returns the exit status."""
    signals = signals or _Signals()
    catalog = load_catalog(settings.catalog)
    seed = settings.seed
    if seed is None:
        seed = random.SystemRandom().randrange(2**31)
    schedule = parse_schedule(settings.incident_schedule, settings.incident_duration)
    fleet = build_fleet(
        catalog,
        settings.machines,
        seed=seed,
        types=settings.types,
        schedule=schedule,
        incident_rate=settings.incident_rate,
        incident_duration=settings.incident_duration,
    )
    logger.info(
        "%s mode%s: %d machines (%s), %g ticks/s, seed %d",
        f"load ({settings.load} messages)" if settings.load else "real-time",
        ", batch messages" if settings.batch else "",
        len(fleet),
        ", ".join(m.machine_id for m in fleet),
        settings.rate,
        seed,
    )

    publisher = MqttPublisher(
        settings.broker,
        max_inflight=settings.max_inflight,
        max_buffered=settings.max_buffered,
        reconnect_min=settings.reconnect_min,
        reconnect_max=settings.reconnect_max,
    )
    runner = FleetRunner(
        fleet,
        MessageEncoder(batch=settings.batch),
        publisher,
        rate=settings.rate,
        stop=signals.stop,
        progress_interval=settings.progress_interval,
        heartbeat=_Heartbeat(settings.heartbeat_file, publisher),
    )

    with signals.installed():
        started = time.monotonic()
        publisher.start()
        if not publisher.wait_connected(settings.connect_timeout, signals.stop):
            publisher.close()
            stats = publisher.stats()
            _write_summary(
                settings, _summary(settings, seed, fleet, runner, None, stats, 0.0)
            )
            if signals.stop.is_set():
                logger.info("stopped by %s before connecting", signals.received)
                return EXIT_OK
            logger.error(
                "could not connect to %s within %g s; is the broker running? "
                "(check --host/--port or MQTT_HOST/MQTT_PORT)",
                settings.broker.address,
                settings.connect_timeout or 0,
            )
            return EXIT_UNDELIVERED

        if settings.load:
            outcome = runner.run_load(settings.load, settings.duration)
        else:
            outcome = runner.run_stream(settings.duration)
        if outcome.stopped_by == "signal":
            logger.info("stopping on %s", signals.received)

        drained = _drain(publisher, settings.drain_timeout, signals.force)
        elapsed = time.monotonic() - started
        publisher.close()

    stats = publisher.stats()
    if not drained:
        logger.warning(
            "%d messages were not acknowledged within %g s and may be lost",
            stats.outstanding,
            settings.drain_timeout,
        )
    summary = _summary(settings, seed, fleet, runner, outcome, stats, elapsed)
    _write_summary(settings, summary)
    logger.info(
        "sent %d messages (%d readings), %d acknowledged, %d dropped, in %.2f s",
        summary["messages_sent"],
        summary["readings_sent"],
        stats.acknowledged,
        stats.dropped,
        elapsed,
    )
    return EXIT_OK if stats.outstanding == 0 else EXIT_UNDELIVERED


def _drain(publisher: MqttPublisher, timeout: float, force: threading.Event) -> bool:
    deadline = time.monotonic() + timeout
    while not force.is_set():
        remaining = deadline - time.monotonic()
        if publisher.drain(max(0.0, min(0.2, remaining))):
            return True
        if remaining <= 0:
            return False
    return publisher.stats().outstanding == 0


def _summary(
    settings: Settings,
    seed: int,
    fleet: list[Machine],
    runner: FleetRunner,
    outcome: RunOutcome | None,
    stats: DeliveryStats,
    elapsed: float,
) -> dict[str, Any]:
    tally = runner.tally.as_dict()
    incidents = [
        incident.describe()
        for machine in fleet
        for incident in machine.incidents
        if incident.start < machine.time
    ]
    return {
        "mode": "load" if settings.load else "real-time",
        "batch": settings.batch,
        "broker": settings.broker.address,
        "seed": seed,
        "rate": settings.rate,
        "requested": settings.load or None,
        "stopped_by": outcome.stopped_by if outcome else "not-connected",
        "ticks": outcome.ticks if outcome else 0,
        "publish_seconds": round(outcome.seconds, 3) if outcome else 0.0,
        "elapsed_seconds": round(elapsed, 3),
        "messages_per_second": round(stats.acknowledged / elapsed, 1) if elapsed else 0,
        "messages_sent": tally["messages_sent"],
        "readings_sent": tally["readings_sent"],
        "messages_acknowledged": stats.acknowledged,
        "messages_unacknowledged": stats.outstanding,
        "messages_dropped": stats.dropped,
        "connections": stats.connections,
        "connection_failures": stats.connection_failures,
        "disconnections": stats.disconnections,
        "first_timestamp": tally["first_timestamp"],
        "last_timestamp": tally["last_timestamp"],
        "statuses": tally["statuses"],
        "incidents": incidents,
        "machine_ids": [m.machine_id for m in fleet],
        "machines": tally["machines"],
    }


def _write_summary(settings: Settings, summary: dict[str, Any]) -> None:
    text = json.dumps(summary, indent=2, ensure_ascii=False) + "\n"
    if settings.summary_file is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        settings.summary_file.write_text(text, encoding="utf-8")
    except OSError as error:
        raise SimulatorError(
            f"cannot write the summary to {str(settings.summary_file)!r}: "
            f"{error.strerror}; fix --summary-file (SIM_SUMMARY_FILE)"
        ) from error
    logger.info("summary written to %s", settings.summary_file)


def _configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    formatter = logging.Formatter(
        "%(asctime)s.%(msecs)03dZ %(levelname)s %(name)s: %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S",
    )
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.set_name("orchestralink-simulator")
    root = logging.getLogger()
    if not any(h.get_name() == handler.get_name() for h in root.handlers):
        root.addHandler(handler)
    root.setLevel(level)

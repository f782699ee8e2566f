"""The MQTT message contract the simulator writes, and the runner's accounting."""

from __future__ import annotations

import json
import logging
import re
import threading
from typing import Any

import pytest

from orchestralink.catalog import DEFAULT_CATALOG_PATH, Catalog, load_catalog
from simulator.incidents import parse_schedule
from simulator.machines import Machine, build_fleet
from simulator.messages import MessageEncoder, format_timestamp
from simulator.runner import FleetRunner

pytestmark = pytest.mark.unit

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
READING_KEYS = {
    "machine_id",
    "machine_type",
    "parameter",
    "value",
    "unit",
    "timestamp",
    "sequence",
}
BATCH_KEYS = {"machine_id", "machine_type", "timestamp", "sequence", "readings"}
FIXED_EPOCH = 1_796_327_881.123  # 2026-12-03T19:58:01.123Z


class RecordingSink:
    """Keeps what the runner publishes; refuses once `capacity` is reached."""

    def __init__(self, capacity: int | None = None) -> None:
        self.capacity = capacity
        self.published: list[tuple[str, dict[str, Any]]] = []
        self.refused = 0

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        block: bool = False,
        stop: threading.Event | None = None,
    ) -> bool:
        if self.capacity is not None and len(self.published) >= self.capacity:
            self.refused += 1
            return False
        self.published.append((topic, json.loads(payload)))
        return True


def frozen_clock() -> float:
    return FIXED_EPOCH


@pytest.fixture
def catalog() -> Catalog:
    return load_catalog(DEFAULT_CATALOG_PATH)


@pytest.fixture
def fleet(catalog: Catalog) -> list[Machine]:
    return build_fleet(catalog, 3, seed=5)


def test_timestamps_are_utc_iso_8601_with_milliseconds_and_z() -> None:
    assert format_timestamp(0) == "1970-01-01T00:00:00.000Z"
    assert format_timestamp(1_796_327_881_123) == "2026-12-03T19:58:01.123Z"
    assert format_timestamp(1_796_327_881_007) == "2026-12-03T19:58:01.007Z"


def test_a_reading_message_has_exactly_the_contract_fields(
    fleet: list[Machine],
) -> None:
    encoder = MessageEncoder(clock=frozen_clock)

    messages = encoder.encode(fleet[0].step(1.0))

    assert [m.topic for m in messages] == [
        "machine/drill-001/Temperature",
        "machine/drill-001/SpindleSpeed",
        "machine/drill-001/Torque",
        "machine/drill-001/FeedRate",
        "machine/drill-001/CoolantPressure",
    ]
    body = json.loads(messages[0].payload)
    assert set(body) == READING_KEYS
    assert body["machine_id"] == "drill-001"
    assert body["machine_type"] == "Drilling"
    assert body["parameter"] == "Temperature"
    assert isinstance(body["value"], float)
    assert body["unit"] == "°C"
    assert body["timestamp"] == "2026-12-03T19:58:01.123Z"
    assert body["sequence"] == 1
    assert "°C".encode() in messages[0].payload


def test_a_batch_message_carries_every_parameter_of_the_machine(
    fleet: list[Machine], catalog: Catalog
) -> None:
    encoder = MessageEncoder(batch=True, clock=frozen_clock)

    (message,) = encoder.encode(fleet[2].step(1.0))

    assert message.topic == "machine/lathe-003/telemetry"
    body = json.loads(message.payload)
    assert set(body) == BATCH_KEYS
    assert body["machine_type"] == "Lathe"
    assert body["sequence"] == 1
    assert TIMESTAMP.match(body["timestamp"])
    assert [r["parameter"] for r in body["readings"]] == list(
        catalog.machine_type("Lathe").parameters
    )
    assert all(set(r) == {"parameter", "value", "unit"} for r in body["readings"])
    assert message.readings == 5


def test_sequence_numbers_count_each_machines_messages_from_one(
    fleet: list[Machine],
) -> None:
    encoder = MessageEncoder(clock=frozen_clock)

    drill = [m.sequence for _ in range(3) for m in encoder.encode(fleet[0].step(1.0))]
    mill = [m.sequence for m in encoder.encode(fleet[1].step(1.0))]

    assert drill == list(range(1, 16))
    assert mill == [1, 2, 3, 4, 5]


def test_batch_sequence_numbers_count_messages_not_readings(
    fleet: list[Machine],
) -> None:
    encoder = MessageEncoder(batch=True, clock=frozen_clock)

    sequences = [encoder.encode(fleet[0].step(1.0))[0].sequence for _ in range(4)]

    assert sequences == [1, 2, 3, 4]


def test_timestamps_never_repeat_for_a_machine_even_within_one_millisecond(
    fleet: list[Machine],
) -> None:
    encoder = MessageEncoder(clock=frozen_clock)

    stamps = [encoder.encode(fleet[0].step(1.0))[0].timestamp for _ in range(3)]

    assert stamps == [
        "2026-12-03T19:58:01.123Z",
        "2026-12-03T19:58:01.124Z",
        "2026-12-03T19:58:01.125Z",
    ]


def test_all_readings_of_one_tick_share_its_timestamp(fleet: list[Machine]) -> None:
    encoder = MessageEncoder(clock=frozen_clock)

    messages = encoder.encode(fleet[1].step(1.0))

    assert {m.timestamp for m in messages} == {"2026-12-03T19:58:01.123Z"}


def test_load_mode_sends_exactly_the_count_and_accounts_for_it(
    fleet: list[Machine],
) -> None:
    sink = RecordingSink()
    runner = FleetRunner(
        fleet,
        MessageEncoder(clock=frozen_clock),
        sink,
        rate=10.0,
        progress_interval=0,
    )

    outcome = runner.run_load(37)

    assert outcome.stopped_by == "count"
    assert len(sink.published) == 37
    summary = runner.tally.as_dict()
    assert summary["messages_sent"] == 37
    assert summary["readings_sent"] == 37
    # 37 = two full rounds of 3 machines x 5 parameters, then 7 more.
    assert {
        k: (v["first_sequence"], v["last_sequence"], v["messages"])
        for k, v in summary["machines"].items()
    } == {
        "drill-001": (1, 15, 15),
        "mill-002": (1, 12, 12),
        "lathe-003": (1, 10, 10),
    }
    assert summary["first_timestamp"] == "2026-12-03T19:58:01.123Z"
    assert summary["last_timestamp"] == "2026-12-03T19:58:01.125Z"


def test_load_mode_in_batches_counts_messages_and_readings_separately(
    fleet: list[Machine],
) -> None:
    sink = RecordingSink()
    runner = FleetRunner(
        fleet,
        MessageEncoder(batch=True, clock=frozen_clock),
        sink,
        rate=10.0,
        progress_interval=0,
    )

    runner.run_load(7)

    summary = runner.tally.as_dict()
    assert summary["messages_sent"] == 7
    assert summary["readings_sent"] == 35
    assert {t.rsplit("/", 1)[1] for t, _ in sink.published} == {"telemetry"}


def test_the_same_seed_publishes_the_same_values(catalog: Catalog) -> None:
    def published(seed: int) -> list[tuple[str, float]]:
        sink = RecordingSink()
        FleetRunner(
            build_fleet(catalog, 4, seed=seed, incident_rate=120.0),
            MessageEncoder(),
            sink,
            rate=2.0,
            progress_interval=0,
        ).run_load(2000)
        return [(topic, body["value"]) for topic, body in sink.published]

    assert published(123) == published(123)
    assert published(123) != published(124)


def test_real_time_mode_runs_the_duration_in_ticks(fleet: list[Machine]) -> None:
    sink = RecordingSink()
    runner = FleetRunner(fleet, MessageEncoder(), sink, rate=200.0, progress_interval=0)

    outcome = runner.run_stream(duration=0.05)

    assert outcome.stopped_by == "duration"
    assert outcome.ticks == 10
    assert len(sink.published) == 10 * 3 * 5


def test_a_stop_request_ends_the_real_time_mode(fleet: list[Machine]) -> None:
    stop = threading.Event()
    sink = RecordingSink()
    runner = FleetRunner(
        fleet, MessageEncoder(), sink, rate=100.0, stop=stop, progress_interval=0
    )
    timer = threading.Timer(0.1, stop.set)
    timer.start()

    outcome = runner.run_stream()
    timer.join()

    assert outcome.stopped_by == "signal"
    assert 0 < outcome.ticks < 100


def test_messages_the_sink_drops_are_not_counted_as_sent(
    fleet: list[Machine],
) -> None:
    sink = RecordingSink(capacity=20)
    runner = FleetRunner(fleet, MessageEncoder(), sink, rate=100.0, progress_interval=0)

    runner.run_stream(duration=0.03)

    assert sink.refused == 3 * 3 * 5 - 20
    assert runner.tally.messages == 20


def test_status_changes_and_incidents_are_logged(
    catalog: Catalog, caplog: pytest.LogCaptureFixture
) -> None:
    schedule = parse_schedule("drill-001:Temperature:critical@0.1s+0.2s", 20.0)
    fleet = build_fleet(catalog, 1, seed=1, schedule=schedule)
    runner = FleetRunner(
        fleet, MessageEncoder(), RecordingSink(), rate=100.0, progress_interval=0
    )

    with caplog.at_level(logging.INFO, logger="simulator.runner"):
        runner.run_stream(duration=1.0)

    text = caplog.text
    assert "incident starts: drill-001:Temperature:critical-high@0.1s+0.2s" in text
    assert re.search(r"drill-001 Temperature (NORMAL|WARNING) -> CRITICAL at", text)
    assert "incident ends: drill-001:Temperature:critical-high" in text
    assert runner.tally.statuses["CRITICAL"] > 0

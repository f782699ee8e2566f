"""Publish to screen: how long a reading published to Mosquitto takes to show
on the open overview (issue 6: "new readings and alerts appear within 2 s of
being published").

For each sample a fresh drill (an id of its own, so nothing else touches it)
is published, as a machine publishes, with paho as the simulator user:

1. Temperature 1234.5 °C (above the critical threshold), until the red alert
   box lists the machine: `[data-testid="critical-alert-box"] li[...]`;
2. then a normal Temperature for the same drill, until its card shows that
   value (the alert clears with it, so the box does not grow).

Both ends are read on one clock, the host's wall clock: Python's `time.time()`
just before `publish()`, the page's `Date.now()` in a MutationObserver (see
`pagetiming.LIVE_WATCHER`); Python and Chromium run on the same machine, so no
offset is involved, and the resolution is 1 ms. A random pause of 0.2 to 1.2 s
before each publish keeps the samples from locking on to the page's flush
interval or the fleet's once-a-second rhythm.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from playwright.sync_api import Browser, Page
from playwright.sync_api import Error as PlaywrightError

from benchsuite import pagetiming
from benchsuite.functions import percentile
from benchsuite.stack import BenchError, Stack

LIVE_MS = 2000
SHOW_TIMEOUT_MS = 15_000
CRITICAL_VALUE = 1234.5
ALERT_ITEM = '[data-testid="critical-alert-box"] li[data-machine-id="{}"]'
CARD_VALUE = (
    'article.card[data-machine-id="{}"] tr.reading[data-parameter="Temperature"] .num'
)


class Publisher:
    """A paho client on the stack's broker, as the simulator user."""

    def __init__(self, stack: Stack) -> None:
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"bench-live-{uuid.uuid4().hex[:8]}",
        )
        self.client.username_pw_set("simulator", stack.passwords["simulator"])
        try:
            self.client.connect("127.0.0.1", stack.mqtt_port)
        except OSError as error:
            raise BenchError(
                f"cannot connect to Mosquitto on port {stack.mqtt_port}: {error}"
            ) from error
        self.client.loop_start()

    def publish(self, machine_id: str, value: float, sequence: int) -> float:
        """Publish one Temperature reading (QoS 1); returns the wall-clock
        time in ms taken just before handing it to paho."""
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
        payload = {
            "machine_id": machine_id,
            "machine_type": "Drilling",
            "parameter": "Temperature",
            "value": value,
            "unit": "°C",
            "timestamp": f"{stamp}.{int(now * 1000) % 1000:03d}Z",
            "sequence": sequence,
        }
        published_at = time.time() * 1000
        info = self.client.publish(
            f"machine/{machine_id}/Temperature", json.dumps(payload), qos=1
        )
        info.wait_for_publish(timeout=10)
        if not info.is_published():
            raise BenchError(f"Mosquitto did not acknowledge {machine_id}'s reading")
        return published_at

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def open_live_overview(page: Page, url: str, machines: int) -> None:
    """The overview, once every machine has its card and data arrives over MQTT."""
    page.goto(url + "/")
    page.wait_for_function(
        f"() => document.querySelectorAll('article.card').length >= {machines}",
        timeout=30_000,
    )
    page.wait_for_selector('[data-testid="link-indicator"][data-mode="mqtt"]')


def measure_live_latency(
    browser: Browser, stack: Stack, url: str, machines: int, publishes: int
) -> dict[str, Any]:
    """`publishes` critical and as many normal readings, one at a time, with
    the overview open and the fleet publishing."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    publisher = Publisher(stack)
    rng = random.Random(6)
    samples = []
    try:
        page = context.new_page()
        open_live_overview(page, url, machines)
        page.evaluate(pagetiming.LIVE_WATCHER)
        for i in range(publishes):
            machine_id = f"drill-bench{uuid.uuid4().hex[:8]}"
            normal = round(700 + (i + 1) / 10, 1)
            alert = _timed(
                page, publisher, rng, ALERT_ITEM.format(machine_id), None,
                (machine_id, CRITICAL_VALUE, 1),
            )  # fmt: skip
            card = _timed(
                page, publisher, rng, CARD_VALUE.format(machine_id), normal,
                (machine_id, normal, 2),
            )  # fmt: skip
            samples.append({"machine_id": machine_id, "alert": alert, "card": card})
        modes: list[str | None] = page.evaluate("() => window.__live.modes")
    finally:
        publisher.close()
        context.close()
    return {"samples": samples, "modes": modes, **_stats(samples)}


def _timed(
    page: Page,
    publisher: Publisher,
    rng: random.Random,
    selector: str,
    value: float | None,
    reading: tuple[str, float, int],
) -> dict[str, float | None]:
    """Arm a watch on `selector`, publish, and wait for it to be painted."""
    key = uuid.uuid4().hex
    page.evaluate(
        pagetiming.LIVE_WATCH, {"key": key, "selector": selector, "value": value}
    )
    time.sleep(rng.uniform(0.2, 1.2))
    published_at = publisher.publish(*reading)
    try:
        page.wait_for_function(
            "(key) => window.__live.watches[key].paintedAt !== null",
            arg=key,
            timeout=SHOW_TIMEOUT_MS,
        )
    except PlaywrightError:
        return {"shown": None, "painted": None}  # missed: counted in the stats
    watch: dict[str, float] = page.evaluate("(key) => window.__live.watches[key]", key)
    return {
        "shown": watch["seenAt"] - published_at,
        "painted": watch["paintedAt"] - published_at,
    }


def _stats(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """p50/p95/max of publish to painted, per kind (nearest rank: with fewer
    than 20 samples, p95 is the max)."""
    stats: dict[str, Any] = {}
    for kind in ("alert", "card"):
        painted = [
            s[kind]["painted"] for s in samples if s[kind]["painted"] is not None
        ]
        stats[kind] = {
            "n": len(samples),
            "missed": len(samples) - len(painted),
            "p50": percentile(painted, 50) if painted else None,
            "p95": percentile(painted, 95) if painted else None,
            "max": max(painted) if painted else None,
        }
    return stats

"""The dashboard's performance, measured in Debian's Chromium against the
deployed stack (page from the S3 website bucket, data from the API behind API
Gateway, live values over MQTT WebSockets), with 50 machines publishing.

- initial JavaScript: see `benchsuite.bundle`;
- overview: navigation start to all 50 machine cards in the DOM and painted,
  in fresh browser contexts (empty cache), the page's own clock;
- 30-day chart: one machine with 30 days of readings at one tick a minute
  (what rollups_minute holds for a machine that reports every second), loaded
  with COPY; from the click on "30 days" to every chart's uPlot draw;
- responsiveness: 50 machines publishing every parameter once a second (the
  simulator in real-time mode, its own process) while the overview is open;
  long tasks, animation frame intervals, key press to next frame, and the
  round trip of a `page.evaluate`;
- publish to screen: with the fleet still publishing, a critical reading to
  the red alert box and a normal one to its card, see `benchsuite.livelatency`.
"""

from __future__ import annotations

import io
import json
import logging
import os
import random
import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psutil
from playwright.sync_api import Browser, Page, sync_playwright

from benchsuite import pagetiming
from benchsuite.bundle import Bundle
from benchsuite.functions import HttpClient, percentile
from benchsuite.livelatency import LIVE_MS, measure_live_latency, open_live_overview
from benchsuite.stack import BenchError, Stack
from orchestralink.catalog import load_catalog

logger = logging.getLogger(__name__)

CHART_MACHINE = ("drill-001", "Drilling")
CHROMIUM_ENV = "ORCHESTRALINK_CHROMIUM"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

INITIAL_JS_KB = 250
OVERVIEW_MS = 1000
CHART_MS = 500
LONG_TASK_MS = 200
FRAME_P95_MS = 50
INTERACTION_MS = 200


@dataclass
class DashboardSettings:
    machines: int = 50
    overview_loads: int = 5
    chart_loads: int = 5
    responsive_seconds: float = 30
    live_publishes: int = 10


@dataclass
class DashboardResult:
    settings: DashboardSettings
    bundle: Bundle | None = None
    startup_scripts: list[str] = field(default_factory=list)  # dist paths
    month_rows: int = 0
    month_seconds: float = 0.0
    overview: list[dict[str, Any]] = field(default_factory=list)
    charts: list[dict[str, Any]] = field(default_factory=list)
    responsive: dict[str, Any] = field(default_factory=dict)
    live: dict[str, Any] = field(default_factory=dict)

    def overview_ms(self) -> list[float]:
        return [run["cardsPainted"] for run in self.overview]

    def chart_ms(self) -> list[float]:
        return [run["drawnAt"] - run["clickAt"] for run in self.charts]

    def rows(self) -> list[tuple[str, str, str, bool | None]]:
        """(figure, target, measured, met) for the table and the summary."""
        rows: list[tuple[str, str, str, bool | None]] = []
        if self.bundle:
            gz = self.bundle.initial_gzip / 1024
            raw = self.bundle.initial_raw / 1024
            rows.append(
                (
                    "initial JavaScript (gzip)",
                    f"<= {INITIAL_JS_KB} KB",
                    f"{gz:.1f} KB ({raw:.0f} KB raw, "
                    f"{len(self.bundle.initial)} file(s))",
                    gz <= INITIAL_JS_KB,
                )
            )
            if self.startup_scripts:
                raw_b, gz_b = self.bundle.sizes(self.startup_scripts)
                rows.append(
                    (
                        "JS the overview fetches, MQTT client included (gzip)",
                        f"<= {INITIAL_JS_KB} KB",
                        f"{gz_b / 1024:.1f} KB ({raw_b / 1024:.0f} KB raw)",
                        gz_b / 1024 <= INITIAL_JS_KB,
                    )
                )
        if self.overview:
            times = self.overview_ms()
            median = statistics.median(times)
            rows.append(
                (
                    f"overview: navigation to {self.settings.machines} cards painted",
                    f"<= {OVERVIEW_MS} ms (median of cold loads)",
                    f"median {median:.0f} ms, max {max(times):.0f} ms "
                    f"({len(times)} loads)",
                    median <= OVERVIEW_MS,
                )
            )
        if self.charts:
            times = self.chart_ms()
            median = statistics.median(times)
            points = self.charts[-1]["points"]
            rows.append(
                (
                    "30-day charts: click to drawn",
                    f"<= {CHART_MS} ms (median)",
                    f"median {median:.0f} ms, max {max(times):.0f} ms "
                    f"({len(points)} charts of {min(points)}-{max(points)} points)",
                    median <= CHART_MS and min(points) > 0,
                )
            )
        r = self.responsive
        if r:
            rows += [
                (
                    "live load: longest long task",
                    f"<= {LONG_TASK_MS} ms",
                    f"{r['long_task_max']:.0f} ms ({r['long_tasks']} long tasks "
                    f"in {r['seconds']:.0f} s, {r['long_task_total']:.0f} ms total)",
                    r["long_task_max"] <= LONG_TASK_MS,
                ),
                (
                    "live load: frame interval p95 / max",
                    f"p95 <= {FRAME_P95_MS} ms",
                    f"{r['frame_p95']:.1f} / {r['frame_max']:.0f} ms "
                    f"({r['frames']} frames)",
                    r["frame_p95"] <= FRAME_P95_MS,
                ),
                (
                    "live load: key press to next frame, max",
                    f"<= {INTERACTION_MS} ms",
                    f"{r['key_max']:.0f} ms (p50 {r['key_p50']:.0f}, "
                    f"{r['keys']} presses)",
                    r["key_max"] <= INTERACTION_MS,
                ),
                (
                    "live load: page.evaluate round trip p95",
                    "informative",
                    f"{r['evaluate_p95']:.1f} ms (max {r['evaluate_max']:.0f})",
                    None,
                ),
                (
                    "live load: readings stored / DOM updates",
                    f"{self.settings.machines} machines x every parameter, 1/s",
                    f"{r['stored_per_second']:.0f} readings/s, "
                    f"{r['mutations_per_second']:.0f} DOM mutations/s, "
                    f"link {r['link']}, machine CPU {r['cpu_busy']:.0f}%",
                    r["link"] == "mqtt" and r["stored_per_second"] > 0,
                ),
            ]
        if self.live:
            rows += self._live_rows()
        return rows

    def _live_rows(self) -> list[tuple[str, str, str, bool | None]]:
        modes = self.live["modes"]
        link = (
            "link mqtt throughout"
            if set(modes) == {"mqtt"}
            else "link " + " -> ".join(str(m) for m in modes)
        )
        rows: list[tuple[str, str, str, bool | None]] = []
        for kind, figure in (
            ("alert", "publish to screen: critical reading to red alert box item"),
            ("card", "publish to screen: normal reading to the value on its card"),
        ):
            s = self.live[kind]
            if s["max"] is None:
                measured = f"none shown of {s['n']}"
            else:
                measured = (
                    f"p50 {s['p50'] / 1000:.2f} s, p95 {s['p95'] / 1000:.2f} s, "
                    f"max {s['max'] / 1000:.2f} s ({s['n']} readings"
                    + (f", {s['missed']} not shown in 15 s" if s["missed"] else "")
                    + f"; {link})"
                )
            met = s["max"] is not None and not s["missed"] and s["max"] <= LIVE_MS
            rows.append((figure, f"<= {LIVE_MS / 1000:g} s, each (max)", measured, met))
        return rows


# -- data and load -----------------------------------------------------------


def load_month(stack: Stack, machine: tuple[str, str] = CHART_MACHINE) -> int:
    """Replace one machine's history by 30 days of readings, one tick a minute
    with every parameter (COPY), and derive its rollups like ingestion does.
    The stack's simulator must be stopped, so no live reading races the COPY."""
    machine_id, type_name = machine
    parameters = load_catalog().machine_type(type_name).parameters.values()
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    start = end - timedelta(days=30)
    ticks = int((end - start).total_seconds() // 60)
    rng = random.Random(3)
    buffer = io.StringIO()
    for p in parameters:
        low, high = p.normal_min, p.normal_max
        value = (low + high) / 2
        for tick in range(ticks):
            value = min(high, max(low, value + (high - low) * rng.gauss(0, 0.02)))
            ts = (start + timedelta(minutes=tick)).isoformat()
            buffer.write(f"{machine_id}\t{p.name}\t{ts}\t{value:.3f}\t{tick}\t{ts}\n")
    with stack.connect() as conn, conn.transaction():
        conn.execute(
            "INSERT INTO machines (machine_id, machine_type, first_seen, last_seen) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (machine_id) DO UPDATE SET "
            "first_seen = least(machines.first_seen, excluded.first_seen)",
            (machine_id, type_name, start, end),
        )
        conn.execute("DELETE FROM readings WHERE machine_id = %s", (machine_id,))
        conn.execute("DELETE FROM rollups_minute WHERE machine_id = %s", (machine_id,))
        with conn.cursor().copy(
            "COPY readings (machine_id, parameter, ts, value, sequence, received_at) "
            "FROM STDIN"
        ) as copy:
            copy.write(buffer.getvalue())
        conn.execute(
            "INSERT INTO rollups_minute (machine_id, parameter, bucket, min_value, "
            "max_value, sum_value, count) SELECT machine_id, parameter, "
            "date_trunc('minute', ts, 'UTC'), min(value), max(value), sum(value), "
            "count(*) FROM readings WHERE machine_id = %s GROUP BY 1, 2, 3",
            (machine_id,),
        )
    with stack.connect() as conn:
        conn.execute("ANALYZE readings")
        conn.execute("ANALYZE rollups_minute")
    return ticks * len(list(parameters))


def start_fleet(stack: Stack, machines: int) -> subprocess.Popen[bytes]:
    """The simulator in real-time mode: every machine reads every parameter
    once a second, as `make deploy-local` runs it, but with `machines`."""
    return stack.simulator(
        machines, 3, "--rate", "1", "--progress-interval", "0", quiet=True
    )


def wait_for_fleet(stack: Stack, machines: int, timeout: float = 90) -> None:
    """Until the API lists every machine with a reading of the last minute."""
    client = HttpClient(stack.api_url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            status, body = client.get("/machines")
            if status == 200 and _fresh_machines(body) >= machines:
                return
            if time.monotonic() > deadline:
                raise BenchError(
                    f"the API does not list {machines} machines reporting now: "
                    f"{body[:300]!r}"
                )
            time.sleep(1)
    finally:
        client.close()


def _fresh_machines(body: bytes) -> int:
    listed = json.loads(body).get("machines", [])
    cutoff = datetime.now(UTC) - timedelta(minutes=1)
    return sum(
        1
        for m in listed
        if m.get("last_seen")
        and datetime.fromisoformat(m["last_seen"].replace("Z", "+00:00")) > cutoff
    )


# -- the browser ---------------------------------------------------------------


def chromium_path() -> str:
    found = os.environ.get(CHROMIUM_ENV) or shutil.which("chromium")
    if not found:
        raise BenchError(
            f"no Chromium: install Debian's `chromium` or set {CHROMIUM_ENV}"
        )
    return found


def measure_overview(browser: Browser, url: str, machines: int) -> dict[str, Any]:
    """One cold load of the overview, in a fresh context (empty cache)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        context.add_init_script(script=pagetiming.CARDS_OBSERVER % machines)
        page = context.new_page()
        page.goto(url + "/")
        page.wait_for_function(
            "() => window.__bench && window.__bench.cardsPainted !== null",
            timeout=30_000,
        )
        figures: dict[str, Any] = page.evaluate(pagetiming.NAVIGATION_FIGURES)
        return figures
    finally:
        context.close()


def measure_charts(browser: Browser, url: str, loads: int) -> list[dict[str, Any]]:
    """Click "30 days" (from "24 h") `loads` times on one machine's page."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    runs = []
    try:
        page = context.new_page()
        machine_id = CHART_MACHINE[0]
        page.goto(f"{url}/#/machines/{machine_id}?range=24h")
        ready = 'section[data-charts-ready="{}"]'
        page.wait_for_selector(ready.format("24h"), timeout=30_000)
        for _ in range(loads):
            page.evaluate(pagetiming.CLICK_RECORDER)
            page.get_by_role("button", name="30 days", exact=True).click()
            page.wait_for_selector(ready.format("30d"), timeout=30_000)
            runs.append(page.evaluate(pagetiming.CHART_FIGURES, "30d"))
            page.get_by_role("button", name="24 h", exact=True).click()
            page.wait_for_selector(ready.format("24h"), timeout=30_000)
    finally:
        context.close()
    return runs


def measure_responsiveness(
    browser: Browser, stack: Stack, url: str, machines: int, seconds: float
) -> dict[str, Any]:
    """The overview open for `seconds` while the fleet publishes."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        open_live_overview(page, url, machines)
        page.evaluate(pagetiming.RESPONSIVENESS_PROBE)
        page.get_by_label("Status").focus()
        began_at = datetime.now(UTC)
        cpu_before = psutil.cpu_times()
        round_trips = _keep_busy(page, seconds)
        cpu_after = psutil.cpu_times()
        figures = page.evaluate(pagetiming.RESPONSIVENESS_FIGURES)
        link = page.get_by_test_id("link-indicator").get_attribute("data-mode")
    finally:
        context.close()
    with stack.connect() as conn:
        row = conn.execute(
            "SELECT count(*) FROM readings WHERE ts >= %s AND ts < %s",
            (began_at, began_at + timedelta(seconds=seconds)),
        ).fetchone()
    return _responsiveness_stats(
        figures,
        round_trips,
        seconds,
        int(row[0]) if row else 0,
        link or "",
        (cpu_before, cpu_after),
    )


def _keep_busy(page: Page, seconds: float) -> list[float]:
    """Every half second an evaluate round trip; every two seconds a key press
    on the status filter (down, then up again: the grid re-renders)."""
    round_trips = []
    deadline = time.monotonic() + seconds
    tick = 0
    while time.monotonic() < deadline:
        started = time.perf_counter()
        page.evaluate("() => performance.now()")
        round_trips.append((time.perf_counter() - started) * 1000)
        if tick % 4 == 0:
            page.keyboard.press("ArrowDown" if tick % 8 == 0 else "ArrowUp")
        tick += 1
        time.sleep(0.5)
    page.wait_for_timeout(300)  # the last key press's frame
    return round_trips


def _responsiveness_stats(
    figures: dict[str, Any],
    round_trips: list[float],
    seconds: float,
    stored: int,
    link: str,
    cpu: tuple[Any, Any],
) -> dict[str, Any]:
    before, after = cpu
    busy = sum(after) - sum(before) - (after.idle - before.idle)
    total = sum(after) - sum(before)
    long_tasks = figures["longTasks"] or [0.0]
    intervals = figures["intervals"] or [0.0]
    keys = figures["keys"] or [0.0]
    return {
        "seconds": seconds,
        "long_tasks": len(figures["longTasks"]),
        "long_task_max": max(long_tasks),
        "long_task_total": sum(figures["longTasks"]),
        "frames": len(figures["intervals"]),
        "frame_p50": percentile(intervals, 50),
        "frame_p95": percentile(intervals, 95),
        "frame_max": max(intervals),
        "keys": len(figures["keys"]),
        "key_p50": percentile(keys, 50),
        "key_max": max(keys),
        "slow_events": figures["events"],
        "evaluate_p50": percentile(round_trips, 50),
        "evaluate_p95": percentile(round_trips, 95),
        "evaluate_max": max(round_trips),
        "mutations_per_second": figures["mutations"] / seconds,
        "cards": figures["cards"],
        "stored_per_second": stored / seconds,
        "link": link,
        "cpu_busy": 100 * busy / total if total else 0.0,
    }


def startup_requests(overview: dict[str, Any]) -> list[float]:
    """When config.json, /parameters and the first /machines answered (ms):
    the chain the overview waits on before it can draw a card."""
    ends = []
    for path in ("config.json", "/parameters", "/machines"):
        found = [r["end"] for r in overview["requests"] if path in r["url"]]
        ends.append(min(found) if found else float("nan"))
    return ends


def _startup_scripts(overview: dict[str, Any], url: str) -> list[str]:
    """dist paths of the scripts a page load fetched."""
    prefix = url.rstrip("/") + "/"
    return sorted(
        {
            s["url"].split("?")[0].removeprefix(prefix)
            for s in overview["scripts"]
            if s["url"].startswith(prefix)
        }
    )


def measure_dashboard(
    stack: Stack, settings: DashboardSettings, bundle: Bundle | None
) -> DashboardResult:
    """Everything but the build, against a stack deployed with the dashboard."""
    result = DashboardResult(settings, bundle=bundle)
    url = stack.endpoints["dashboard_url"].rstrip("/")
    if not url:
        raise BenchError("the stack has no dashboard URL: deploy it with DASHBOARD=1")
    stack.quiesce()  # the stack's own simulator (its machine count) stops
    started = time.perf_counter()
    result.month_rows = load_month(stack)
    result.month_seconds = time.perf_counter() - started
    fleet = start_fleet(stack, settings.machines)
    try:
        wait_for_fleet(stack, settings.machines)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium_path(), args=CHROMIUM_ARGS
            )
            try:
                measure_overview(browser, url, settings.machines)  # warm the API
                for _ in range(settings.overview_loads):
                    result.overview.append(
                        measure_overview(browser, url, settings.machines)
                    )
                result.startup_scripts = _startup_scripts(result.overview[0], url)
                result.charts = measure_charts(browser, url, settings.chart_loads)
                result.responsive = measure_responsiveness(
                    browser, stack, url, settings.machines, settings.responsive_seconds
                )
                result.live = measure_live_latency(
                    browser, stack, url, settings.machines, settings.live_publishes
                )
            finally:
                browser.close()
    finally:
        fleet.terminate()
        try:
            fleet.wait(timeout=30)
        except subprocess.TimeoutExpired:
            fleet.kill()
            fleet.wait()
    return result

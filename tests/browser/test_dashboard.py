"""The dashboard in headless Chromium against the stack `make deploy-local` deploys.

Everything is real: the page comes from the S3 website bucket of the local
cloud, data from the API behind its API Gateway, live values over MQTT
WebSockets from Mosquitto with the dashboard's read-only user; readings are
published with `mosquitto_pub` as the simulator user. Machines created by
these tests have ids of their own, so the simulator's next reading for its own
machines never interferes.

The tests that stop a service start it again, so the session's stack stays
usable: Mosquitto keeps its data and the dashboard reconnects by itself; the
local cloud keeps its control plane in memory, so after it the stack is
deployed again (`deploy up`, which reuses the database) and the page reloaded.
That test runs last in this module.
"""

from __future__ import annotations

import re
import time
import urllib.error
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Broker, api_get
from tests.fixtures.stack import DeployedStack

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Live updates arrive within 2 s on a quiet machine; that figure is measured by
# `make bench` (infrastructure/bench/dashboard.py). Here the page only has to update
# without a reload: the wait is generous because CI machines are shared and noisy.
LIVE_TIMEOUT_MS = 15_000


def reading(machine_id: str, parameter: str, value: float, unit: str) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "machine_id": machine_id,
        "machine_type": "Drilling",
        "parameter": parameter,
        "value": value,
        "unit": unit,
        "timestamp": now,
        "sequence": 1,
    }


def new_drill() -> str:
    return f"drill-e2e{uuid.uuid4().hex[:8]}"


def open_overview(page: Page, stack: DeployedStack) -> None:
    page.goto(stack.dashboard_url + "/")
    expect(page.locator("article.card").first).to_be_visible(timeout=20_000)
    expect(page.get_by_test_id("link-indicator")).to_have_attribute(
        "data-mode", "mqtt", timeout=15_000
    )


def wait_for_open_alert(stack: DeployedStack, machine_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            alerts = api_get(stack, f"alerts?machine_id={machine_id}")["alerts"]
        except urllib.error.HTTPError as error:  # 404 until the machine is stored
            if error.code != 404:
                raise
            alerts = []
        if alerts:
            alert: dict[str, Any] = alerts[0]
            return alert
        time.sleep(0.5)
    raise AssertionError(f"no alert for {machine_id} reached the API within 30 s")


def test_the_dashboard_loads_from_the_s3_website_url(
    page: Page, deployed_stack: DeployedStack
) -> None:
    response = page.goto(deployed_stack.dashboard_url + "/")

    assert response is not None
    assert response.status == 200
    assert ".s3-website.localhost:" in deployed_stack.dashboard_url
    expect(page).to_have_title("OrchestraLink")
    config = page.evaluate("fetch('config.json').then((r) => r.json())")
    assert config["apiUrl"] == deployed_stack.api_url_host_style
    assert config["mqttUsername"] == "dashboard"


def test_machines_appear_with_status_values_and_live_updates(
    page: Page, deployed_stack: DeployedStack, artifacts_dir: Path
) -> None:
    open_overview(page, deployed_stack)

    machines = api_get(deployed_stack, "machines")["machines"]
    for machine in machines:
        card = page.locator(f'article.card[data-machine-id="{machine["machine_id"]}"]')
        expect(card).to_be_visible()
        expect(card.locator(".badge")).to_have_text(
            re.compile("NORMAL|WARNING|CRITICAL|UNKNOWN")
        )
        expect(card.locator("tr.reading")).to_have_count(len(machine["parameters"]))
    expect(page.get_by_test_id("link-indicator")).to_contain_text("Live (MQTT)")
    page.screenshot(path=artifacts_dir / "overview.png", full_page=True)


def test_a_critical_reading_shows_the_red_alert_box_without_a_reload(
    page: Page, deployed_stack: DeployedStack, broker: Broker, artifacts_dir: Path
) -> None:
    machine_id = new_drill()
    open_overview(page, deployed_stack)
    box_item = page.locator(
        f'[data-testid="critical-alert-box"] li[data-machine-id="{machine_id}"]'
    )
    expect(box_item).to_have_count(0)
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))

    broker.publish(
        f"machine/{machine_id}/Temperature",
        reading(machine_id, "Temperature", 1234.5, "°C"),
    )
    box_item.wait_for(timeout=LIVE_TIMEOUT_MS)
    expect(box_item).to_contain_text(
        f"{machine_id} (Drilling): Temperature 1,234.5 °C since"
    )
    assert navigations == [], "the page reloaded"
    card = page.locator(f'article.card[data-machine-id="{machine_id}"]')
    expect(card).to_have_attribute("data-status", "CRITICAL")
    expect(page.locator("article.card").first).to_have_attribute(
        "data-status", "CRITICAL"
    )

    box_item.get_by_role("link", name=machine_id).click()
    expect(page).to_have_url(re.compile(f"#/machines/{machine_id}$"))
    expect(page.locator("figure.chart canvas").first).to_be_visible(timeout=15_000)
    expect(page.locator('figure.chart[aria-busy="true"]')).to_have_count(0)
    page.screenshot(path=artifacts_dir / "machine-detail.png", full_page=True)

    broker.publish(
        f"machine/{machine_id}/Temperature",
        reading(machine_id, "Temperature", 720.0, "°C"),
    )
    expect(box_item).to_have_count(0, timeout=LIVE_TIMEOUT_MS)


def test_a_machine_seen_live_before_it_is_stored_gets_its_charts_once_stored(
    page: Page, deployed_stack: DeployedStack, broker: Broker
) -> None:
    lam = deployed_stack.client("lambda")
    ingest = deployed_stack.output("IngestFunctionName")
    mapping = lam.list_event_source_mappings(FunctionName=ingest)[
        "EventSourceMappings"
    ][0]["UUID"]
    machine_id = new_drill()
    open_overview(page, deployed_stack)
    lam.update_event_source_mapping(UUID=mapping, Enabled=False)
    try:
        # Ingestion is paused: the reading reaches the page over MQTT only.
        broker.publish(
            f"machine/{machine_id}/Temperature",
            reading(machine_id, "Temperature", 1234.5, "°C"),
        )
        box_item = page.locator(
            f'[data-testid="critical-alert-box"] li[data-machine-id="{machine_id}"]'
        )
        box_item.get_by_role("link", name=machine_id).click(timeout=LIVE_TIMEOUT_MS)
        expect(
            page.get_by_text(
                f"Waiting for the first stored readings of {machine_id}"
            ).first
        ).to_be_visible()
    finally:
        lam.update_event_source_mapping(UUID=mapping, Enabled=True)

    temperature = page.locator("figure.chart", has_text="Temperature")
    expect(temperature.locator("canvas")).to_be_visible(timeout=30_000)
    expect(temperature).to_have_attribute("data-points", "1")


def test_an_acknowledged_alert_stays_listed_until_it_clears(
    page: Page, deployed_stack: DeployedStack, broker: Broker, artifacts_dir: Path
) -> None:
    machine_id = new_drill()
    broker.publish(
        f"machine/{machine_id}/Temperature",
        reading(machine_id, "Temperature", 1234.5, "°C"),
    )
    alert = wait_for_open_alert(deployed_stack, machine_id)

    page.goto(f"{deployed_stack.dashboard_url}/#/alerts?machine={machine_id}")
    page.get_by_label("Acknowledge as").fill("e2e operator")
    row = page.locator(f'tr[data-alert-id="{alert["alert_id"]}"]')
    row.get_by_role("button", name=re.compile("^Acknowledge alert")).click()

    expect(row).to_contain_text("✓ e2e operator")
    expect(row).to_have_attribute("data-state", "open")
    stored = api_get(deployed_stack, f"alerts?machine_id={machine_id}")["alerts"][0]
    assert stored["acknowledged"] is True
    assert stored["acknowledged_by"] == "e2e operator"
    page.reload()
    expect(row).to_contain_text("✓ e2e operator")
    page.screenshot(path=artifacts_dir / "alerts.png", full_page=True)

    broker.publish(
        f"machine/{machine_id}/Temperature",
        reading(machine_id, "Temperature", 720.0, "°C"),
    )
    expect(row).to_have_count(0, timeout=15_000)
    page.get_by_label("State").select_option("all")
    expect(row).to_have_attribute("data-state", "cleared")
    expect(row).to_contain_text("✓ e2e operator")


def test_the_api_docs_page_shows_swagger_ui_over_openapi_json(
    page: Page, deployed_stack: DeployedStack
) -> None:
    swagger_files: list[str] = []
    page.on(
        "response",
        lambda r: swagger_files.append(r.url) if "swagger-ui" in r.url else None,
    )

    page.goto(deployed_stack.dashboard_url + "/#/docs")

    expect(page.locator(".swagger-ui .info .title")).to_contain_text(
        "OrchestraLink API", timeout=20_000
    )
    expect(page.locator(".swagger-ui .opblock-summary-path").first).to_be_visible()
    assert swagger_files
    assert all(url.startswith(deployed_stack.dashboard_url) for url in swagger_files)


def test_the_fleet_is_usable_from_the_keyboard_and_at_phone_width(
    page: Page, deployed_stack: DeployedStack, artifacts_dir: Path
) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    open_overview(page, deployed_stack)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=artifacts_dir / "overview-phone.png")

    first_link = page.locator("article.card h3 a").first
    machine_id = first_link.inner_text()
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement?.closest('article.card') !== null"):
            break
    assert page.evaluate("document.activeElement.textContent") == machine_id
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(f"#/machines/{machine_id}$"))


def test_with_the_broker_stopped_it_polls_the_api_and_says_so(
    page: Page, deployed_stack: DeployedStack
) -> None:
    open_overview(page, deployed_stack)
    indicator = page.get_by_test_id("link-indicator")

    deployed_stack.stop_service("mosquitto")
    try:
        expect(indicator).to_have_attribute("data-mode", "polling", timeout=15_000)
        expect(indicator).to_contain_text("Polling API")
        expect(page.get_by_test_id("broker-banner")).to_contain_text(
            f"broker ws://127.0.0.1:{deployed_stack.mqtt_ws_port} unreachable"
        )
    finally:
        deployed_stack.start_service("mosquitto")

    expect(indicator).to_have_attribute("data-mode", "mqtt", timeout=30_000)
    expect(page.get_by_test_id("broker-banner")).to_have_count(0)


def test_with_the_api_stopped_the_banner_says_what_failed(
    page: Page, deployed_stack: DeployedStack, artifacts_dir: Path
) -> None:
    open_overview(page, deployed_stack)
    banner = page.get_by_test_id("api-banner")
    expect(banner).to_have_count(0)

    api_url = deployed_stack.api_url_host_style

    deployed_stack.stop_service("localcloud")
    try:
        expect(banner).to_be_visible(timeout=30_000)
        expect(banner).to_contain_text("API unreachable. GET /")
        expect(banner).to_contain_text(f"cannot reach the API at {api_url}")
        expect(banner).to_contain_text(re.compile(r"Retrying (in \d+ s|now)"))
        expect(page.locator("article.card").first).to_be_visible()
        page.screenshot(path=artifacts_dir / "api-unreachable.png", full_page=True)
    finally:
        # The local cloud keeps its control plane in memory: after a restart
        # the stack is deployed again (the database and broker kept their data).
        deployed_stack.start_service("localcloud")
        deployed_stack.deploy("up")

    page.goto(deployed_stack.dashboard_url + "/")
    expect(page.locator("article.card").first).to_be_visible(timeout=30_000)
    expect(banner).to_have_count(0)

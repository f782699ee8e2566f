"""Headless Chromium for the dashboard's browser tests.

The browser is Debian's `chromium` package, driven by Playwright for Python
through its executable path: no browser download. Chromium resolves every
`*.localhost` name (the S3 website and execute-api hosts) to the loopback
address by itself, so the dashboard is opened at the URL the deploy prints.

Screenshots go to `test-artifacts/browser/` (gitignored), one set per run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from tests.fixtures.stack import DeployedStack

REPO_DIR = Path(__file__).resolve().parents[2]
ARTIFACTS_DIR = REPO_DIR / "test-artifacts" / "browser"
CHROMIUM_ENV = "ORCHESTRALINK_CHROMIUM"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str:
    configured = os.environ.get(CHROMIUM_ENV)
    found = configured or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found or not Path(found).exists():
        raise pytest.UsageError(
            f"no Chromium found (looked at ${CHROMIUM_ENV}, then chromium and "
            "chromium-browser on PATH): install Debian's package with "
            "`apt-get install chromium`, or set "
            f"{CHROMIUM_ENV}=/path/to/chromium"
        )
    return found


@pytest.fixture(scope="session")
def playwright_session() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def chromium(playwright_session: Playwright) -> Iterator[Browser]:
    browser = playwright_session.chromium.launch(
        executable_path=chromium_path(), args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS_DIR


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    """A fresh browser context per test; uncaught page errors fail the test."""
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], f"the dashboard threw in the browser: {errors}"


class Broker:
    """Publishes with `mosquitto_pub` as the simulator user, like a machine."""

    def __init__(self, stack: DeployedStack) -> None:
        self.port = stack.mqtt_port
        self.password = stack.credentials["simulator"]

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        subprocess.run(
            [
                "mosquitto_pub",
                "-h", "127.0.0.1",
                "-p", str(self.port),
                "-u", "simulator",
                "-P", self.password,
                "-q", "1",
                "-t", topic,
                "-m", json.dumps(payload),
            ],
            check=True,
            timeout=15,
        )  # fmt: skip


@pytest.fixture
def broker(deployed_stack: DeployedStack) -> Broker:
    return Broker(deployed_stack)


def api_get(stack: DeployedStack, path: str, timeout: float = 10) -> Any:
    """GET a path of the deployed API (path-style URL, which Python resolves)."""
    url = stack.api_url.rstrip("/") + "/" + path.lstrip("/")
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
        return json.loads(response.read())

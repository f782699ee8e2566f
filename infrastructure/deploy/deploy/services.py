"""The stack's long-running processes and how to tell they are healthy."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from string import Template
from typing import Any

from deploy import credentials
from deploy.config import StackConfig
from deploy.errors import DeployError
from deploy.supervisor import Program, Supervisor


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(found).exists():
        raise DeployError(
            "Mosquitto is not installed: run `make bootstrap` (it installs it with "
            "apt-get or brew), or install the 'mosquitto' package yourself"
        )
    return found


def prepare_mosquitto(config: StackConfig, passwords: dict[str, str]) -> Path:
    """Render mosquitto/mosquitto.conf into the state folder; returns its path."""
    directory = config.mosquitto_dir
    (directory / "data").mkdir(parents=True, exist_ok=True)
    credentials.write_password_file(directory / "passwords", passwords)
    template = Template((config.repo_dir / "mosquitto" / "mosquitto.conf").read_text())
    user = _broker_user(config.state_dir)
    rendered = template.substitute(
        MOSQUITTO_USER=user,
        MQTT_PORT=config.mqtt_port,
        MQTT_WS_PORT=config.mqtt_ws_port,
        MQTT_BIND=config.bind,
        STATE_DIR=config.state_dir,
        REPO_DIR=config.repo_dir,
    )
    path = directory / "mosquitto.conf"
    path.write_text(rendered)
    if user == "mosquitto":
        # It must read its password file and write its persistence folder.
        entry = pwd.getpwnam(user)
        for item in [directory, *directory.rglob("*")]:
            os.chown(item, entry.pw_uid, entry.pw_gid)
    return path


def _broker_user(state_dir: Path) -> str:
    """Who Mosquitto runs as: itself when started by root, if it can reach
    the state folder (a private folder such as /root/... it cannot)."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid()).pw_name  # ignored by a non-root broker
    try:
        pwd.getpwnam("mosquitto")
    except KeyError:
        return "root"
    reachable = all(
        parent.stat().st_mode & 0o001 for parent in [state_dir, *state_dir.parents]
    )
    return "mosquitto" if reachable else "root"


def programs(config: StackConfig, passwords: dict[str, str]) -> list[Program]:
    venv = config.venv_bin
    mqtt_env = {
        "MQTT_HOST": config.bind,
        "MQTT_PORT": str(config.mqtt_port),
        "MQTT_USERNAME": "simulator",
        "MQTT_PASSWORD": passwords["simulator"],
    }
    return [
        Program(
            "mosquitto",
            f"{mosquitto_binary()} -c {config.mosquitto_dir / 'mosquitto.conf'}",
        ),
        Program(
            "localcloud",
            f"{venv / 'localcloud'} start --host {config.bind} "
            f"--port {config.edge_port} --state-dir {config.localcloud_dir} "
            f"--region {config.region} --mqtt-host {config.bind} "
            f"--mqtt-port {config.mqtt_port} --mqtt-username rules-engine",
            environment={
                "LOCALCLOUD_MQTT_PASSWORD": passwords["rules-engine"],
                # Per-runtime interpreters, if a function asks for another
                # Python, are kept in the state folder like everything else.
                "LOCALCLOUD_CACHE_DIR": str(config.state_dir / "cache"),
            },
            stopwaitsecs=30,
        ),
        Program(
            "simulator",
            f"{venv / 'python'} -m simulator --machines {config.machines}",
            autostart=False,
            environment=mqtt_env,
        ),
    ]


def localcloud_health(config: StackConfig, timeout: float = 2) -> dict[str, Any] | None:
    url = f"{config.endpoint_url}/_localstack/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            body: dict[str, Any] = json.loads(response.read())
            return body
    except (OSError, urllib.error.URLError, ValueError):
        return None


def log_tail(path: Path, lines: int = 25) -> str:
    if not path.exists():
        return "(no log yet)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def wait_for_program(
    supervisor: Supervisor,
    config: StackConfig,
    name: str,
    ready: Callable[[], bool],
    timeout: float = 60,
) -> None:
    """Wait until `ready()`; fail at once, with its log, if the program died."""
    deadline = time.monotonic() + timeout
    while not ready():
        state = supervisor.state_of(name)
        log = config.logs_dir / f"{name}.log"
        if state in ("FATAL", "EXITED", "BACKOFF"):
            raise DeployError(
                f"{name} failed to start ({state}); the end of {log}:\n{log_tail(log)}"
            )
        if time.monotonic() > deadline:
            raise DeployError(
                f"{name} is not ready after {timeout:.0f} s; the end of {log}:\n"
                f"{log_tail(log)}"
            )
        time.sleep(0.2)


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False

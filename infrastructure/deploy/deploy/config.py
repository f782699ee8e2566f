"""Settings of a deployed stack: ports, folders, target and sizes.

Each has a default, an environment variable (which `make VAR=value` sets too)
and a command-line flag; the folder layout of the state directory is defined
here once so every command agrees on it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from deploy.errors import DeployError

REPO_DIR = Path(__file__).resolve().parents[3]


def _env(name: str, default: str | Path) -> str:
    """An environment setting; set but empty counts as unset, like `${VAR:-default}`."""
    return os.environ.get(name) or str(default)


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as error:
        raise DeployError(
            f"{name}={raw!r} is not a number: give a port or count"
        ) from error


@dataclass
class StackConfig:
    """Everything a command needs to know about one deployed stack."""

    state_dir: Path = field(
        default_factory=lambda: Path(
            _env("ORCHESTRALINK_STATE", REPO_DIR / ".state")
        ).resolve()
    )
    target: str = field(default_factory=lambda: _env("TARGET", "local"))
    bind: str = field(default_factory=lambda: _env("BIND", "127.0.0.1"))
    edge_port: int = field(default_factory=lambda: _env_int("EDGE_PORT", 4566))
    mqtt_port: int = field(default_factory=lambda: _env_int("MQTT_PORT", 1883))
    mqtt_ws_port: int = field(default_factory=lambda: _env_int("MQTT_WS_PORT", 9001))
    machines: int = field(default_factory=lambda: _env_int("MACHINES", 10))
    stack_name: str = field(default_factory=lambda: _env("STACK_NAME", "orchestralink"))
    region: str = field(default_factory=lambda: _env("AWS_DEFAULT_REGION", "us-east-1"))
    # DASHBOARD=0 deploys the backend alone (no Node needed, quicker).
    dashboard: bool = field(
        default_factory=lambda: _env("DASHBOARD", "1") not in ("0", "no")
    )
    repo_dir: Path = REPO_DIR
    template_path: Path = field(
        default_factory=lambda: Path(
            _env("ORCHESTRALINK_TEMPLATE", REPO_DIR / "template.yaml")
        )
    )

    def __post_init__(self) -> None:
        if self.target not in ("local", "localstack", "aws"):
            raise DeployError(
                f"TARGET={self.target!r} is unknown: use local (default), "
                "localstack or aws"
            )
        ports = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name.endswith("_port")
        }
        for name, port in ports.items():
            if not 0 < port < 65536:
                raise DeployError(f"{name.upper()}={port} is not a TCP port (1-65535)")
        if len(set(ports.values())) != len(ports):
            raise DeployError(f"two services were given the same port: {ports}")

    # The state folder's layout, in one place.
    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def build_dir(self) -> Path:
        return self.state_dir / "build"

    @property
    def mosquitto_dir(self) -> Path:
        return self.state_dir / "mosquitto"

    @property
    def localcloud_dir(self) -> Path:
        return self.state_dir / "localcloud"

    @property
    def credentials_path(self) -> Path:
        return self.state_dir / "credentials.json"

    @property
    def supervisor_config(self) -> Path:
        return self.state_dir / "supervisord.conf"

    @property
    def supervisor_socket(self) -> Path:
        return self.state_dir / "supervisor.sock"

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.bind}:{self.edge_port}"

    @property
    def venv_bin(self) -> Path:
        return Path(_env("VENV", self.repo_dir / ".venv")) / "bin"

"""The local cloud's settings, from defaults, `LOCALCLOUD_*` variables and flags.

Precedence: a command-line flag beats an environment variable, which beats the
default. Every feature reads its settings from the one `CloudConfig` the cloud
was built with, so a test can start a cloud with custom settings by passing
keyword arguments (see `CloudConfig.from_env(**overrides)`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcloud.errors import LocalCloudError

# moto's default account, so ARNs built here agree with the ones moto returns.
DEFAULT_ACCOUNT_ID = "123456789012"
ENV_PREFIX = "LOCALCLOUD_"


class ConfigError(LocalCloudError):
    """A setting has a value the local cloud cannot use."""


@dataclass(frozen=True)
class CloudConfig:
    host: str = "127.0.0.1"
    port: int = 4566
    state_dir: Path = field(default_factory=lambda: Path(".state/localcloud"))
    region: str = "us-east-1"
    account_id: str = DEFAULT_ACCOUNT_ID
    # The MQTT broker the IoT rules engine subscribes to and publishes through.
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    mqtt_username: str | None = None
    mqtt_password: str | None = None
    # Lambda: the overall cap on concurrent executions (AWS's account limit is
    # 1,000; a laptop's is lower), and how long an idle worker stays warm.
    max_concurrency: int = 50
    idle_worker_timeout: float = 300.0
    # Where per-runtime venvs (python3.12, ...) are built once and reused by
    # every state folder.
    cache_dir: Path = field(
        default_factory=lambda: (
            Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
            / "localcloud"
        )
    )
    # Asynchronous invocations: AWS waits about 1 and 2 minutes between the
    # attempts; locally the first retry waits this long, the second twice as long.
    async_retry_delay: float = 1.0
    # CloudWatch Logs events kept in memory per log stream (0: all).
    log_events_per_stream: int = 50_000
    # Extra host name under which the edge is reachable, used in URLs it reports.
    hostname_external: str = "localhost"
    log_level: str = "INFO"
    # Comma-separated feature names not to install, e.g. "iot,rds".
    disabled_features: str = ""

    @property
    def endpoint_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: Any
    ) -> CloudConfig:
        """Defaults, overridden by `LOCALCLOUD_<FIELD>` variables, then `overrides`.

        `overrides` whose value is None are ignored, so CLI flags that were not
        given can be passed straight through.
        """
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for item in dataclasses.fields(cls):
            raw = environ.get(ENV_PREFIX + item.name.upper())
            if raw is not None and raw != "":
                values[item.name] = _convert(item.name, item.type, raw)
        for name, value in overrides.items():
            if name not in {item.name for item in dataclasses.fields(cls)}:
                raise ConfigError(
                    f"unknown local cloud setting {name!r}; "
                    f"known settings: {', '.join(sorted(_field_names()))}"
                )
            if value is not None:
                values[name] = value
        for name in ("state_dir", "cache_dir"):
            if name in values:
                values[name] = Path(values[name])
        config = cls(**values)
        config.validate()
        return config

    def validate(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(
                f"port {self.port} is outside 0-65535; set --port or LOCALCLOUD_PORT"
            )
        if self.max_concurrency < 1:
            raise ConfigError(
                f"max_concurrency {self.max_concurrency} must be at least 1; "
                "set LOCALCLOUD_MAX_CONCURRENCY"
            )
        if len(self.account_id) != 12 or not self.account_id.isdigit():
            raise ConfigError(
                f"account id {self.account_id!r} must be 12 digits; "
                "set LOCALCLOUD_ACCOUNT_ID"
            )

    def replace(self, **changes: Any) -> CloudConfig:
        return dataclasses.replace(self, **changes)


def _field_names() -> set[str]:
    return {item.name for item in dataclasses.fields(CloudConfig)}


def _convert(name: str, kind: Any, raw: str) -> Any:
    text = str(kind)
    try:
        if text.startswith("int"):
            return int(raw)
        if text.startswith("float"):
            return float(raw)
    except ValueError as error:
        raise ConfigError(
            f"{ENV_PREFIX}{name.upper()}={raw!r} is not a number"
        ) from error
    if text.startswith("Path"):
        return Path(raw)
    return raw

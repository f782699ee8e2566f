"""Settings from flags and environment: a flag wins, then SIM_*/MQTT_*, then defaults.

Every option has an environment variable so the container variant is configured
without a command line; `--help` lists each option with its variable and default.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from simulator.errors import ConfigurationError
from simulator.incidents import parse_duration
from simulator.publisher import BrokerSettings

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class Settings:
    """Everything a run needs, already checked."""

    broker: BrokerSettings
    machines: int
    types: tuple[str, ...] | None
    catalog: Path | None
    rate: float
    duration: float | None
    seed: int | None
    incident_rate: float
    incident_duration: float
    incident_schedule: str
    batch: bool
    load: int
    max_inflight: int
    max_buffered: int
    connect_timeout: float | None
    reconnect_min: float
    reconnect_max: float
    drain_timeout: float
    summary_file: Path | None
    heartbeat_file: Path | None
    log_level: str
    progress_interval: float


@dataclass(frozen=True)
class _Option:
    flags: tuple[str, ...]
    dest: str
    env: str
    default: Any
    convert: Callable[[str], Any]
    help: str
    metavar: str | None = None
    switch: bool = False


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError("must be 1 or more")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError("must be 0 or more")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 65535:
        raise ValueError("must be between 1 and 65535")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise ValueError("must be a positive number")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0 or value == float("inf"):
        raise ValueError("must be zero or a positive number")
    return value


def _seconds(text: str) -> float:
    return parse_duration(text)


def _boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError("must be one of 1/0, true/false, yes/no, on/off")


def _types(text: str) -> tuple[str, ...] | None:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    return names or None


def _optional_text(text: str) -> str | None:
    return text or None


def _log_level(text: str) -> str:
    level = text.strip().upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
    return level


OPTIONS: tuple[_Option, ...] = (
    # broker
    _Option(("--host",), "host", "MQTT_HOST", "127.0.0.1", str, "broker host name"),
    _Option(("--port",), "port", "MQTT_PORT", 1883, _port, "broker port"),
    _Option(
        ("--username",),
        "username",
        "MQTT_USERNAME",
        None,
        _optional_text,
        "user name for the broker (anonymous when unset)",
    ),
    _Option(
        ("--password",),
        "password",
        "MQTT_PASSWORD",
        None,
        _optional_text,
        "password for the broker; visible in `ps`, prefer the variable or "
        "--password-file",
    ),
    _Option(
        ("--password-file",),
        "password_file",
        "MQTT_PASSWORD_FILE",
        None,
        _optional_text,
        "read the password from this file (first line)",
        "PATH",
    ),
    _Option(
        ("--tls",),
        "tls",
        "MQTT_TLS",
        False,
        _boolean,
        "connect with TLS (off by default)",
        switch=True,
    ),
    _Option(
        ("--tls-ca-file",),
        "tls_ca_file",
        "MQTT_TLS_CA_FILE",
        None,
        _optional_text,
        "CA bundle (PEM) to verify the broker with TLS; the system's when unset",
        "PATH",
    ),
    _Option(
        ("--client-id",),
        "client_id",
        "MQTT_CLIENT_ID",
        "",
        str,
        "MQTT client id (default: orchestralink-simulator-<pid>-<random>)",
    ),
    _Option(
        ("--keepalive",),
        "keepalive",
        "MQTT_KEEPALIVE",
        30,
        _positive_int,
        "seconds between MQTT keep-alive pings",
    ),
    # fleet
    _Option(
        ("-n", "--machines"),
        "machines",
        "SIM_MACHINES",
        3,
        _positive_int,
        "number of machines; types alternate (drill-001, mill-002, lathe-003, "
        "drill-004, ...)",
    ),
    _Option(
        ("--types",),
        "types",
        "SIM_TYPES",
        None,
        _types,
        "comma-separated machine types to use, in order (default: every type "
        "in the catalog)",
        "NAMES",
    ),
    _Option(
        ("--catalog",),
        "catalog",
        "ORCHESTRALINK_CATALOG",
        None,
        _optional_text,
        "machine catalog TOML file (default: the packaged catalog.toml)",
        "PATH",
    ),
    _Option(
        ("-r", "--rate"),
        "rate",
        "SIM_RATE",
        1.0,
        _positive_float,
        "ticks per machine per second; each tick reads every parameter of the "
        "machine (in load mode it only sets the simulated time step)",
    ),
    _Option(
        ("-d", "--duration"),
        "duration",
        "SIM_DURATION",
        None,
        _seconds,
        "stop after this much time (30, 30s, 5m, 1h); 0 or unset runs until "
        "SIGINT/SIGTERM",
        "TIME",
    ),
    _Option(
        ("--seed",),
        "seed",
        "SIM_SEED",
        None,
        int,
        "random seed; the same seed, fleet and rate give the same values "
        "(default: random, logged so a run can be repeated)",
    ),
    # incidents
    _Option(
        ("--incident-rate",),
        "incident_rate",
        "SIM_INCIDENT_RATE",
        6.0,
        _non_negative_float,
        "random incidents per machine per hour of simulated time (0 disables)",
        "PER_HOUR",
    ),
    _Option(
        ("--incident-duration",),
        "incident_duration",
        "SIM_INCIDENT_DURATION",
        20.0,
        _seconds,
        "mean duration of random incidents, and the duration of scheduled ones "
        "that give none",
        "TIME",
    ),
    _Option(
        ("--incident-schedule",),
        "incident_schedule",
        "SIM_INCIDENT_SCHEDULE",
        "",
        str,
        "incidents at fixed times, comma-separated "
        "MACHINE:PARAMETER:SEVERITY@START[+DURATION], for example "
        "'drill-001:Temperature:critical@30s+20s,lathe-003:OilPressure:"
        "warning-low@1m'; SEVERITY is warning or critical, optionally -high or "
        "-low",
        "SPEC",
    ),
    # modes
    _Option(
        ("--batch",),
        "batch",
        "SIM_BATCH",
        False,
        _boolean,
        "one message per machine and tick with all its readings, on "
        "machine/{machine_id}/telemetry",
        switch=True,
    ),
    _Option(
        ("--load",),
        "load",
        "SIM_LOAD",
        0,
        _non_negative_int,
        "load mode: publish exactly COUNT messages as fast as the broker "
        "acknowledges them, then print what was sent (0: real-time mode)",
        "COUNT",
    ),
    # delivery
    _Option(
        ("--max-inflight",),
        "max_inflight",
        "SIM_MAX_INFLIGHT",
        100,
        _positive_int,
        "QoS 1 messages sent but not yet acknowledged (paho)",
    ),
    _Option(
        ("--max-buffered",),
        "max_buffered",
        "SIM_MAX_BUFFERED",
        10_000,
        _positive_int,
        "messages waiting for acknowledgement, in flight or queued during an "
        "outage; past it the real-time mode drops new readings and the load "
        "mode waits",
    ),
    _Option(
        ("--connect-timeout",),
        "connect_timeout",
        "SIM_CONNECT_TIMEOUT",
        30.0,
        _seconds,
        "give up if the first connection takes longer (0: never)",
        "TIME",
    ),
    _Option(
        ("--reconnect-min",),
        "reconnect_min",
        "SIM_RECONNECT_MIN",
        0.5,
        _positive_float,
        "first reconnect delay in seconds; doubles per attempt",
    ),
    _Option(
        ("--reconnect-max",),
        "reconnect_max",
        "SIM_RECONNECT_MAX",
        30.0,
        _positive_float,
        "longest reconnect delay in seconds",
    ),
    _Option(
        ("--drain-timeout",),
        "drain_timeout",
        "SIM_DRAIN_TIMEOUT",
        10.0,
        _seconds,
        "on shutdown, wait this long for outstanding acknowledgements",
        "TIME",
    ),
    # output
    _Option(
        ("--heartbeat-file",),
        "heartbeat_file",
        "SIM_HEARTBEAT_FILE",
        None,
        _optional_text,
        "touch this file about once a second while connected and publishing "
        "(the container's HEALTHCHECK reads its age)",
        "PATH",
    ),
    _Option(
        ("--summary-file",),
        "summary_file",
        "SIM_SUMMARY_FILE",
        None,
        _optional_text,
        "write the JSON summary here instead of stdout",
        "PATH",
    ),
    _Option(
        ("--log-level",),
        "log_level",
        "SIM_LOG_LEVEL",
        "INFO",
        _log_level,
        "DEBUG, INFO, WARNING or ERROR (logs go to stderr)",
    ),
    _Option(
        ("--progress-interval",),
        "progress_interval",
        "SIM_PROGRESS_INTERVAL",
        10.0,
        _seconds,
        "seconds between progress log lines (0: none)",
        "TIME",
    ),
)

_DESCRIPTION = """\
Simulate a fleet of machines (drills, mills, lathes) publishing telemetry over MQTT
(QoS 1). Each reading goes to machine/{machine_id}/{parameter} as JSON; with --batch
one message per machine and tick goes to machine/{machine_id}/telemetry. Values
wander inside their normal range; incidents (random, or scheduled) push them past
the catalog's warning and critical thresholds, then they recover.

Every option can also be set through the environment variable shown with it; a flag
wins over the variable. Logs go to stderr, the JSON summary of what was sent to
stdout (or --summary-file). Exit status: 0 when every message sent was
acknowledged, 1 when some were not or the broker could not be reached, 2 for bad
options.
"""

_EPILOG = """\
examples:
  orchestralink-simulator --machines 6 --rate 2
  orchestralink-simulator --duration 2m \\
      --incident-schedule drill-001:Temperature:critical@30s
  orchestralink-simulator --load 100000 --machines 10 --seed 7 --summary-file sent.json
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orchestralink-simulator",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for option in OPTIONS:
        shown = "off" if option.switch else option.default
        shown = "unset" if shown is None or shown == "" else shown
        help_text = f"{option.help} [env {option.env}, default {shown}]"
        if option.switch:
            parser.add_argument(
                *option.flags,
                dest=option.dest,
                action="store_const",
                const=True,
                default=None,
                help=help_text,
            )
        else:
            parser.add_argument(
                *option.flags,
                dest=option.dest,
                default=None,
                help=help_text,
                metavar=option.metavar or option.dest.upper(),
            )
    return parser


def parse_settings(
    argv: list[str] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Parse flags and environment; ConfigurationError names what to fix."""
    environ = os.environ if environ is None else environ
    namespace = build_parser().parse_args(argv)
    values: dict[str, Any] = {}
    for option in OPTIONS:
        values[option.dest] = _resolve(option, getattr(namespace, option.dest), environ)

    password = values["password"]
    if values["password_file"]:
        password = _read_password(Path(values["password_file"]))
    if values["reconnect_min"] > values["reconnect_max"]:
        raise ConfigurationError(
            f"--reconnect-min ({values['reconnect_min']}) is above --reconnect-max "
            f"({values['reconnect_max']}); make the minimum the smaller one"
        )

    broker = BrokerSettings(
        host=values["host"],
        port=values["port"],
        username=values["username"],
        password=password,
        tls=values["tls"],
        tls_ca_file=values["tls_ca_file"],
        client_id=values["client_id"],
        keepalive=values["keepalive"],
    )
    return Settings(
        broker=broker,
        machines=values["machines"],
        types=values["types"],
        catalog=Path(values["catalog"]) if values["catalog"] else None,
        rate=values["rate"],
        duration=values["duration"] or None,
        seed=values["seed"],
        incident_rate=values["incident_rate"],
        incident_duration=values["incident_duration"] or 20.0,
        incident_schedule=values["incident_schedule"],
        batch=values["batch"],
        load=values["load"],
        max_inflight=values["max_inflight"],
        max_buffered=values["max_buffered"],
        connect_timeout=values["connect_timeout"] or None,
        reconnect_min=values["reconnect_min"],
        reconnect_max=values["reconnect_max"],
        drain_timeout=values["drain_timeout"],
        summary_file=Path(values["summary_file"]) if values["summary_file"] else None,
        heartbeat_file=(
            Path(values["heartbeat_file"]) if values["heartbeat_file"] else None
        ),
        log_level=values["log_level"],
        progress_interval=values["progress_interval"],
    )


def _resolve(option: _Option, flag_value: Any, environ: Mapping[str, str]) -> Any:
    if option.switch and flag_value is True:
        return True
    if flag_value is not None:
        return _convert(option, str(flag_value), f"{option.flags[-1]} {flag_value!r}")
    if environ.get(option.env):  # set but empty counts as unset
        text = environ[option.env]
        return _convert(option, text, f"environment variable {option.env}={text!r}")
    return option.default


def _convert(option: _Option, text: str, where: str) -> Any:
    try:
        return option.convert(text)
    except ConfigurationError as error:
        raise ConfigurationError(f"{where}: {error}") from error
    except ValueError as error:
        reason = str(error)
        if "invalid literal" in reason or "could not convert" in reason:
            reason = "not a number"
        raise ConfigurationError(
            f"{where}: {reason}; see `orchestralink-simulator --help` for "
            f"{option.flags[-1]}"
        ) from error


def _read_password(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise ConfigurationError(
            f"cannot read the password file {str(path)!r}: {error.strerror}; fix "
            "--password-file (MQTT_PASSWORD_FILE)"
        ) from error
    return lines[0] if lines else ""

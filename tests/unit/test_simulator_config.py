"""Simulator settings from flags and environment, and what ships in its image."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

from simulator.cli import main
from simulator.config import OPTIONS, build_parser, parse_settings
from simulator.errors import ConfigurationError

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_describe_a_small_real_time_fleet_on_the_local_broker() -> None:
    settings = parse_settings([], environ={})

    assert settings.broker.host == "127.0.0.1"
    assert settings.broker.port == 1883
    assert settings.broker.username is None
    assert settings.broker.tls is False
    assert settings.machines == 3
    assert settings.rate == 1.0
    assert settings.duration is None
    assert settings.seed is None
    assert settings.load == 0
    assert settings.batch is False
    assert settings.max_inflight == 100


def test_environment_variables_configure_every_part() -> None:
    settings = parse_settings(
        [],
        environ={
            "MQTT_HOST": "broker.local",
            "MQTT_PORT": "8883",
            "MQTT_USERNAME": "sim",
            "MQTT_PASSWORD": "s3cret",
            "MQTT_TLS": "true",
            "SIM_MACHINES": "12",
            "SIM_TYPES": "Lathe, Milling",
            "SIM_RATE": "2.5",
            "SIM_DURATION": "5m",
            "SIM_SEED": "99",
            "SIM_BATCH": "yes",
            "SIM_LOAD": "1000",
            "SIM_INCIDENT_SCHEDULE": "lathe-001:Temperature:warning@10s",
        },
    )

    assert settings.broker.host == "broker.local"
    assert settings.broker.port == 8883
    assert settings.broker.username == "sim"
    assert settings.broker.password == "s3cret"
    assert settings.broker.tls is True
    assert settings.machines == 12
    assert settings.types == ("Lathe", "Milling")
    assert settings.rate == 2.5
    assert settings.duration == 300.0
    assert settings.seed == 99
    assert settings.batch is True
    assert settings.load == 1000
    assert settings.incident_schedule == "lathe-001:Temperature:warning@10s"


def test_a_flag_wins_over_its_environment_variable() -> None:
    settings = parse_settings(
        ["--machines", "2", "--port", "1884"],
        environ={"SIM_MACHINES": "9", "MQTT_PORT": "1999"},
    )

    assert settings.machines == 2
    assert settings.broker.port == 1884


def test_the_password_can_come_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("from-file\n")

    settings = parse_settings(["--password-file", str(secret)], environ={})

    assert settings.broker.password == "from-file"


def test_a_missing_password_file_is_named() -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_settings([], environ={"MQTT_PASSWORD_FILE": "/nonexistent/password"})

    assert str(caught.value) == (
        "cannot read the password file '/nonexistent/password': No such file or "
        "directory; fix --password-file (MQTT_PASSWORD_FILE)"
    )


BAD_VALUES = [
    pytest.param(
        [],
        {"SIM_RATE": "fast"},
        "environment variable SIM_RATE='fast': not a number; see "
        "`orchestralink-simulator --help` for --rate",
        id="rate from env not a number",
    ),
    pytest.param(
        ["--machines", "0"],
        {},
        "--machines '0': must be 1 or more",
        id="no machines",
    ),
    pytest.param(
        ["--port", "70000"],
        {},
        "--port '70000': must be between 1 and 65535",
        id="port out of range",
    ),
    pytest.param(
        [],
        {"SIM_BATCH": "maybe"},
        "environment variable SIM_BATCH='maybe': must be one of 1/0, true/false, "
        "yes/no, on/off",
        id="boolean from env",
    ),
    pytest.param(
        ["--duration", "a while"],
        {},
        "--duration 'a while': duration 'a while' is not a duration",
        id="duration",
    ),
    pytest.param(
        ["--reconnect-min", "10", "--reconnect-max", "2"],
        {},
        "--reconnect-min (10.0) is above --reconnect-max (2.0); make the minimum "
        "the smaller one",
        id="reconnect bounds reversed",
    ),
]


@pytest.mark.parametrize(("argv", "environ", "expected"), BAD_VALUES)
def test_a_bad_setting_is_refused_with_where_it_came_from(
    argv: list[str], environ: dict[str, str], expected: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_settings(argv, environ=environ)

    assert expected in str(caught.value)


def test_the_command_exits_2_and_explains_a_bad_setting(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIM_MACHINES", "none")

    status = main([])

    assert status == 2
    assert capsys.readouterr().err == (
        "orchestralink-simulator: error: environment variable SIM_MACHINES='none': "
        "not a number; see `orchestralink-simulator --help` for --machines\n"
    )


def test_help_names_every_option_with_its_variable_and_default() -> None:
    text = build_parser().format_help()
    flat = " ".join(text.split())

    for option in OPTIONS:
        assert option.flags[-1] in text
        assert f"env {option.env}," in flat
    assert "[env SIM_RATE, default 1.0]" in flat
    assert "[env MQTT_TLS, default off]" in flat


def test_the_image_pins_the_same_paho_as_the_project() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = {d.split("==")[0]: d for d in project["project"]["dependencies"]}
    image = (ROOT / "simulator" / "requirements.txt").read_text().split()

    assert image == [pins["paho-mqtt"]]


def test_the_image_copies_every_shared_module_the_simulator_imports() -> None:
    imported: set[str] = set()
    for source in (ROOT / "simulator").glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    shared = {m.split(".")[1] for m in imported if m.startswith("orchestralink.")}

    dockerfile = (ROOT / "simulator" / "Dockerfile").read_text()
    copied = set(re.findall(r"orchestralink/(\w+)\.py", dockerfile))
    allowed = (ROOT / "simulator" / "Dockerfile.dockerignore").read_text()

    assert shared
    assert shared <= copied
    for module in shared:
        assert f"!functions/shared/python/orchestralink/{module}.py" in allowed
    assert "catalog.toml" in dockerfile


def test_an_empty_environment_variable_counts_as_unset() -> None:
    settings = parse_settings([], environ={"SIM_MACHINES": "", "MQTT_PORT": ""})

    assert settings.machines == 3
    assert settings.broker.port == 1883

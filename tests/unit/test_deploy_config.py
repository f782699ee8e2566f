"""The deploy tooling's settings from the environment (`make VAR=value`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.config import REPO_DIR, StackConfig
from deploy.errors import DeployError

pytestmark = pytest.mark.unit

SETTINGS = ("ORCHESTRALINK_STATE", "TARGET", "EDGE_PORT", "MQTT_PORT", "MACHINES")


def test_empty_settings_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SETTINGS:
        monkeypatch.setenv(name, "")

    config = StackConfig()

    assert config.state_dir == (REPO_DIR / ".state").resolve()
    assert config.target == "local"
    assert (config.edge_port, config.mqtt_port, config.machines) == (4566, 1883, 10)


def test_settings_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ORCHESTRALINK_STATE", str(tmp_path))
    monkeypatch.setenv("EDGE_PORT", "4999")
    monkeypatch.setenv("MACHINES", "25")

    config = StackConfig()

    assert (config.state_dir, config.edge_port, config.machines) == (tmp_path, 4999, 25)


def test_an_unknown_target_says_which_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TARGET", "gcp")

    with pytest.raises(DeployError, match="use local \\(default\\), localstack or aws"):
        StackConfig()
